// Package redteam holds attacks on elevate's invariants (DESIGN.md,
// "Invariants") that SECURITY.md did not list when they were written. Each
// test plays one attack; a test that fails shows a hole and says which
// invariant it breaks.
//
// The package has no code of its own, only tests.
package redteam
