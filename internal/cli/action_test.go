package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elevate-dev/elevate/internal/cli"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// actionEvent writes a vendored event payload, with fields replaced, to a
// temporary file for GITHUB_EVENT_PATH.
func actionEvent(t *testing.T, name string, set map[string]any) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "action", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		ev[k] = v
	}
	out, _ := json.Marshal(ev)
	path := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runAction runs `elevate action` in checkout as action/action.yml does on a
// runner of w, with the variables a runner sets plus vars.
func runAction(t *testing.T, w *world.World, checkout *gittest.Repo, now time.Time, vars map[string]string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": githubfake.DefaultOwner + "/" + githubfake.DefaultRepo,
		"GITHUB_API_URL": w.GitHub.URL() + "/api/v3", "GITHUB_WORKSPACE": checkout.Dir, "GITHUB_RUN_ID": "1",
		"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"INPUT_TOKEN": world.Token, "INPUT_COMMENT": "true", "INPUT_BRANCH": "main", "INPUT_ARGS": "",
	}
	for _, kv := range gittest.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range vars {
		env[k] = v
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), cli.Env{
		Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""),
		Getenv: func(k string) string { return env[k] }, Dir: checkout.Dir, Now: func() time.Time { return now },
		AWSConfig: func(context.Context) (aws.Config, error) { return w.AWS, nil },
	}, []string{"action"})
	summary, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	return code, stdout.String() + stderr.String(), string(summary)
}

// TestActionGrantOnPush: the grant workflow's step, `elevate action` with
// command reconcile on main's push event, grants the approved request
// through the same reconcile the CLI runs.
func TestActionGrantOnPush(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	m := w.Merge(world.PR{Author: "alice", Approvers: []string{"carol"},
		Files: map[string]string{"requests/alice-sandbox.yaml": sandboxRequest("alice", "2h")}})
	checkout := gittest.Clone(t, w.Remote)
	now := githubfake.Epoch.Add(10 * time.Minute) // the test server merged the PR at its epoch
	code, out, summary := runAction(t, w, checkout, now, map[string]string{
		"INPUT_COMMAND": "reconcile", "GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": m.MergeCommit,
		"GITHUB_EVENT_PATH": actionEvent(t, "push.json", map[string]any{"before": w.Base, "after": m.MergeCommit, "ref": "refs/heads/main"}),
	})
	if code != cli.ExitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if got := w.Assignments(sandboxAccount, "AdministratorAccess"); len(got) != 1 {
		t.Errorf("assignments after the grant step: %v\n%s", got, out)
	}
	if !strings.Contains(out, "::add-mask::"+world.Token) || !strings.Contains(out, "::stop-commands::elevate-") {
		t.Errorf("the token is not masked or the output not fenced:\n%s", out)
	}
	if !strings.Contains(summary, "### elevate reconcile") || !strings.Contains(summary, "alice-sandbox") {
		t.Errorf("summary:\n%s", summary)
	}
}

// TestActionExitStatus: findings fail the step with status 1, bad inputs
// with 2, as the CLI does.
func TestActionExitStatus(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	checkout := gittest.Clone(t, w.Remote)
	checkout.Git("checkout", "-q", "-b", "request")
	checkout.Write("requests/bob-sandbox.yaml", sandboxRequest("bob", "2h"))
	head := checkout.Commit("request")
	w.GitHub.AddPR(githubfake.PR{Number: 41, Author: "alice", HeadSHA: head, BaseSHA: w.Base})
	pr := actionEvent(t, "pull_request.opened.json", map[string]any{"pull_request": map[string]any{
		"number": 41, "user": map[string]any{"login": "alice"}, "base": map[string]any{"sha": w.Base, "ref": "main"}, "head": map[string]any{"sha": head}}})
	vars := map[string]string{"INPUT_COMMAND": "validate", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": pr}
	code, out, _ := runAction(t, w, checkout, time.Now(), vars)
	if code != cli.ExitFindings || !strings.Contains(out, "title=requester-author::") {
		t.Errorf("exit %d, want %d:\n%s", code, cli.ExitFindings, out)
	}
	if cs := w.GitHub.Comments(41); len(cs) != 1 {
		t.Errorf("%d comments, want 1", len(cs))
	}
	vars["INPUT_COMMAND"] = "deploy"
	if code, out, _ := runAction(t, w, checkout, time.Now(), vars); code != cli.ExitUsage || !strings.Contains(out, `::error title=elevate::input command is "deploy"`) {
		t.Errorf("exit %d, want %d:\n%s", code, cli.ExitUsage, out)
	}
}
