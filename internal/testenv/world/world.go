// Package world builds the whole set-up an end-to-end test needs: a bare
// remote holding main with the sample policies, a GitHub test server that
// knows the pull requests merged into it, and an Identity Center in moto with
// the sample users and permission sets. Tests then run the real entry point
// (cli.Run) in a fresh checkout, as the workflows do.
package world

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elevate-dev/elevate/internal/cli"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
)

// Token is the GitHub token the world's server requires.
const Token = "ghs_test-token-0123456789"

// Users are the Identity Center users seeded, by GitHub login.
var Users = map[string]string{
	"alice": "alice@example.com", "bob": "bob@example.com", "carol": "carol@example.com",
	"dave": "dave@example.com", "erin": "erin@example.com", "frank": "frank@example.com", "grace": "grace@example.com",
}

// PermissionSets are the permission sets seeded.
var PermissionSets = []string{"AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess"}

// World is one test's remote, GitHub and AWS.
type World struct {
	T      testing.TB
	Remote string
	Admin  *gittest.Repo // where PRs are made and merged
	GitHub *githubfake.Server
	AWS    aws.Config
	Faults *moto.Faults
	Seed   moto.Seeded
	Base   string // main's first commit
	nextPR int
	clock  time.Time
	prs    []MergedPR
}

// MergedPR is a pull request Merge told the GitHub server about.
type MergedPR struct {
	PR      githubfake.PR
	Reviews []githubfake.Review
}

// PR is the n-th pull request merged (from 1), as the GitHub server was
// told by Merge (a NoPR merge is the zero MergedPR), for a test that builds
// another server.
func (w *World) PR(n int) (MergedPR, bool) {
	if n < 1 || n > len(w.prs) {
		return MergedPR{}, false
	}
	return w.prs[n-1], true
}

