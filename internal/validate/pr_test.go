package validate

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

const goodRequest = `# yaml-language-server: $schema=../schema/request.schema.json
requester: alice
account: sandbox
permissionSet: ReadOnlyAccess
duration: 2h
reason: Look at the sandbox billing alarms
`

// baseRepo is main with the sample policies, one merged request and one closed one.
func baseRepo(t *testing.T) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir(filepath.Join("..", "..", "policies"), "policies")
	r.Write("requests/alice-merged.yaml", goodRequest)
	r.Write("status/alice-merged.yaml", "state: active\n")
	r.Write("archive/alice-closed.yaml", goodRequest)
	r.Write("archive/alice-closed.status.yaml", "state: expired\n")
	r.Write(".github/CODEOWNERS", "* @acme/platform\n")
	r.Commit("base")
	r.Git("checkout", "-q", "-b", "pr")
	return r
}

func rules(rep *Report) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, f.File+" "+f.Rule)
	}
	sort.Strings(out)
	return out
}

func TestPR(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		author   string
		change   func(r *gittest.Repo)
		want     []string
		requests int
	}{
		{"valid new request", "alice", func(r *gittest.Repo) {
			r.Write("requests/alice-new.yaml", goodRequest)
		}, nil, 1},
		{"author compares case-insensitively", "ALICE", func(r *gittest.Repo) {
			r.Write("requests/alice-new.yaml", goodRequest)
		}, nil, 1},
		{"requester is not the author", "mallory", func(r *gittest.Repo) {
			r.Write("requests/alice-new.yaml", goodRequest)
		}, []string{"requests/alice-new.yaml requester-author"}, 1},
		{"request with a policy change is judged by the base policy", "alice", func(r *gittest.Repo) {
			p, _ := os.ReadFile(filepath.Join(r.Dir, "policies/sandbox.yaml"))
			r.Write("policies/sandbox.yaml", strings.Replace(string(p), "maxDuration: 1d", "maxDuration: 30d", 1))
			r.Write("requests/alice-new.yaml", strings.Replace(goodRequest, "2h", "10d", 1))
		}, []string{"policies/sandbox.yaml request-pr-mixed", "requests/alice-new.yaml duration-max"}, 1},
		{"request with an identities change", "mallory", func(r *gittest.Repo) {
			p, _ := os.ReadFile(filepath.Join(r.Dir, "policies/identities.yaml"))
			r.Write("policies/identities.yaml", string(p)+"  mallory: mallory@example.com\n")
			r.Write("requests/mallory-new.yaml", strings.Replace(goodRequest, "alice", "mallory", 1))
		}, []string{"policies/identities.yaml request-pr-mixed", "requests/mallory-new.yaml eligible", "requests/mallory-new.yaml requester-identity"}, 1},
		{"request with a CODEOWNERS change", "alice", func(r *gittest.Repo) {
			r.Write(".github/CODEOWNERS", "* @alice\n")
			r.Write("requests/alice-new.yaml", goodRequest)
		}, []string{".github/CODEOWNERS request-pr-mixed"}, 1},
		{"request with a workflow and code change", "alice", func(r *gittest.Repo) {
			r.Write(".github/workflows/grant.yml", "on: push\n")
			r.Write("internal/approval/approval.go", "package approval\n")
			r.Write("requests/alice-new.yaml", goodRequest)
		}, []string{".github/workflows/grant.yml request-pr-mixed", "internal/approval/approval.go request-pr-mixed"}, 1},
		{"edits a merged request to extend it", "alice", func(r *gittest.Repo) {
			r.Write("requests/alice-merged.yaml", strings.Replace(goodRequest, "2h", "1d", 1))
		}, []string{"requests/alice-merged.yaml request-immutable"}, 0},
		{"deletes a merged request", "alice", func(r *gittest.Repo) {
			r.Git("rm", "-q", "requests/alice-merged.yaml")
		}, []string{"requests/alice-merged.yaml request-immutable"}, 0},
		{"reuses a closed request's id", "alice", func(r *gittest.Repo) {
			r.Write("requests/alice-closed.yaml", goodRequest)
		}, []string{"requests/alice-closed.yaml request-id-reused"}, 1},
		{"symlink to another request", "alice", func(r *gittest.Repo) {
			r.Symlink("alice-merged.yaml", "requests/alice-link.yaml")
		}, []string{"requests/alice-link.yaml file-kind"}, 0},
		{"symlink outside the repository", "alice", func(r *gittest.Repo) {
			r.Symlink("/etc/passwd", "requests/alice-passwd.yaml")
		}, []string{"requests/alice-passwd.yaml file-kind"}, 0},
		{"writes elevate's state", "alice", func(r *gittest.Repo) {
			r.Write("status/alice-merged.yaml", "state: active\nend: 2099-01-01T00:00:00Z\n")
		}, []string{"status/alice-merged.yaml state-path"}, 0},
		{"adds a forged archive entry", "alice", func(r *gittest.Repo) {
			r.Write("archive/bob-x.status.yaml", "state: expired\n")
		}, []string{"archive/bob-x.status.yaml state-path"}, 0},
		{"request in a sub-folder", "alice", func(r *gittest.Repo) {
			r.Write("requests/sub/alice-new.yaml", goodRequest)
		}, []string{"requests/sub/alice-new.yaml request-id"}, 0},
		{"policy-only PR is checked from its head", "", func(r *gittest.Repo) {
			r.Write("policies/broken.yaml", "version: 1\nname: broken\n")
		}, []string{"policies/broken.yaml schema-required", "policies/broken.yaml schema-required", "policies/broken.yaml schema-required", "policies/broken.yaml schema-required", "policies/broken.yaml schema-required", "policies/broken.yaml schema-required"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := baseRepo(t)
			tt.change(r)
			r.Commit("pr")
			rep := runPR(t, r, tt.author)
			if diff := cmp.Diff(tt.want, rules(rep)); diff != "" {
				t.Errorf("findings (-want +got):\n%s\n%s", diff, text(rep.Findings))
			}
			if len(rep.Requests) != tt.requests {
				t.Errorf("judged %d requests, want %d", len(rep.Requests), tt.requests)
			}
		})
	}
}

