package security

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/elevate-dev/elevate/internal/approval"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/policy"
	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/request"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/validate"
)

// approveAll is a GitHub that says every PR was merged and approved, with
// exactly the files on main: the best an attacker of the files themselves
// could hope for. Only the files can then keep a request from being granted.
type approveAll struct {
	files  []approval.File
	merged time.Time
}

func (a approveAll) FindMergedPR(_ context.Context, _, _, commitSHA, _ string) (*github.PullRequest, error) {
	return &github.PullRequest{Number: github.Int(1), MergeCommitSHA: github.String(commitSHA), Merged: github.Bool(true),
		MergedAt: &github.Timestamp{Time: a.merged}, Head: &github.PullRequestBranch{SHA: github.String(strings.Repeat("a", 40))}}, nil
}

func (a approveAll) Verify(_ context.Context, _, _ string, pr *github.PullRequest, _ string, _ approval.Rule) (approval.Verdict, error) {
	return approval.Verdict{PR: pr.GetNumber(), Approved: true, Approvers: []string{"carol"}, Files: a.files}, nil
}

// FuzzRequestPolicy feeds arbitrary request bytes, request file names and
// policy bytes through the PR check (validate.Tree) and reconcile's plan,
// once without GitHub and once with a GitHub that approves everything. It
// asserts that nothing panics or fails the run, that plan grants (or would
// grant, or records as approved) only a request that parses and that the
// policies allow with no finding, and with exactly what the policy
// decided, and that the PR check and reconcile agree on every request.
//
// go test runs the seeds; fuzz with
//
//	go test -run '^$' -fuzz FuzzRequestPolicy -parallel 2 ./internal/security
func FuzzRequestPolicy(f *testing.F) {
	sandbox, err := os.ReadFile(filepath.Join("..", "..", "policies", "sandbox.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	production, err := os.ReadFile(filepath.Join("..", "..", "policies", "production.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	ok := []byte(sandboxReq("alice", "AdministratorAccess"))
	for _, seed := range []struct {
		name         string
		data, policy []byte
	}{
		{"alice-ok.yaml", ok, sandbox},
		{"alice-prod.yaml", []byte(prodReq("alice", "PowerUserAccess")), production},
		{"alice-no-ticket.yaml", []byte(req("alice", "prod", "PowerUserAccess", "1h")), production},
		{"alice-later.yaml", []byte(sandboxReq("alice", "ReadOnlyAccess") + "start: \"2026-12-04T09:00:00Z\"\n"), sandbox},
		{"alice-past.yaml", []byte(sandboxReq("alice", "ReadOnlyAccess") + "start: \"2020-01-01T00:00:00+02:00\"\n"), sandbox},
		{"alice-long.yaml", []byte(req("alice", "sandbox", "AdministratorAccess", "2d")), sandbox},
		{"mallory.yaml", []byte(sandboxReq("mallory", "AdministratorAccess")), sandbox},
		{"frank-id.yaml", []byte(strings.Replace(string(ok), "account: sandbox", `account: "777788889999"`, 1)), sandbox},
		{"frank-num.yaml", []byte(strings.Replace(string(ok), "account: sandbox", "account: 777788889999", 1)), sandbox},
		{"README.md", ok, sandbox},
		{"ALICE.yaml", ok, sandbox},
		{".yaml", ok, sandbox},
		{"x\n::error::y.yaml", ok, sandbox},
		{"bomb.yaml", []byte("a: &a [x, x]\nb: [*a, *a]\n"), sandbox},
		{"two.yaml", append(append([]byte{}, ok...), "---\n"+string(ok)...), sandbox},
		{"nul.yaml", append(append([]byte{}, ok...), 0), sandbox},
		{"utf8.yaml", append(append([]byte{}, ok...), "ticket: \xff\n"...), sandbox},
		{"alice-policy.yaml", ok, []byte("version: 1\nname: sandbox\n")},
		{"alice-alias.yaml", ok, []byte(strings.Replace(string(sandbox), `id: "777788889999"`, `id: "111122223333"`, 1))},
		{"alice-dup.yaml", []byte(string(ok) + "requester: bob\n"), sandbox},
		{"alice-everyone.yaml", ok, []byte(strings.Replace(string(sandbox), "approvals: 1", "approvals: 0", 1))},
		{"alice-ticket.yaml", []byte(string(ok) + "ticket: INC-1\n"), []byte(string(sandbox) + "ticket:\n  pattern: \"INC-[0-9]+|.*\"\n")},
	} {
		f.Add(seed.data, seed.name, seed.policy)
	}
	identities, err := os.ReadFile(filepath.Join("..", "..", "policies", "identities.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, name string, pol []byte) {
		if name == "" || name == "." || name == ".." || len(name) > 100 || strings.ContainsAny(name, "/\x00") {
			t.Skip("not a file name")
		}
		ctx := context.Background()
		path := request.Dir + "/" + name
		r := gittest.New(t)
		r.Write(policy.IdentitiesFile, string(identities))
		r.Write("policies/sandbox.yaml", string(pol))
		r.Commit("policies")
		r.Write(path, string(data))
		r.Commit("request")
		repo, err := gitrepo.Open(ctx, r.Dir)
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()

		// The oracle: the request parses and the policies allow it.
		var want *policy.Decision
		rq, _ := request.Parse(path, data)
		set, _, err := policy.Load(ctx, repo.At("HEAD~1"))
		if err != nil {
			t.Fatal(err)
		}
		if rq != nil && set != nil && len(data) <= 1<<20 {
			if d := set.Evaluate(ctx, rq, nil); len(d.Findings) == 0 {
				want = &d
			}
		}

		// The PR check agrees.
		rep, err := validate.Tree(ctx, r.Dir, nil)
		if err != nil {
			t.Fatalf("validate: %v", err)
		}
		if clean := len(rep.Findings) == 0; clean != (want != nil) {
			t.Fatalf("validate found %d problems, but the request is allowed: %v\n%v", len(rep.Findings), want != nil, rep.Findings)
		}

		blob := r.Git("rev-parse", "HEAD:"+path)
		at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
		for _, gh := range []reconcile.Approvals{nil, approveAll{files: []approval.File{{Name: path, Status: "added", BlobSHA: blob}}, merged: at.Add(-time.Minute)}} {
			res, err := reconcile.Plan(ctx, reconcile.Config{Repo: repo, Owner: "acme", Name: "access", Branch: "main", Approvals: gh, Now: at})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if len(res.Steps) != 1 {
				t.Fatalf("plan has %d steps for one request file: %+v", len(res.Steps), res.Steps)
			}
			s := res.Steps[0]
			if s.Err != nil {
				t.Fatalf("plan step failed: %v", s.Err)
			}
			allowed := s.Kind != reconcile.Deny
			if allowed != (want != nil) {
				t.Fatalf("plan says %s (%s), but the request allowed is %v", s.Kind, s.Reason, want != nil)
			}
			if !allowed {
				continue
			}
			switch {
			case gh == nil && s.Kind != reconcile.Verify, gh != nil && s.Kind != reconcile.Grant && s.Kind != reconcile.Wait && s.Kind != reconcile.Keep && s.Kind != reconcile.Lapse:
				t.Fatalf("plan step %s for an allowed request", s.Kind)
			}
			st := s.Status
			if s.ID != rq.ID || st.UserName != want.UserName || st.Account != want.AccountID || st.PermissionSet != rq.PermissionSet || st.Policy != want.Policy.Name {
				t.Fatalf("plan grants %+v, the policies decided %+v for %+v", st, *want, *rq)
			}
			if gh != nil {
				if d := st.EndTime().Sub(st.StartTime()); d != rq.Duration || d > want.Policy.MaxDuration || d <= 0 {
					t.Fatalf("plan grants %s to %s (%s), the request asks %s, the policy allows %s", st.Start, st.End, d, rq.Duration, want.Policy.MaxDuration)
				}
			}
		}
	})
}
