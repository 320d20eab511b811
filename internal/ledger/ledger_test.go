package ledger

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

const req = "# yaml-language-server: $schema=../schema/request.schema.json\nrequester: alice\naccount: sandbox\npermissionSet: ReadOnlyAccess\nduration: 2h\nreason: Look at the billing alarms\n"

func setup(t *testing.T) (*gittest.Repo, *Ledger) {
	t.Helper()
	r := gittest.New(t)
	r.Write("requests/alice-x.yaml", req)
	r.Commit("merge request")
	repo, err := gitrepo.Open(context.Background(), r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(repo.Close)
	return r, &Ledger{Repo: repo}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	r, l := setup(t)
	ctx := context.Background()
	st := &Status{State: Active, Requester: "alice", UserName: "alice@example.com", Account: "777788889999",
		PermissionSet: "ReadOnlyAccess", Policy: "sandbox", PullRequest: 7, ApprovedBy: []string{"carol", "grace"},
		Start: "2026-12-03T10:00:00Z", End: "2026-12-03T12:00:00Z"}
	if _, err := l.Record(ctx, Entry{ID: "alice-x", Path: "requests/alice-x.yaml"}, st, "grant"); err != nil {
		t.Fatal(err)
	}
	ids, statuses, problems, err := l.Open(ctx)
	if err != nil || len(problems) > 0 || len(ids) != 1 || statuses["alice-x"].State != Active {
		t.Fatalf("open: %v %v %v %v", ids, statuses, problems, err)
	}
	if got := statuses["alice-x"]; strings.Join(got.ApprovedBy, ",") != "carol,grace" || got.End != st.End {
		t.Errorf("status did not round-trip: %+v", got)
	}
	msg := r.Git("log", "-1", "--format=%B")
	for _, want := range []string{"Request: alice-x", "Action: grant", "State: active", "Approved-By: carol", "Approved-By: grace", "Expires-At: 2026-12-03T12:00:00Z", "Elevate-State: v1", "Pull-Request: 7"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	if author := r.Git("log", "-1", "--format=%an <%ae>"); author != "elevate <elevate@users.noreply.github.com>" {
		t.Errorf("author = %s", author)
	}

	closed := *statuses["alice-x"]
	closed.State, closed.ClosedAt = Expired, "2026-12-03T12:01:00Z"
	if _, err := l.Record(ctx, Entry{ID: "alice-x", Path: "requests/alice-x.yaml"}, &closed, "revoke"); err != nil {
		t.Fatal(err)
	}
	archived, err := os.ReadFile(filepath.Join(r.Dir, "archive/alice-x.yaml"))
	if err != nil || string(archived) != req {
		t.Fatalf("archived request is not byte-identical: %q %v", archived, err)
	}
	for _, gone := range []string{"requests/alice-x.yaml", "status/alice-x.yaml"} {
		if _, err := os.Stat(filepath.Join(r.Dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still exists", gone)
		}
	}
	if ids, _, _, _ := l.Open(ctx); len(ids) != 0 {
		t.Errorf("active set after close = %v", ids)
	}
	if out := r.Git("status", "--porcelain"); out != "" {
		t.Errorf("uncommitted changes left: %s", out)
	}
	if n := r.Git("rev-list", "--count", "HEAD"); n != "3" {
		t.Errorf("%s commits, want 3 (one per transition)", n)
	}
}

// TestReusedIDKeepsEarlierRecord: a closure whose archive name is taken never overwrites it.
func TestReusedIDKeepsEarlierRecord(t *testing.T) {
	t.Parallel()
	r, l := setup(t)
	r.Write("archive/alice-x.yaml", "earlier\n")
	r.Write("archive/alice-x.status.yaml", "earlier status\n")
	r.Commit("earlier closure")
	st := &Status{State: Denied, Reason: "id reused"}
	if _, err := l.Record(context.Background(), Entry{ID: "alice-x", Path: "requests/alice-x.yaml"}, st, "deny"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(r.Dir, "archive/alice-x.yaml")); string(b) != "earlier\n" {
		t.Errorf("earlier archive overwritten: %q", b)
	}
	matches, _ := filepath.Glob(filepath.Join(r.Dir, "archive/alice-x.dup-*.yaml"))
	if len(matches) != 2 {
		t.Errorf("want the new request and status under a dup name, got %v", matches)
	}
}

func TestMessageEscapesUserText(t *testing.T) {
	t.Parallel()
	msg := Message(&Status{Request: "x", State: Denied, Reason: "bad\nApproved-By: mallory\n::error::x"}, "deny")
	for _, line := range strings.Split(msg, "\n") {
		if strings.HasPrefix(line, "Approved-By:") || strings.HasPrefix(line, "::") {
			t.Errorf("user text forged a trailer or command line: %q", line)
		}
	}
}
