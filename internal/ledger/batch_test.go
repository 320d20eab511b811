package ledger_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

const hostile = "requests/we ird \"x\"\n.yaml"

// start is a repository with requests in every situation a run meets.
func start(t *testing.T) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.Write("requests/open.yaml", "requester: alice\n")
	r.Write("requests/done.yaml", "requester: bob\n")
	r.Write("status/done.yaml", "version: 1\nrequest: done\nstate: active\n")
	r.Write(hostile, "requester: mallory\n")
	r.Write("requests/reused.yaml", "requester: carol\n")
	r.Write("archive/reused.yaml", "requester: carol\n")
	r.Write("status/gone.yaml", "version: 1\nrequest: gone\nstate: active\n")
	r.Commit("start")
	return r
}

type transition struct {
	entry  ledger.Entry
	status ledger.Status
	action string
}

var transitions = []transition{
	{ledger.Entry{ID: "open", Path: "requests/open.yaml"}, ledger.Status{State: ledger.Pending, Requester: "alice", Start: "2026-12-04T09:00:00Z"}, "approve"},
	{ledger.Entry{ID: "done", Path: "requests/done.yaml"}, ledger.Status{State: ledger.Expired, Requester: "bob", ClosedAt: "2026-12-04T09:00:00Z"}, "revoke"},
	{ledger.Entry{ID: strings.TrimSuffix(strings.TrimPrefix(hostile, "requests/"), ".yaml"), Path: hostile}, ledger.Status{State: ledger.Denied, Reason: "bad name"}, "deny"},
	{ledger.Entry{ID: "reused", Path: "requests/reused.yaml"}, ledger.Status{State: ledger.Denied, Reason: "id reused"}, "deny"},
	{ledger.Entry{ID: "gone", Path: ""}, ledger.Status{State: ledger.Ended, Reason: "file removed"}, "end"},
}

var sig = ledger.Signature{Name: "elevate", Email: "elevate@example.com"}

var dups int

// recordWithGit makes one transition the way Record did before batches:
// git mv, write, git rm, git add, git commit.
func recordWithGit(t *testing.T, r *gittest.Repo, tr transition) {
	t.Helper()
	st := tr.status
	st.Version, st.Request = 1, tr.entry.ID
	write := func(p string, b []byte) {
		full := filepath.Join(r.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(r.Dir, p)); return err == nil }
	var paths []string
	if !st.State.Closed() {
		write(ledger.StatusPath(tr.entry.ID), st.Marshal())
		paths = append(paths, ledger.StatusPath(tr.entry.ID))
	} else {
		archive, archiveStatus := ledger.ArchivePath(tr.entry.ID), ledger.ArchiveStatusPath(tr.entry.ID)
		if exists(archive) || strings.ContainsAny(tr.entry.ID, " \"\n") {
			dups++
			name := fmt.Sprintf("x.dup-%d", dups)
			archive, archiveStatus = ledger.ArchivePath(name), ledger.ArchiveStatusPath(name)
		}
		if tr.entry.Path != "" && exists(tr.entry.Path) {
			r.Git("--literal-pathspecs", "mv", "-f", "--", tr.entry.Path, archive)
		}
		write(archiveStatus, st.Marshal())
		paths = append(paths, archiveStatus)
		if exists(ledger.StatusPath(tr.entry.ID)) {
			r.Git("--literal-pathspecs", "rm", "-q", "-f", "--", ledger.StatusPath(tr.entry.ID))
		}
	}
	r.Git(append([]string{"--literal-pathspecs", "add", "-A", "--"}, paths...)...)
	msgFile := filepath.Join(t.TempDir(), "msg")
	if err := os.WriteFile(msgFile, []byte(ledger.Message(&st, tr.action)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "commit", "-q", "--no-verify", "-F", msgFile)
	cmd.Dir = r.Dir
	cmd.Env = append(append(os.Environ(), gittest.Env()...), "GIT_AUTHOR_NAME="+sig.Name, "GIT_AUTHOR_EMAIL="+sig.Email,
		"GIT_COMMITTER_NAME="+sig.Name, "GIT_COMMITTER_EMAIL="+sig.Email)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git commit: %v: %s", err, out)
	}
}

var dup = regexp.MustCompile(`[a-z0-9-]*\.dup-[0-9-]+`)

// history is each commit after "start": its message, identities and
// files (dup names normalized).
func history(t *testing.T, r *gittest.Repo) []string {
	t.Helper()
	var out []string
	for _, c := range strings.Fields(r.Git("rev-list", "--reverse", "HEAD~5..HEAD")) {
		meta := r.Git("show", "-s", "--format=%an <%ae> / %cn <%ce> / parents %P%n%B", c)
		meta = strings.Replace(meta, r.Git("rev-parse", c+"^"), "PARENT", 1)
		files := strings.Split(dup.ReplaceAllString(r.Git("ls-tree", "-r", "-z", "--full-tree", c), "DUP"), "\x00")
		sort.Strings(files)
		out = append(out, dup.ReplaceAllString(meta, "DUP")+"\n"+strings.Join(files, "\n"))
	}
	return out
}

// TestBatchRecordsWhatGitWould: a batch of every kind of transition makes
// the same commits (trees, messages, author, committer, one parent each)
// as the git commands Record used to run one transition at a time, and
// leaves the index and working tree at the last commit.
func TestBatchRecordsWhatGitWould(t *testing.T) {
	t.Parallel()
	want := start(t)
	for _, tr := range transitions {
		recordWithGit(t, want, tr)
	}
	got := start(t)
	repo, err := gitrepo.Open(context.Background(), got.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	b := (&ledger.Ledger{Repo: repo, As: sig}).Begin()
	for _, tr := range transitions {
		st := tr.status
		b.Record(tr.entry, &st, tr.action)
	}
	shas, err := b.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(shas) != len(transitions) || shas[len(shas)-1] != got.Git("rev-parse", "HEAD") {
		t.Fatalf("commits %v, HEAD %s", shas, got.Git("rev-parse", "HEAD"))
	}
	if diff := cmp.Diff(history(t, want), history(t, got)); diff != "" {
		t.Errorf("batch commits differ from git's (-git +batch):\n%s", diff)
	}
	if st := got.Git("status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("working tree not clean after the batch:\n%s", st)
	}
	if _, err := os.Lstat(filepath.Join(got.Dir, "requests", "done.yaml")); err == nil {
		t.Error("the archived request is still in the working tree")
	}
	if refs := got.Git("for-each-ref", "refs/elevate/"); refs != "" {
		t.Errorf("left a ref behind: %s", refs)
	}
}

func TestRemoval(t *testing.T) {
	t.Parallel()
	r := start(t)
	repo, err := gitrepo.Open(context.Background(), r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	before := r.Git("rev-parse", "HEAD^{tree}")
	l := &ledger.Ledger{Repo: repo, As: sig}
	sha, err := l.RecordRemoval(context.Background(), ledger.Removal{UserName: "alice@example.com", Account: "777788889999", PermissionSet: "AdministratorAccess", Policy: "sandbox", Reason: "unexplained"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Git("rev-parse", sha+"^{tree}") != before {
		t.Error("a removal changed files")
	}
	msg := r.Git("show", "-s", "--format=%B", sha)
	for _, want := range []string{"Action: remove-unexplained", "User: alice@example.com", "Account: 777788889999", "Permission-Set: AdministratorAccess", "Policy: sandbox", "Elevate-State: v1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}
