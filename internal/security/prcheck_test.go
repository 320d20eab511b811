package security

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/cli"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

// TestPRCheckHostile runs the PR check (`elevate validate --base`, what the
// pull_request workflow runs) on a PR that does everything a request PR may
// not, with hostile file names. Every problem is a finding on its file, the
// exit status says so, and no line of the output is a workflow command: the
// runner reads this output, and a PR's author chose every name in it.
// internal/validate's TestPR and TestHostileFiles cover each rule alone;
// internal/action's tests cover annotations, outputs and the PR comment.
func TestPRCheckHostile(t *testing.T) {
	t.Parallel()
	r := gittest.New(t)
	r.CopyDir(filepath.Join("..", "..", "policies"), "policies")
	r.Write("requests/alice-merged.yaml", sandboxReq("alice", "ReadOnlyAccess"))
	r.Write("archive/alice-closed.yaml", sandboxReq("alice", "ReadOnlyAccess"))
	r.Write("archive/alice-closed.status.yaml", "state: expired\n")
	r.Commit("main")
	r.Git("checkout", "-q", "-b", "pr")
	for path, content := range map[string]string{
		"requests/alice-new.yaml":                         sandboxReq("alice", "AdministratorAccess"),
		"requests/bob-new.yaml":                           sandboxReq("bob", "AdministratorAccess"),
		"requests/alice-merged.yaml":                      req("alice", "sandbox", "ReadOnlyAccess", "1d"),
		"requests/alice-closed.yaml":                      sandboxReq("alice", "ReadOnlyAccess"),
		"requests/::error::pwned.yaml":                    sandboxReq("alice", "ReadOnlyAccess"),
		"requests/##[set-output name=granted;]true.yaml":  sandboxReq("alice", "ReadOnlyAccess"),
		"requests/x\n::add-mask::secret.yaml":             sandboxReq("alice", "ReadOnlyAccess"),
		"requests/alice-field.yaml":                       strings.Replace(sandboxReq("alice", "ReadOnlyAccess"), "ReadOnlyAccess", `"##[add-mask]x"`, 1),
		"::stop-commands::token":                          "at the root\n",
		"status/alice-merged.yaml":                        "state: active\n",
		"policies/sandbox.yaml":                           "version: 1\n",
		".github/workflows/x.yml":                         "on: push\n",
		"docs/##[error]readme.md":                         "x\n",
		"requests/alice-merged.yaml.bak\n::error::x.yaml": "x\n",
	} {
		r.Write(path, content)
	}
	r.Commit("pr")
	var out bytes.Buffer
	env := cli.Env{Stdout: &out, Stderr: &out, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" },
		Dir: r.Dir, Now: func() time.Time { return now }}
	code := cli.Run(context.Background(), env, []string{"validate", "--base", "main", "--author", "alice"})
	if code != cli.ExitFindings {
		t.Fatalf("exit %d, want %d:\n%s", code, cli.ExitFindings, out.String())
	}
	for _, want := range []string{
		"requests/bob-new.yaml:2:12: requester is \"bob\" but the pull request is by \"alice\"",
		"requests/alice-merged.yaml:1:1: this PR edits requests/alice-merged.yaml, a request that was already merged",
		"[request-id-reused]",
		"status/alice-merged.yaml:1:1: status/alice-merged.yaml is written only by elevate",
		"[request-pr-mixed]",
		`\u003a:stop-commands::token:1:1:`,
		`requests/##\u005bset-output name=granted;]true.yaml`,
		`requests/x\n::add-mask::secret.yaml`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	assertNoWorkflowCommands(t, "validate output", out.String())
}
