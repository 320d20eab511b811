package security

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/approval"
	"github.com/elevate-dev/elevate/internal/cli"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

func TestMain(m *testing.M) { moto.Main(m) }

// The accounts the sample policies cover.
const (
	sandbox  = "777788889999"
	prod     = "111122223333"
	prodData = "444455556666"
)

// now is when the runs happen: a minute after the fake's clock started, so
// after every merge and well before any one-hour grant ends.
var now = githubfake.Epoch.Add(time.Minute)

// req writes a request file.
func req(requester, account, permissionSet, duration string, extra ...string) string {
	s := "# yaml-language-server: $schema=../schema/request.schema.json\nrequester: " + requester +
		"\naccount: " + account + "\npermissionSet: " + permissionSet + "\nduration: " + duration +
		"\nreason: Investigate the failed deploy\n"
	for _, e := range extra {
		s += e + "\n"
	}
	return s
}

// sandboxReq is a request the sandbox policy allows (one approval from carol or grace).
func sandboxReq(requester, permissionSet string) string {
	return req(requester, "sandbox", permissionSet, "1h")
}

// prodReq is a request the production policy allows (two approvals, a ticket).
func prodReq(requester, permissionSet string) string {
	return req(requester, "prod", permissionSet, "1h", "ticket: INC-1234")
}

// run runs the elevate entry point in a fresh clone of the remote, as the
// workflows do, with the commit-to-PR lookup's backoff made instant (the
// attempts are still made). It returns the exit status and everything
// printed, stdout and stderr.
func run(t *testing.T, w *world.World, at time.Time, args ...string) (int, string) {
	t.Helper()
	checkout := gittest.Clone(t, w.Remote)
	return runIn(t, w, checkout.Dir, at, args...)
}

func runIn(t *testing.T, w *world.World, dir string, at time.Time, args ...string) (int, string) {
	t.Helper()
	vars := map[string]string{
		"GITHUB_TOKEN":      world.Token,
		"GITHUB_REPOSITORY": githubfake.DefaultOwner + "/" + githubfake.DefaultRepo,
		"GITHUB_API_URL":    w.GitHub.URL() + "/api/v3",
	}
	for _, kv := range gittest.Env() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	var out bytes.Buffer
	env := cli.Env{
		Stdout: &out, Stderr: &out, Stdin: strings.NewReader(""),
		Getenv:          func(k string) string { return vars[k] },
		Dir:             dir,
		Now:             func() time.Time { return at },
		AWSConfig:       func(context.Context) (aws.Config, error) { return w.AWS, nil },
		ApprovalOptions: approval.Options{Sleep: func(context.Context, time.Duration) error { return nil }},
	}
	code := cli.Run(context.Background(), env, args)
	return code, out.String()
}

// runReconcile runs `elevate reconcile` and fails the test unless it exits 0:
// an attack must never crash the run for the other requests.
func runReconcile(t *testing.T, w *world.World, at time.Time) string {
	t.Helper()
	code, out := run(t, w, at, "reconcile")
	if code != 0 {
		t.Fatalf("reconcile exit %d:\n%s", code, out)
	}
	assertNoWorkflowCommands(t, "reconcile output", out)
	return out
}

// grant is one assignment in Identity Center.
type grant struct{ user, account, permissionSet string }

func (g grant) String() string { return g.user + " " + g.permissionSet + " on " + g.account }

