package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elevate-dev/elevate/internal/cli"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
)

// doctorGitHub is a GitHub test server for the read calls `elevate doctor`
// makes, answering as a fully set-up repository does unless changed.
type doctorGitHub struct {
	mu           sync.Mutex
	answers      map[string]any // path -> JSON body; nil body answers 404
	nonGET       int
	unauthorized int
}

func newDoctorGitHub(t *testing.T) (*doctorGitHub, *httptest.Server) {
	t.Helper()
	g := &doctorGitHub{answers: map[string]any{
		"/repos/acme/access": map[string]any{"id": 1, "full_name": "acme/access", "default_branch": "main"},
		"/repos/acme/access/rules/branches/main": []any{
			map[string]any{"type": "pull_request", "ruleset_id": 1, "parameters": map[string]any{
				"require_code_owner_review": true, "dismiss_stale_reviews_on_push": true, "require_last_push_approval": true,
				"required_approving_review_count": 1, "required_review_thread_resolution": false}},
			map[string]any{"type": "non_fast_forward", "ruleset_id": 1},
			map[string]any{"type": "deletion", "ruleset_id": 1},
			map[string]any{"type": "required_status_checks", "ruleset_id": 1, "parameters": map[string]any{
				"required_status_checks": []any{map[string]any{"context": "validate"}}, "strict_required_status_checks_policy": false}},
		},
		"/repos/acme/access/environments/elevate": map[string]any{"id": 5, "name": "elevate",
			"deployment_branch_policy": map[string]any{"protected_branches": false, "custom_branch_policies": true}},
		"/repos/acme/access/environments/elevate/deployment-branch-policies": map[string]any{"total_count": 1,
			"branch_policies": []any{map[string]any{"id": 9, "name": "main", "type": "branch"}}},
		"/repos/acme/access/actions/workflows": map[string]any{"total_count": 4, "workflows": []any{
			map[string]any{"id": 1, "path": ".github/workflows/validate.yml", "state": "active"},
			map[string]any{"id": 2, "path": ".github/workflows/grant.yml", "state": "active"},
			map[string]any{"id": 3, "path": ".github/workflows/revoke.yml", "state": "active"},
			map[string]any{"id": 4, "path": ".github/workflows/ci.yml", "state": "active"},
		}},
		"/repos/acme/access/actions/permissions/workflow": map[string]any{"default_workflow_permissions": "read", "can_approve_pull_request_reviews": false},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if r.Method != http.MethodGet {
			g.nonGET++
		}
		if r.Header.Get("Authorization") != "Bearer doctor-token" {
			g.unauthorized++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, ok := g.answers[r.URL.Path]
		if !ok || body == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *doctorGitHub) set(path string, body any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answers[path] = body
}

// doctorCheckout copies the repository's own set-up (the Action, the
// workflows, CODEOWNERS, the policies and requests) into a folder.
func doctorCheckout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join("..", "..")
	for _, sub := range []string{"action", ".github", ".github/workflows", "policies", "requests"} {
		entries, err := os.ReadDir(filepath.Join(root, sub))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(root, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, sub, e.Name()), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func runDoctor(t *testing.T, dir string, vars map[string]string, awsCfg *aws.Config, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""), Dir: dir,
		Getenv: func(k string) string { return vars[k] }, Now: func() time.Time { return time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC) }}
	if awsCfg != nil {
		cfg := *awsCfg
		env.AWSConfig = func(context.Context) (aws.Config, error) { return cfg, nil }
	}
	code := cli.Run(context.Background(), env, append([]string{"doctor"}, args...))
	return code, stdout.String() + stderr.String()
}

// TestDoctorComplete: the repository's own set-up, a repository set up as
// SETUP.md says and an Identity Center pass, with only read calls.
func TestDoctorComplete(t *testing.T) {
	t.Parallel()
	g, srv := newDoctorGitHub(t)
	cfg := moto.Shared().Config(t)
	code, out := runDoctor(t, doctorCheckout(t),
		map[string]string{"GITHUB_TOKEN": "doctor-token", "GITHUB_REPOSITORY": "acme/access", "GITHUB_API_URL": srv.URL}, &cfg)
	if code != cli.ExitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"ok    policies, identities and 3 requests parse and pass validate",
		"ok    action/action.yml, the workflows",
		"ok    GitHub: acme/access is reachable with the token",
		"ok    GitHub: main requires a PR with 1 approval, code owner review, approval of the last push, stale approvals dismissed",
		"ok    GitHub: main blocks force pushes and deletion and requires the validate check",
		"ok    GitHub: only main can use environment elevate",
		"ok    GitHub: the validate, grant and revoke workflows are active",
		"ok    GitHub: workflows cannot approve pull requests",
		"ok    AWS: credentials of arn:aws:",
		"ok    AWS: Identity Center instance arn:aws:sso:::instance/",
		"ok    AWS: the role can read permission sets",
		"the set-up is complete",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if g.nonGET != 0 || g.unauthorized != 0 {
		t.Errorf("%d non-GET and %d unauthorized calls to GitHub", g.nonGET, g.unauthorized)
	}
}

// TestDoctorMissing: every gap is reported with what to do, and the exit
// status is 1.
func TestDoctorMissing(t *testing.T) {
	t.Parallel()
	g, srv := newDoctorGitHub(t)
	g.set("/repos/acme/access/rules/branches/main", []any{
		map[string]any{"type": "pull_request", "ruleset_id": 1, "parameters": map[string]any{
			"require_code_owner_review": false, "dismiss_stale_reviews_on_push": true, "require_last_push_approval": false,
			"required_approving_review_count": 1, "required_review_thread_resolution": false}},
	})
	g.set("/repos/acme/access/environments/elevate", map[string]any{"id": 5, "name": "elevate"})
	g.set("/repos/acme/access/actions/workflows", map[string]any{"total_count": 2, "workflows": []any{
		map[string]any{"id": 1, "path": ".github/workflows/validate.yml", "state": "active"},
		map[string]any{"id": 3, "path": ".github/workflows/revoke.yml", "state": "disabled_inactivity"},
	}})
	g.set("/repos/acme/access/actions/permissions/workflow", nil)
	dir := doctorCheckout(t)
	if err := os.Remove(filepath.Join(dir, ".github", "workflows", "grant.yml")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".github", "CODEOWNERS"), []byte("/requests/ @acme/security\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runDoctor(t, dir, map[string]string{"GITHUB_TOKEN": "doctor-token", "GITHUB_REPOSITORY": "acme/access", "GITHUB_API_URL": srv.URL}, nil, "--aws", "off")
	if code != cli.ExitFindings {
		t.Fatalf("exit %d, want %d:\n%s", code, cli.ExitFindings, out)
	}
	for _, want := range []string{
		"FAIL  .github/workflows/grant.yml:0:0: .github/workflows/grant.yml is missing: grants on merge; copy it from the elevate template [setup-missing]",
		"FAIL  .github/CODEOWNERS:0:0: .github/CODEOWNERS has no code owner (no rule matches it)",
		"FAIL  .github/CODEOWNERS:0:0: policies/",
		"FAIL  GitHub: main merges without a code owner's review; edit the ruleset on main (SETUP.md, step 7): turn on \"Require review from Code Owners\"",
		"FAIL  GitHub: main merges without approval of the most recent push",
		"FAIL  GitHub: main can be force-pushed",
		"FAIL  GitHub: main can be deleted",
		"FAIL  GitHub: main merges without the validate check passing",
		"FAIL  GitHub: any branch can use environment elevate, and so read the App's key",
		"FAIL  GitHub: .github/workflows/grant.yml is not on the default branch",
		"FAIL  GitHub: .github/workflows/revoke.yml is disabled_inactivity",
		"skip  GitHub: whether workflows may approve pull requests",
		"skip  AWS (--aws off)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "problems: see SETUP.md") {
		t.Errorf("no closing count:\n%s", out)
	}
}

// TestDoctorOffline: without a token or AWS configuration the remote
// checks are skipped, not failed; --github on makes a missing token a
// problem.
func TestDoctorOffline(t *testing.T) {
	t.Parallel()
	dir := doctorCheckout(t)
	code, out := runDoctor(t, dir, nil, nil)
	if code != cli.ExitOK || !strings.Contains(out, "skip  GitHub: set GITHUB_TOKEN") || !strings.Contains(out, "skip  AWS: set AWS_REGION") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	code, out = runDoctor(t, dir, nil, nil, "--github", "on")
	if code != cli.ExitFindings || !strings.Contains(out, "FAIL  GitHub: GitHub is not configured") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if code, _ := runDoctor(t, dir, nil, nil, "--aws", "maybe"); code != cli.ExitUsage {
		t.Errorf("--aws maybe: exit %d, want %d", code, cli.ExitUsage)
	}
}
