package cli_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersion builds the real binary: -ldflags sets the version and commit;
// without them the commit comes from the VCS stamp of go build.
func TestVersion(t *testing.T) {
	t.Parallel()
	if code, out, _ := runPlain("--version"); code != 0 || !strings.HasPrefix(out, "elevate ") || !strings.Contains(out, "(commit ") {
		t.Errorf("--version: exit %d: %q", code, out)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	build := func(t *testing.T, flags ...string) string {
		t.Helper()
		bin := filepath.Join(t.TempDir(), "elevate")
		args := append([]string{"build", "-o", bin}, flags...)
		cmd := exec.Command("go", append(args, "./cmd/elevate")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("elevate --version: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	t.Run("ldflags", func(t *testing.T) {
		t.Parallel()
		got := build(t, "-ldflags", "-X github.com/elevate-dev/elevate/internal/cli.Version=v1.2.3 -X github.com/elevate-dev/elevate/internal/cli.Commit=0123abc")
		if got != "elevate v1.2.3 (commit 0123abc)" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("vcs stamp", func(t *testing.T) {
		t.Parallel()
		head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Skipf("not a git checkout: %v", err)
		}
		// GOFLAGS may say -buildvcs=false (this project's CI image does).
		got := build(t, "-buildvcs=true")
		// The version is then Go's pseudo-version of the checkout.
		if want := "(commit " + strings.TrimSpace(string(head)); !strings.HasPrefix(got, "elevate v") || !strings.Contains(got, want) {
			t.Errorf("got %q, want a version and %q", got, want)
		}
	})
}
