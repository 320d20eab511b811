// Package security holds elevate's threat model as tests: every attack that
// SECURITY.md lists is played end to end here, against a real git remote, a
// GitHub test server and Identity Center in moto, through the same entry
// point the workflows run. Each attack must end with nothing granted and a
// clear reason (a finding from the PR check, or a denied or ended record
// from reconcile), and must not stop a valid request in the same run.
//
// The package has no code of its own, only tests.
package security
