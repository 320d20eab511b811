package world

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	idtypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"

	"github.com/elevate-dev/elevate/internal/approval"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
)

// Accounts are the AWS accounts the sample policies cover.
var Accounts = []string{"111122223333", "444455556666", "777788889999"}

// FastAWS are backend options for tests: tiny waits, the real limits.
func FastAWS() identitycenter.Options {
	return identitycenter.Options{
		PollInterval:  5 * time.Millisecond,
		MaxPolls:      20,
		RatePerSecond: 1000,
		RetryBackoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
			return 2 * time.Millisecond, nil
		}),
	}
}

// FastGitHub are verifier options for tests: GitHub's lag is waited for in
// milliseconds.
func FastGitHub() approval.Options {
	return approval.Options{Backoff: func(int) time.Duration { return time.Millisecond }}
}

// Config is what `elevate reconcile` builds, for a checkout of the remote,
// reaching the world's GitHub and AWS (through cfgAWS, w.AWS if zero). Each
// call builds a new Backend, as each run of the tool does.
func (w *World) Config(checkout *gittest.Repo, now time.Time, cfgAWS aws.Config) reconcile.Config {
	w.T.Helper()
	tally.runs.Add(1)
	repo, err := gitrepo.Open(context.Background(), checkout.Dir)
	if err != nil {
		w.T.Fatal(err)
	}
	w.T.Cleanup(repo.Close)
	if cfgAWS.HTTPClient == nil {
		cfgAWS = w.AWS
	}
	gh := w.GitHub.Client()
	return reconcile.Config{
		Repo: repo, As: ledger.DefaultSignature, Owner: githubfake.DefaultOwner, Name: githubfake.DefaultRepo,
		Branch: "main", Remote: "origin", Now: now,
		Backend:      identitycenter.NewFromConfig(cfgAWS, FastAWS()),
		Approvals:    approval.New(gh.PullRequests, gh.Teams, FastGitHub()),
		PushBackoff:  func(int) time.Duration { return time.Millisecond },
		VerifyWorker: 4,
	}
}

// Reconcile runs reconcile.Reconcile in a fresh clone at now, with change
// applied to the configuration first (nil: as built).
func (w *World) Reconcile(now time.Time, change func(*reconcile.Config)) (*reconcile.Result, error) {
	w.T.Helper()
	cfg := w.Config(gittest.Clone(w.T, w.Remote), now, aws.Config{})
	if change != nil {
		change(&cfg)
	}
	return reconcile.Reconcile(context.Background(), cfg)
}

// Tuple is one assignment: an Identity Center user name (or "id:" and the
// user id for a user not seeded), a permission set and an account.
type Tuple struct{ User, PermissionSet, Account string }

func (t Tuple) String() string { return t.User + " " + t.PermissionSet + " " + t.Account }

// State is what the remote's main says and what AWS holds.
type State struct {
	// Open and Closed are the statuses in status/ and archive/, by request id.
	Open, Closed map[string]*ledger.Status
	// Requests are the ids in requests/.
	Requests []string
	// Held are the assignments in AWS, each as often as AWS lists it.
	Held []Tuple
	// Records counts the state commits per request id and state.
	Records map[string]map[ledger.State]int
}