// New builds a world. moto must be running (moto.Main in TestMain).
func New(t testing.TB) *World {
	t.Helper()
	w := &World{T: t, Remote: gittest.Bare(t), nextPR: 1, clock: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	w.Admin = gittest.Clone(t, w.Remote)
	w.Admin.Git("checkout", "-q", "-B", "main")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	w.Admin.CopyDir(filepath.Join(root, "policies"), "policies")
	w.Admin.CopyDir(filepath.Join(root, "schema"), "schema")
	w.Base = w.Admin.Commit("main: policies")
	w.Admin.Git("push", "-q", "origin", "main")

	w.GitHub = githubfake.New(t)
	w.GitHub.SetToken(Token)
	w.Faults = moto.NewFaults()
	w.AWS = moto.Shared().Config(t, moto.WithFaults(w.Faults))
	var users []string
	for _, u := range Users {
		users = append(users, u)
	}
	sort.Strings(users)
	seed, err := moto.Seed(context.Background(), w.AWS, users, PermissionSets)
	if err != nil {
		t.Fatal(err)
	}
	w.Seed = seed
	return w
}

// PR is a pull request to merge.
type PR struct {
	// Files maps paths to contents the PR adds or changes.
	Files map[string]string
	// Author opens the PR and makes its commit.
	Author string
	// Approvers approve the head commit.
	Approvers []string
	// Reviews, when set, are used as they are instead of Approvers.
	Reviews []githubfake.Review
	// ExtraCommitBy, when set, pushes a second commit to the PR by that login
	// (after which reviews still point at the head unless CommitID is set).
	ExtraCommitBy string
	// NoPR pushes the change straight to main: no pull request exists.
	NoPR bool
}

// Merged is what Merge did.
type Merged struct {
	Number      int
	MergeCommit string
	Heads       []string // the PR's commits, oldest first
}

// Merge makes the PR's commits on a branch, merges it into main with a merge
// commit, pushes, and tells the GitHub server about it.
func (w *World) Merge(pr PR) Merged {
	t := w.T
	t.Helper()
	w.SyncAdmin()
	n := w.nextPR
	w.nextPR++
	branch := fmt.Sprintf("pr-%d", n)
	w.Admin.Git("checkout", "-q", "-b", branch, "main")
	var paths []string
	for p, c := range pr.Files {
		w.Admin.Write(p, c)
		paths = append(paths, p)
	}
	sort.Strings(paths)
	m := Merged{Number: n}
	m.Heads = append(m.Heads, w.Admin.CommitAs(pr.Author, pr.Author+"@users.noreply.github.com", "add "+strings.Join(paths, ", ")))
	commits := []githubfake.Commit{{SHA: m.Heads[0], AuthorLogin: pr.Author, CommitterLogin: pr.Author}}
	if pr.ExtraCommitBy != "" {
		w.Admin.Write(paths[0], pr.Files[paths[0]]+"# touched\n")
		sha := w.Admin.CommitAs(pr.ExtraCommitBy, pr.ExtraCommitBy+"@users.noreply.github.com", "touch")
		m.Heads = append(m.Heads, sha)
		commits = append(commits, githubfake.Commit{SHA: sha, AuthorLogin: pr.ExtraCommitBy, CommitterLogin: pr.ExtraCommitBy})
	}
	head := m.Heads[len(m.Heads)-1]
	w.Admin.Git("checkout", "-q", "main")
	baseSHA := w.Admin.Git("rev-parse", "HEAD")
	if pr.NoPR {
		w.Admin.Git("merge", "-q", "--ff-only", branch)
	} else {
		w.Admin.Git("merge", "-q", "--no-ff", "-m", fmt.Sprintf("Merge pull request #%d", n), branch)
	}
	m.MergeCommit = w.Admin.Git("rev-parse", "HEAD")
	w.Admin.Git("push", "-q", "origin", "main")
	if pr.NoPR {
		w.prs = append(w.prs, MergedPR{})
		return m
	}
	var files []githubfake.File
	for _, p := range paths {
		files = append(files, githubfake.File{Name: p, Status: "added", SHA: w.Admin.Git("rev-parse", head+":"+p)})
	}
	ghPR := githubfake.PR{Number: n, Author: pr.Author, HeadSHA: head, BaseSHA: baseSHA, Merged: true,
		MergedBy: "carol", MergeCommitSHA: m.MergeCommit, Commits: commits, Files: files}
	w.GitHub.AddPR(ghPR)
	w.GitHub.AssociateCommit(m.MergeCommit, n)
	reviews := pr.Reviews
	if reviews == nil {
		for _, a := range pr.Approvers {
			reviews = append(reviews, githubfake.Review{User: a, State: "APPROVED", CommitID: head})
		}
	}
	for _, r := range reviews {
		w.GitHub.AddReview(n, r)
	}
	w.prs = append(w.prs, MergedPR{PR: ghPR, Reviews: reviews})
	return m
}

// Run runs the elevate entry point in a fresh clone of the remote at now,
// the way the workflows do. It returns the exit status, the output and the
// checkout.
func (w *World) Run(now time.Time, args ...string) (int, string, *gittest.Repo) {
	w.T.Helper()
	checkout := gittest.Clone(w.T, w.Remote)
	code, out := w.RunIn(checkout, now, args...)
	return code, out, checkout
}

// RunIn runs the entry point in an existing checkout.
func (w *World) RunIn(checkout *gittest.Repo, now time.Time, args ...string) (int, string) {
	tally.runs.Add(1)
	vars := map[string]string{
		"GITHUB_TOKEN":      Token,
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
		Getenv:    func(k string) string { return vars[k] },
		Dir:       checkout.Dir,
		Now:       func() time.Time { return now },
		AWSConfig: func(context.Context) (aws.Config, error) { return w.AWS, nil },
	}
	code := cli.Run(context.Background(), env, args)
	return code, out.String()
}

// Assignments lists the users holding a permission set on an account in moto.
func (w *World) Assignments(account, permissionSet string) []string {
	w.T.Helper()
	got, err := w.Seed.Assignments(context.Background(), w.AWS, account, permissionSet)
	if err != nil {
		w.T.Fatal(err)
	}
	return got
}

// RemoteFile reads path at the remote's main ("" if absent).
func (w *World) RemoteFile(path string) string {
	w.T.Helper()
	w.Admin.Git("fetch", "-q", "origin", "main")
	out, err := w.Admin.TryGit("show", "FETCH_HEAD:"+path)
	if err != nil {
		return ""
	}
	return out
}

// RemoteLog returns the remote main's commit messages since the base, newest first.
func (w *World) RemoteLog() []string {
	w.T.Helper()
	w.Admin.Git("fetch", "-q", "origin", "main")
	out := w.Admin.Git("log", "--format=%B%x00", w.Base+"..FETCH_HEAD")
	var msgs []string
	for _, m := range strings.Split(out, "\x00") {
		if m = strings.TrimSpace(m); m != "" {
			msgs = append(msgs, m)
		}
	}
	return msgs
}

// SyncAdmin brings the admin checkout's main up to the remote (after the tool pushed).
func (w *World) SyncAdmin() {
	w.T.Helper()
	w.Admin.Git("checkout", "-q", "main")
	w.Admin.Git("pull", "-q", "--ff-only", "origin", "main")
}