// TestPRBaseMovedOn: commits on main after the PR branched are not the PR's changes.
func TestPRBaseMovedOn(t *testing.T) {
	t.Parallel()
	r := baseRepo(t)
	r.Write("requests/alice-new.yaml", goodRequest)
	r.Commit("pr")
	r.Git("checkout", "-q", "main")
	r.Write("policies/extra.yaml", "version: 1\nname: extra\naccounts: [{id: \"999988887777\"}]\npermissionSets: [ReadOnlyAccess]\neligible: {users: [bob]}\napprovers: {users: [carol]}\napprovals: 1\nmaxDuration: 1h\n")
	r.Commit("main moves on")
	r.Git("checkout", "-q", "pr")
	rep := runPR(t, r, "alice")
	if len(rep.Findings) != 0 || len(rep.Requests) != 1 {
		t.Fatalf("want one clean request, got %d requests:\n%s", len(rep.Requests), text(rep.Findings))
	}
}

func TestPRStartTooFar(t *testing.T) {
	t.Parallel()
	r := baseRepo(t)
	r.Write("requests/alice-later.yaml", goodRequest+"start: \"2099-01-01T00:00:00Z\"\n")
	r.Write("requests/alice-soon.yaml", goodRequest+"start: \""+time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339)+"\"\n")
	r.Commit("pr")
	rep := runPR(t, r, "alice")
	if diff := cmp.Diff([]string{"requests/alice-later.yaml start-too-far"}, rules(rep)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// runPR runs PR mode on r's HEAD against main as author.
func runPR(t *testing.T, r *gittest.Repo, author string) *Report {
	t.Helper()
	repo, err := gitrepo.Open(context.Background(), r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	rep, err := PR(context.Background(), repo, "main", "HEAD", author, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
