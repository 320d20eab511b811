package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"

	"github.com/elevate-dev/elevate/internal/approval"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/request"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
)

// A large state, built directly: users u000.., accounts and two
// permission sets, one policy covering them all.
const (
	benchUsers    = 100
	benchAccounts = 10
)

var benchSets = []string{"Admin", "ReadOnly"}

func benchAccount(i int) string { return fmt.Sprintf("%012d", 500_000_000_000+i) }

// benchTuple is the i-th distinct assignment (user, set, account).
func benchTuple(i int) (user, set, account string) {
	return fmt.Sprintf("u%03d", i%benchUsers), benchSets[(i/benchUsers)%len(benchSets)], benchAccount(i / (benchUsers * len(benchSets)) % benchAccounts)
}

// benchState is a remote and an Identity Center holding n open requests:
// revoke of them active and ended, grant pending with their start passed,
// keep active and running; and fresh new requests merged as pull requests
// the GitHub server knows. Every active grant's assignment exists in AWS.
type benchState struct {
	remote string
	gh     *githubfake.Server
	cfg    aws.Config
	faults *moto.Faults
	now    time.Time
}

func buildBench(b *testing.B, grant, revoke, keep, fresh int) *benchState {
	b.Helper()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	st := &benchState{remote: gittest.Bare(b), now: now}
	repo := gittest.Clone(b, st.remote)
	repo.Git("checkout", "-q", "-B", "main")
	var accounts, eligible, identities strings.Builder
	for i := range benchAccounts {
		fmt.Fprintf(&accounts, "  - id: \"%s\"\n", benchAccount(i))
	}
	for i := range benchUsers {
		fmt.Fprintf(&eligible, "u%03d, ", i)
		fmt.Fprintf(&identities, "  u%03d: u%03d@example.com\n", i, i)
	}
	repo.Write("policies/bench.yaml", "version: 1\nname: bench\naccounts:\n"+accounts.String()+
		"permissionSets: [Admin, ReadOnly]\neligible:\n  users: ["+strings.TrimSuffix(eligible.String(), ", ")+
		"]\napprovers:\n  users: [carol]\napprovals: 1\nmaxDuration: 1d\n")
	repo.Write("policies/identities.yaml", "version: 1\nidentities:\n"+identities.String())
	repo.Commit("policies")

	type open struct {
		id    string
		state ledger.State
		start time.Time
	}
	var opens []open
	n := 0
	add := func(count int, state ledger.State, start time.Time, prefix string) {
		for range count {
			opens = append(opens, open{id: fmt.Sprintf("%s-%04d", prefix, n), state: state, start: start})
			n++
		}
	}
	add(revoke, ledger.Active, now.Add(-3*time.Hour), "revoke")
	add(grant, ledger.Pending, now.Add(-time.Minute), "grant")
	add(keep, ledger.Active, now.Add(-time.Hour), "keep")
	for i, o := range opens {
		u, set, account := benchTuple(i)
		repo.Write("requests/"+o.id+".yaml", fmt.Sprintf("requester: %s\naccount: \"%s\"\npermissionSet: %s\nduration: 2h\nreason: Benchmark request %s\n", u, account, set, o.id))
	}
	merge := repo.Commit("requests")
	for i, o := range opens {
		u, set, account := benchTuple(i)
		s := &ledger.Status{Version: 1, Request: o.id, State: o.state, Requester: u, UserName: u + "@example.com", Account: account,
			PermissionSet: set, Policy: "bench", PullRequest: i + 1, MergeCommit: merge, ApprovedBy: []string{"carol"},
			Start: request.FormatTime(o.start), End: request.FormatTime(o.start.Add(2 * time.Hour))}
		if o.state == ledger.Active {
			s.GrantedAt = s.Start
		}
		repo.Write(ledger.StatusPath(o.id), string(s.Marshal()))
	}
	// The statuses are elevate's own commit, as reconcile trusts only those.
	if len(opens) > 0 {
		repo.Git("add", "-A")
		sig := ledger.DefaultSignature
		cmd := exec.Command("git", "commit", "-q", "-m", "elevate: state")
		cmd.Dir = repo.Dir
		cmd.Env = append(append(os.Environ(), gittest.Env()...), "GIT_AUTHOR_NAME="+sig.Name, "GIT_AUTHOR_EMAIL="+sig.Email,
			"GIT_COMMITTER_NAME="+sig.Name, "GIT_COMMITTER_EMAIL="+sig.Email)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("commit state: %v: %s", err, out)
		}
	}

	// New requests: one squash-merged pull request each.
	st.gh = githubfake.New(b)
	for i := range fresh {
		j := len(opens) + i
		id := fmt.Sprintf("new-%04d", i)
		u, set, account := benchTuple(j)
		path := "requests/" + id + ".yaml"
		repo.Write(path, fmt.Sprintf("requester: %s\naccount: \"%s\"\npermissionSet: %s\nduration: 2h\nreason: Benchmark request %s\nstart: \"%s\"\n",
			u, account, set, id, request.FormatTime(now.Add(-time.Minute))))
		base := repo.Git("rev-parse", "HEAD")
		sha := repo.CommitAs(u, u+"@users.noreply.github.com", "add "+path)
		st.gh.AddPR(githubfake.PR{Number: 10_000 + i, Author: u, HeadSHA: sha, BaseSHA: base, Merged: true, MergedBy: "carol", MergeCommitSHA: sha,
			Commits: []githubfake.Commit{{SHA: sha, AuthorLogin: u, CommitterLogin: u}},
			Files:   []githubfake.File{{Name: path, Status: "added", SHA: repo.Git("rev-parse", sha+":"+path)}}})
		st.gh.AddReview(10_000+i, githubfake.Review{User: "carol", State: "APPROVED", CommitID: sha})
	}
	repo.Git("push", "-q", "origin", "main")

	st.faults = moto.NewFaults()
	st.cfg = moto.Shared().Config(b, moto.WithFaults(st.faults))
	var users []string
	for i := range benchUsers {
		users = append(users, fmt.Sprintf("u%03d@example.com", i))
	}
	seed, err := moto.Seed(context.Background(), st.cfg, users, benchSets)
	if err != nil {
		b.Fatal(err)
	}
	// Every active grant holds its assignment.
	sso := ssoadmin.NewFromConfig(moto.WithoutFaults(st.cfg))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make([]error, len(opens))
	for i, o := range opens {
		if o.state != ledger.Active {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			u, set, account := benchTuple(i)
			_, errs[i] = sso.CreateAccountAssignment(context.Background(), &ssoadmin.CreateAccountAssignmentInput{
				InstanceArn: aws.String(seed.InstanceARN), PermissionSetArn: aws.String(seed.PermissionSetARNs[set]),
				PrincipalId: aws.String(seed.UserIDs[u+"@example.com"]), PrincipalType: types.PrincipalTypeUser,
				TargetId: aws.String(account), TargetType: types.TargetTypeAwsAccount,
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// run reconciles the state once, as `elevate reconcile` would with opts,
// and reports what it cost.
func (st *benchState) run(b *testing.B, opts identitycenter.Options) {
	b.Helper()
	checkout := gittest.Clone(b, st.remote)
	repo, err := gitrepo.Open(context.Background(), checkout.Dir)
	if err != nil {
		b.Fatal(err)
	}
	defer repo.Close()
	gh := st.gh.Client()
	var marks sync.Map
	cfg := reconcile.Config{
		Repo: repo, As: ledger.DefaultSignature, Owner: githubfake.DefaultOwner, Name: githubfake.DefaultRepo,
		Branch: "main", Remote: "origin", Now: st.now,
		Backend:   identitycenter.NewFromConfig(st.cfg, opts),
		Approvals: approval.New(gh.PullRequests, gh.Teams, approval.Options{}),
		Crash: func(p string) error {
			if p == "plan" || p == "recorded" || p == "push" || p == "pushed" || strings.HasPrefix(p, "record ") {
				marks.LoadOrStore(strings.Fields(p)[0], time.Now())
			}
			return nil
		},
	}
	st.gh.ResetCalls()
	before := st.faults.CallCounts()
	start := time.Now()
	res, err := reconcile.Reconcile(context.Background(), cfg)
	wall := time.Since(start)
	if err != nil || len(res.Failed()) > 0 || !res.Pushed {
		b.Fatalf("reconcile: %v, %d failed, pushed %v", err, len(res.Failed()), res != nil && res.Pushed)
	}
	after := st.faults.CallCounts()
	calls := func(ops ...string) float64 {
		n := 0
		for _, op := range ops {
			if op == "*" {
				for k, v := range after {
					n += v - before[k]
				}
				continue
			}
			n += after[op] - before[op]
		}
		return float64(n)
	}
	kinds := map[reconcile.Kind]int{}
	for _, s := range res.Steps {
		kinds[s.Kind]++
	}
	at := func(p string) time.Time { v, _ := marks.Load(p); t, _ := v.(time.Time); return t }
	total := calls("*")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(at("plan").Sub(start).Seconds(), "plan-s")
	b.ReportMetric(at("record").Sub(at("plan")).Seconds(), "aws-s")
	b.ReportMetric(at("recorded").Sub(at("record")).Seconds(), "record-s")
	b.ReportMetric(at("pushed").Sub(at("push")).Seconds(), "push-s")
	b.ReportMetric(total, "aws-calls")
	b.ReportMetric(total/wall.Seconds(), "aws-calls/s")
	b.ReportMetric(float64(st.faults.MaxPerSecond()), "max-aws-calls/s")
	b.ReportMetric(float64(st.faults.MaxOutstanding()), "max-in-flight")
	b.ReportMetric(calls(moto.OpCreateAccountAssignment), "creates")
	b.ReportMetric(calls(moto.OpDeleteAccountAssignment), "deletes")
	b.ReportMetric(calls("ListAccountAssignments"), "lists")
	b.ReportMetric(calls(moto.OpDescribeCreationStatus, moto.OpDescribeDeletionStatus), "polls")
	if n := kinds[reconcile.Grant]; n > 0 {
		b.ReportMetric(calls(moto.OpCreateAccountAssignment, moto.OpDescribeCreationStatus)/float64(n), "create+poll/grant")
	}
	if n := kinds[reconcile.Revoke]; n > 0 {
		b.ReportMetric(calls(moto.OpDeleteAccountAssignment, moto.OpDescribeDeletionStatus)/float64(n), "delete+poll/revoke")
	}
	open := 0
	for _, s := range res.Steps {
		if s.Kind != reconcile.Unexplained && s.Kind != reconcile.Remove {
			open++
		}
	}
	b.ReportMetric(total/float64(open), "aws-calls/request")
	b.ReportMetric(float64(len(st.gh.Calls()))/float64(open), "github-calls/request")
	b.ReportMetric(float64(kinds[reconcile.Grant]+kinds[reconcile.Revoke]+kinds[reconcile.Release]), "transitions")
}

// BenchmarkReconcile measures one run on a large state against moto with
// Identity Center's real limits (15 operations in flight, 20 calls per
// second). Run it once per size:
//
//	go test -run '^$' -bench BenchmarkReconcile -benchtime 1x -timeout 30m ./internal/reconcile
//
// "grants-revokes" is issue 6's 1,000 grants to make and 1,000 to revoke;
// with -async each assignment operation is IN_PROGRESS for one status
// check a second later, as in AWS. "active-expire" is issue 3's 1,000
// active grants of which 100 expire; "new-requests" verifies 100 requests
// merged since the last run against the GitHub server.
func BenchmarkReconcile(b *testing.B) {
	cases := []struct {
		name                      string
		grant, revoke, keep, news int
		async                     bool
	}{
		{name: "grants-revokes-1000+1000", grant: 1000, revoke: 1000},
		{name: "grants-revokes-1000+1000-async", grant: 1000, revoke: 1000, async: true},
		{name: "active-1000-expire-100", revoke: 100, keep: 900},
		{name: "new-requests-100", news: 100},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				st := buildBench(b, c.grant, c.revoke, c.keep, c.news)
				opts := identitycenter.Options{}
				if c.async {
					st.faults.Inject(moto.OpCreateAccountAssignment, moto.Always, moto.InProgress(1))
					st.faults.Inject(moto.OpDeleteAccountAssignment, moto.Always, moto.InProgress(1))
				}
				b.StartTimer()
				st.run(b, opts)
			}
		})
	}
}

// BenchmarkRecord measures recording 1,000 transitions as state commits,
// the batch elevate makes (one git fast-import) against one `git commit`
// per transition as before.
func BenchmarkRecord(b *testing.B) {
	const n = 1000
	setup := func(b *testing.B) (*gittest.Repo, *gitrepo.Repo) {
		r := gittest.New(b)
		for i := range n {
			r.Write(fmt.Sprintf("requests/r-%04d.yaml", i), fmt.Sprintf("requester: u%03d\n", i%100))
		}
		r.Commit("requests")
		repo, err := gitrepo.Open(context.Background(), r.Dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(repo.Close)
		return r, repo
	}
	status := func(i int) (ledger.Entry, *ledger.Status) {
		id := fmt.Sprintf("r-%04d", i)
		st := &ledger.Status{State: ledger.Active, Requester: "u", UserName: "u@example.com", Account: benchAccount(0), PermissionSet: "Admin",
			Start: "2026-12-03T10:00:00Z", End: "2026-12-03T12:00:00Z", GrantedAt: "2026-12-03T10:00:00Z"}
		return ledger.Entry{ID: id, Path: filepath.ToSlash(filepath.Join("requests", id+".yaml"))}, st
	}
	b.Run("batch", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			_, repo := setup(b)
			b.StartTimer()
			batch := (&ledger.Ledger{Repo: repo}).Begin()
			for i := range n {
				e, st := status(i)
				batch.Record(e, st, "grant")
			}
			if _, err := batch.Commit(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n), "commits/op")
	})
	b.Run("git-commit-each", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			r, _ := setup(b)
			b.StartTimer()
			for i := range n {
				e, st := status(i)
				st.Version, st.Request = 1, e.ID
				r.Write(ledger.StatusPath(e.ID), string(st.Marshal()))
				r.Git("add", "-A", "--", ledger.StatusPath(e.ID))
				r.Git("commit", "-q", "--no-verify", "-m", ledger.Message(st, "grant"))
				r.Git("rev-parse", "HEAD")
			}
		}
		b.ReportMetric(float64(n), "commits/op")
	})
}