// assignments lists every assignment in moto on the accounts the policies cover.
func assignments(t *testing.T, w *world.World) []grant {
	t.Helper()
	var out []grant
	for _, account := range []string{sandbox, prod, prodData} {
		for _, ps := range world.PermissionSets {
			for _, u := range w.Assignments(account, ps) {
				out = append(out, grant{u, account, ps})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// assertGranted checks that exactly the given assignments exist.
func assertGranted(t *testing.T, w *world.World, out string, want ...grant) {
	t.Helper()
	sort.Slice(want, func(i, j int) bool { return want[i].String() < want[j].String() })
	if got := assignments(t, w); !cmp.Equal(got, want, cmp.AllowUnexported(grant{})) {
		t.Errorf("assignments in moto = %v, want exactly %v\n%s", got, want, out)
	}
}

// assertClosed checks archive/<id>.status.yaml: state and every reason fragment.
func assertClosed(t *testing.T, w *world.World, id string, state ledger.State, reason ...string) {
	t.Helper()
	data := w.RemoteFile(ledger.ArchiveStatusPath(id))
	st, err := ledger.ParseStatus([]byte(data))
	if err != nil || st.State != state {
		t.Errorf("%s: want state %s, %s is (%v):\n%s", id, state, ledger.ArchiveStatusPath(id), err, data)
		return
	}
	for _, r := range reason {
		if !strings.Contains(st.Reason, r) {
			t.Errorf("%s: reason lacks %q: %s", id, r, st.Reason)
		}
	}
	if w.RemoteFile("requests/"+id+".yaml") != "" || w.RemoteFile(ledger.StatusPath(id)) != "" {
		t.Errorf("%s: still in the active set", id)
	}
}

// assertDenied is assertClosed for a denial.
func assertDenied(t *testing.T, w *world.World, id string, reason ...string) {
	t.Helper()
	assertClosed(t, w, id, ledger.Denied, reason...)
}

// assertActive checks that status/<id>.yaml records an active grant.
func assertActive(t *testing.T, w *world.World, id string) {
	t.Helper()
	if st := w.RemoteFile("status/" + id + ".yaml"); !strings.Contains(st, "state: active") {
		t.Errorf("%s: not active:\n%s", id, st)
	}
}

// assertNoWorkflowCommands checks that no line of out is a GitHub Actions
// workflow command: none starts with "::" (after the white space the runner
// trims) and none holds the legacy "##[" form anywhere.
func assertNoWorkflowCommands(t *testing.T, what, out string) {
	t.Helper()
	for i, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") || strings.Contains(line, "##[") {
			t.Errorf("%s line %d is a workflow command: %q", what, i+1, line)
		}
	}
}

// assertCommitsClean checks every commit message on the remote since the
// base: no workflow command, and a trailer block of one-line "Key: value"
// trailers only, with exactly one Request and one Elevate-State.
func assertCommitsClean(t *testing.T, w *world.World) {
	t.Helper()
	for _, msg := range w.RemoteLog() {
		if !strings.HasPrefix(msg, "elevate: ") {
			continue // a merge or a push made by the test
		}
		assertNoWorkflowCommands(t, "commit message", msg)
		paras := strings.Split(msg, "\n\n")
		trailers := strings.Split(paras[len(paras)-1], "\n")
		count := map[string]int{}
		for _, tr := range trailers {
			k, _, ok := strings.Cut(tr, ": ")
			if !ok || k == "" || strings.ContainsFunc(k, func(r rune) bool { return !(r == '-' || unicode.IsLetter(r)) }) {
				t.Errorf("commit trailer %q is not Key: value in:\n%s", tr, msg)
			}
			count[k]++
		}
		if count["Request"] != 1 || count["Elevate-State"] != 1 {
			t.Errorf("commit has %d Request and %d Elevate-State trailers:\n%s", count["Request"], count["Elevate-State"], msg)
		}
	}
}

// commit is one commit of a raw pull request.
type commit struct {
	// By is the GitHub login the commit is authored and committed as.
	By string
	// Change edits the checkout.
	Change func(r *gittest.Repo)
}

// rawPR is a pull request made of arbitrary changes (symlinks, edits,
// deletions, hostile names), with GitHub's file list computed from git as
// GitHub computes it. It is merged with a merge commit.
type rawPR struct {
	Number  int
	Author  string
	Commits []commit
	// Reviews are added as they are; Approvers approve the head.
	Reviews   []githubfake.Review
	Approvers []string
	// NoPR pushes the commits straight to main.
	NoPR bool
}

// rawMerged is what mergeRaw did.
type rawMerged struct {
	MergeCommit string
	Heads       []string
}

// mergeRaw makes, merges and pushes a raw PR and tells GitHub about it.
func mergeRaw(t *testing.T, w *world.World, pr rawPR) rawMerged {
	t.Helper()
	w.SyncAdmin()
	a := w.Admin
	branch := fmt.Sprintf("raw-%d", pr.Number)
	a.Git("checkout", "-q", "-b", branch, "main")
	base := a.Git("rev-parse", "HEAD")
	var m rawMerged
	var commits []githubfake.Commit
	for _, c := range pr.Commits {
		c.Change(a)
		sha := a.CommitAs(c.By, c.By+"@users.noreply.github.com", "change by "+c.By)
		m.Heads = append(m.Heads, sha)
		commits = append(commits, githubfake.Commit{SHA: sha, AuthorLogin: c.By, CommitterLogin: c.By})
	}
	head := m.Heads[len(m.Heads)-1]
	a.Git("checkout", "-q", "main")
	if pr.NoPR {
		a.Git("merge", "-q", "--ff-only", branch)
	} else {
		a.Git("merge", "-q", "--no-ff", "-m", fmt.Sprintf("Merge pull request #%d", pr.Number), branch)
	}
	m.MergeCommit = a.Git("rev-parse", "HEAD")
	a.Git("push", "-q", "origin", "main")
	if pr.NoPR {
		return m
	}
	w.GitHub.AddPR(githubfake.PR{Number: pr.Number, Author: pr.Author, HeadSHA: head, BaseSHA: base, Merged: true,
		MergedBy: "carol", MergeCommitSHA: m.MergeCommit, Commits: commits, Files: prFiles(t, a, base, head)})
	reviews := pr.Reviews
	for _, who := range pr.Approvers {
		reviews = append(reviews, githubfake.Review{User: who, State: "APPROVED", CommitID: head})
	}
	for _, r := range reviews {
		w.GitHub.AddReview(pr.Number, r)
	}
	return m
}

// prFiles lists what base...head changes, as GitHub's files endpoint does.
func prFiles(t *testing.T, a *gittest.Repo, base, head string) []githubfake.File {
	t.Helper()
	out := a.Git("diff", "--raw", "-z", "--no-abbrev", "--no-renames", base+"..."+head)
	var files []githubfake.File
	fields := strings.Split(out, "\x00")
	for i := 0; i+1 < len(fields); i += 2 {
		meta := strings.Fields(strings.TrimPrefix(fields[i], ":"))
		status := map[string]string{"A": "added", "M": "modified", "D": "removed", "T": "changed"}[meta[4]]
		f := githubfake.File{Name: fields[i+1], Status: status}
		if status != "removed" {
			f.SHA = meta[3]
		}
		files = append(files, f)
	}
	return files
}

// pushAs makes one commit on main with the given author and committer
// identities, exactly (no test default overrides them), and pushes it: a
// direct push, or what GitHub's rebase merge leaves on main (the PR's author
// kept, GitHub as the committer).
func pushAs(t *testing.T, w *world.World, author, committer, msg string, change func(r *gittest.Repo)) string {
	t.Helper()
	w.SyncAdmin()
	change(w.Admin)
	w.Admin.Git("add", "-A")
	name := func(id string) string { n, _, _ := strings.Cut(id, " <"); return n }
	email := func(id string) string { _, e, _ := strings.Cut(id, " <"); return strings.TrimSuffix(e, ">") }
	cmd := exec.Command("git", "commit", "-q", "-F", "-")
	cmd.Dir = w.Admin.Dir
	cmd.Stdin = strings.NewReader(msg)
	cmd.Env = append(append(os.Environ(), gittest.Env()...),
		"GIT_AUTHOR_NAME="+name(author), "GIT_AUTHOR_EMAIL="+email(author),
		"GIT_COMMITTER_NAME="+name(committer), "GIT_COMMITTER_EMAIL="+email(committer))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git commit: %v: %s", err, out)
	}
	w.Admin.Git("push", "-q", "origin", "main")
	return w.Admin.Git("rev-parse", "HEAD")
}

// write and remove are commit changes.
func write(path, content string) func(r *gittest.Repo) {
	return func(r *gittest.Repo) { r.Write(path, content) }
}

func edit(files map[string]string) func(r *gittest.Repo) {
	return func(r *gittest.Repo) {
		for p, c := range files {
			r.Write(p, c)
		}
	}
}