// Snapshot reads the remote's main and AWS (without faults).
func (w *World) Snapshot() State {
	t := w.T
	t.Helper()
	w.Admin.Git("fetch", "-q", "origin", "main")
	s := State{Open: map[string]*ledger.Status{}, Closed: map[string]*ledger.Status{}, Records: map[string]map[ledger.State]int{}}
	for _, dir := range []string{ledger.StatusDir, ledger.ArchiveDir, "requests"} {
		out, err := w.Admin.TryGit("ls-tree", "--name-only", "FETCH_HEAD", dir+"/")
		if err != nil || out == "" {
			continue
		}
		for _, p := range strings.Split(out, "\n") {
			base := strings.TrimPrefix(p, dir+"/")
			switch {
			case dir == "requests":
				s.Requests = append(s.Requests, strings.TrimSuffix(base, ".yaml"))
			case dir == ledger.StatusDir || strings.HasSuffix(base, ".status.yaml"):
				st, err := ledger.ParseStatus([]byte(w.Admin.Git("show", "FETCH_HEAD:"+p)))
				if err != nil {
					t.Errorf("%s on the remote: %v", p, err)
					continue
				}
				if dir == ledger.StatusDir {
					s.Open[st.Request] = st
				} else {
					s.Closed[st.Request] = st
				}
			}
		}
	}
	log := w.Admin.Git("log", "--format=%x01%B", w.Base+"..FETCH_HEAD")
	for _, msg := range strings.Split(log, "\x01") {
		id, state := trailer(msg, ledger.TrailerRequest), trailer(msg, ledger.TrailerState)
		if id == "" || trailer(msg, ledger.TrailerStateCommit) == "" {
			continue
		}
		if s.Records[id] == nil {
			s.Records[id] = map[ledger.State]int{}
		}
		s.Records[id][ledger.State(state)]++
	}
	s.Held = w.Held(t)
	return s
}

// Held lists the assignments AWS holds on the sample accounts, each as
// often as AWS lists it, sorted. It reads moto only (without faults), so
// it is safe to call from parallel subtests.
func (w *World) Held(t testing.TB) []Tuple {
	t.Helper()
	names := map[string]string{}
	for name, id := range w.Seed.UserIDs {
		names[id] = name
	}
	var held []Tuple
	for _, account := range Accounts {
		for _, set := range PermissionSets {
			list, err := moto.ListAssignments(context.Background(), w.AWS, w.Seed.InstanceARN, account, w.Seed.PermissionSetARNs[set])
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range list {
				user := names[aws.ToString(a.PrincipalId)]
				if user == "" {
					user = "id:" + aws.ToString(a.PrincipalId)
				}
				held = append(held, Tuple{User: user, PermissionSet: set, Account: account})
			}
		}
	}
	sort.Slice(held, func(i, j int) bool { return held[i].String() < held[j].String() })
	return held
}

func trailer(msg, key string) string {
	for _, line := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Disagreements lists every way git and AWS disagree: an active grant
// without its assignment, an assignment no active grant explains (unless
// listed in standing), an assignment held twice, a request recorded twice
// in one state or closed twice, a request both open and closed, and each
// of ids (the requests merged) that is neither open with a status nor
// closed.
func (s State) Disagreements(ids []string, standing ...Tuple) []string {
	var out []string
	want := map[Tuple]bool{}
	for _, t := range standing {
		want[t] = true
	}
	for id, st := range s.Open {
		if st.State == ledger.Active {
			want[Tuple{User: st.UserName, PermissionSet: st.PermissionSet, Account: st.Account}] = true
		}
		if s.Closed[id] != nil {
			out = append(out, fmt.Sprintf("%s is both open (%s) and closed (%s)", id, st.State, s.Closed[id].State))
		}
	}
	held := map[Tuple]int{}
	for _, t := range s.Held {
		held[t]++
	}
	for t, n := range held {
		if n > 1 {
			out = append(out, fmt.Sprintf("assignment %s is held %d times", t, n))
		}
		if !want[t] {
			out = append(out, fmt.Sprintf("assignment %s is held but no active grant explains it", t))
		}
	}
	for t := range want {
		if held[t] == 0 {
			out = append(out, fmt.Sprintf("assignment %s is recorded active but AWS does not hold it", t))
		}
	}
	for id, states := range s.Records {
		closed := 0
		for state, n := range states {
			if n > 1 {
				out = append(out, fmt.Sprintf("%s is recorded %s %d times", id, state, n))
			}
			if state.Closed() {
				closed += n
			}
		}
		if closed > 1 {
			out = append(out, fmt.Sprintf("%s is closed by %d commits", id, closed))
		}
	}
	for _, id := range ids {
		if s.Open[id] == nil && s.Closed[id] == nil {
			out = append(out, fmt.Sprintf("%s is lost: neither open with a status nor closed", id))
		}
	}
	sort.Strings(out)
	return out
}

// Agree fails t with every disagreement between the remote and AWS (see
// State.Disagreements) and returns the snapshot.
func (w *World) Agree(t testing.TB, ids []string, standing ...Tuple) State {
	t.Helper()
	tally.checks.Add(1)
	s := w.Snapshot()
	for _, d := range s.Disagreements(ids, standing...) {
		t.Error(d)
	}
	return s
}

// CreateUser adds an Identity Store user (outside the tool, as an admin
// would) and returns its id.
func CreateUser(w *World, userName string) (string, error) {
	ids := identitystore.NewFromConfig(moto.WithoutFaults(w.AWS))
	out, err := ids.CreateUser(context.Background(), &identitystore.CreateUserInput{
		IdentityStoreId: aws.String(w.Seed.IdentityStoreID),
		UserName:        aws.String(userName),
		DisplayName:     aws.String(userName),
		Name:            &idtypes.Name{GivenName: aws.String(userName), FamilyName: aws.String("Test")},
	})
	if err != nil {
		return "", err
	}
	id := aws.ToString(out.UserId)
	w.Seed.UserIDs[userName] = id
	return id, nil
}

// Fork is a new world in the state w is in now, for tests that try many
// things from one starting point: a copy of the remote, the same GitHub
// server (reconcile only reads it), and a new moto account seeded alike
// and holding the same assignments (state in git names users, permission
// sets and accounts, never ids, so the copy is faithful). Parallel
// subtests may fork the same w while nothing else uses it.
func (w *World) Fork(t testing.TB) *World {
	t.Helper()
	remote := gittest.Bare(t)
	if out, err := exec.Command("cp", "-a", w.Remote+"/.", remote).CombinedOutput(); err != nil {
		t.Fatalf("copy the remote: %v: %s", err, out)
	}
	held := w.Held(t)
	f := &World{T: t, Remote: remote, GitHub: w.GitHub, Base: w.Base, nextPR: w.nextPR, clock: w.clock, prs: w.prs[:len(w.prs):len(w.prs)]}
	f.Admin = gittest.Clone(t, remote)
	f.Admin.Git("checkout", "-q", "main")
	f.Faults = moto.NewFaults()
	f.AWS = moto.Shared().Config(t, moto.WithFaults(f.Faults))
	var users []string
	for _, u := range Users {
		users = append(users, u)
	}
	sort.Strings(users)
	seed, err := moto.Seed(context.Background(), f.AWS, users, PermissionSets)
	if err != nil {
		t.Fatal(err)
	}
	f.Seed = seed
	sso := ssoadmin.NewFromConfig(moto.WithoutFaults(f.AWS))
	for _, h := range held {
		_, err := sso.CreateAccountAssignment(context.Background(), &ssoadmin.CreateAccountAssignmentInput{
			InstanceArn: aws.String(seed.InstanceARN), PermissionSetArn: aws.String(seed.PermissionSetARNs[h.PermissionSet]),
			PrincipalId: aws.String(seed.UserIDs[h.User]), PrincipalType: ssotypes.PrincipalTypeUser,
			TargetId: aws.String(h.Account), TargetType: ssotypes.TargetTypeAwsAccount,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// tally counts what the tests of one binary did, for a report.
var tally struct{ runs, checks, kills atomic.Int64 }

// CountRun counts a run made without Config, Reconcile or Run (a built
// binary).
func CountRun() { tally.runs.Add(1) }

// CountKill counts a run a test killed.
func CountKill() { tally.kills.Add(1) }

// Tally is how many runs were made (every Config built, every command run),
// how many of them were killed, and how many times Agree checked that git
// and AWS agree, in this test binary so far.
func Tally() (runs, kills, checks int64) {
	return tally.runs.Load(), tally.kills.Load(), tally.checks.Load()
}
