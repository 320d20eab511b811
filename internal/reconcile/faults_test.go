package reconcile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// faultScenario: frank's grant ends at t0+1h; alice and bob have new
// requests. The run at faultTime revokes one and grants two.
func faultScenario(t *testing.T) (*world.World, []string) {
	t.Helper()
	w := world.New(t)
	merge(w, "frank-old", requestFile("frank", admin, "1h", ""))
	mustReconcile(t, w, t0.Add(time.Minute), nil)
	merge(w, "alice-new", requestFile("alice", admin, "4h", ""))
	merge(w, "bob-read", requestFile("bob", reader, "4h", ""))
	return w, []string{"frank-old", "alice-new", "bob-read"}
}

var faultTime = t0.Add(90 * time.Minute)

// TestTransientAWSFaults: every kind of transient fault on every call a
// run makes is retried (bounded, with backoff) and the run succeeds.
func TestTransientAWSFaults(t *testing.T) {
	t.Parallel()
	start, ids := faultScenario(t)
	ops := []string{"ListInstances", "ListPermissionSets", "DescribePermissionSet", "GetUserId", "ListAccountAssignments",
		moto.OpCreateAccountAssignment, moto.OpDeleteAccountAssignment}
	faults := map[string]moto.Fault{
		"throttling": moto.Throttling(), "conflict": moto.Conflict(), "HTTP 500": moto.HTTPStatus(500),
		"HTTP 503": moto.HTTPStatus(503), "connection reset": moto.ConnectionReset(), "slow": moto.Delay(50 * time.Millisecond),
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := start.Fork(t)
			for _, op := range ops {
				w.Faults.Inject(op, 2, fault)
			}
			w.Faults.Inject(moto.OpCreateAccountAssignment, 1, moto.InProgress(3))
			w.Faults.Inject(moto.OpDeleteAccountAssignment, 1, moto.InProgress(2))
			mustReconcile(t, w, faultTime, nil)
			for _, u := range w.Faults.Unused() {
				// A fault that fails a call makes the SDK try it again; a
				// slow call is not repeated, so its second rule stays.
				if !strings.Contains(u, "IN_PROGRESS") && (name != "slow" || !strings.Contains(u, "1 left")) {
					t.Errorf("fault not injected: %s", u)
				}
			}
			if s := w.Agree(t, ids); len(s.Held) != 2 {
				t.Errorf("held %v, want two grants", s.Held)
			}
		})
	}
}

// TestLastingAWSFaults: faults that outlast the retries fail only the
// request they hit; the others are carried out and recorded, the failure
// is reported, and the next run converges.
func TestLastingAWSFaults(t *testing.T) {
	t.Parallel()
	start, ids := faultScenario(t)
	tests := []struct {
		name   string
		inject func(*moto.Faults)
		// failed is the step that fails; closed, when set, is the state it
		// is closed in instead of being retried.
		failed string
		closed ledger.State
		check  func(*testing.T, error)
	}{
		{"create throttled beyond retries", func(f *moto.Faults) { f.Inject(moto.OpCreateAccountAssignment, 6, moto.Throttling()) }, "alice-new", "", nil},
		{"create IN_PROGRESS forever", func(f *moto.Faults) { f.Inject(moto.OpCreateAccountAssignment, 1, moto.Stuck()) }, "alice-new", "", func(t *testing.T, err error) {
			var te *identitycenter.TimeoutError
			if !errors.As(err, &te) {
				t.Errorf("err = %v, want a TimeoutError", err)
			}
		}},
		{"delete IN_PROGRESS forever", func(f *moto.Faults) { f.Inject(moto.OpDeleteAccountAssignment, 1, moto.Stuck()) }, "frank-old", "", nil},
		{"delete conflicts beyond retries", func(f *moto.Faults) { f.Inject(moto.OpDeleteAccountAssignment, 6, moto.Conflict()) }, "frank-old", "", nil},
		{"create FAILED", func(f *moto.Faults) {
			f.Inject(moto.OpCreateAccountAssignment, 1, moto.FailedAfter(1, "quota of IAM roles reached"))
		}, "alice-new", ledger.Failed, nil},
		{"create hangs past the call timeout", func(f *moto.Faults) { f.Inject(moto.OpCreateAccountAssignment, 1, moto.Delay(time.Hour)) }, "alice-new", "", func(t *testing.T, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want a deadline", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := start.Fork(t)
			tt.inject(w.Faults)
			res, err := w.Reconcile(faultTime, func(c *reconcile.Config) {
				// Sequential, so the faults hit the first request's calls.
				c.Workers = 1
				opts := world.FastAWS()
				opts.CallTimeout = 200 * time.Millisecond
				c.Backend = identitycenter.NewFromConfig(w.AWS, opts)
			})
			if err != nil {
				t.Fatalf("reconcile: %v\n%s", err, describe(res))
			}
			var failed []string
			for _, s := range res.Failed() {
				failed = append(failed, s.ID)
				if tt.check != nil {
					tt.check(t, s.Err)
				}
			}
			s := w.Snapshot()
			if tt.closed != "" {
				if len(failed) != 0 || s.Closed[tt.failed] == nil || s.Closed[tt.failed].State != tt.closed {
					t.Errorf("failed steps %v, %s closed as %+v; want it closed %s", failed, tt.failed, s.Closed[tt.failed], tt.closed)
				}
			} else if diff := cmp.Diff([]string{tt.failed}, failed); diff != "" {
				t.Errorf("failed steps (-want +got):\n%s\n%s", diff, describe(res))
			}
			// Every other step was carried out and pushed.
			for _, id := range ids {
				if id == tt.failed {
					continue
				}
				if st := s.Open[id]; id != "frank-old" && (st == nil || st.State != ledger.Active) {
					t.Errorf("%s not granted: %+v", id, st)
				}
				if id == "frank-old" && s.Closed[id] == nil {
					t.Errorf("%s not revoked", id)
				}
			}
			// A new request whose grant failed has its approval recorded.
			if tt.failed == "alice-new" && tt.closed == "" {
				if st := s.Open["alice-new"]; st == nil || st.State != ledger.Pending || !strings.Contains(st.Reason, "retried by the next run") {
					t.Errorf("alice-new: status %+v, want pending with the failure", st)
				}
			}
			mustReconcile(t, w, faultTime.Add(5*time.Minute), nil)
			held := 2
			if tt.closed != "" {
				held = 1
			}
			if s := w.Agree(t, ids); len(s.Held) != held {
				t.Errorf("after the next run: held %v, want %d", s.Held, held)
			}
		})
	}
}

// TestGitHubFaults: GitHub errors fail only the request they hit (it is
// retried by the next run, not denied); rate limits are waited out as
// GitHub asks, within one run.
func TestGitHubFaults(t *testing.T) {
	t.Parallel()
	start, ids := faultScenario(t)
	tests := []struct {
		name   string
		inject func(*githubfake.Server)
		failed []string
	}{
		{"reviews answer 502", func(s *githubfake.Server) { s.Inject(githubfake.RouteReviews, 1, githubfake.Status(502)) }, []string{"alice-new"}},
		{"files answer 500", func(s *githubfake.Server) { s.Inject(githubfake.RoutePullFiles, 1, githubfake.Status(500)) }, []string{"alice-new"}},
		{"primary rate limit until the reset", func(s *githubfake.Server) {
			s.Inject(githubfake.RouteCommitPulls, 1, githubfake.PrimaryLimit(403, time.Now().Add(time.Second)))
		}, nil},
		{"secondary rate limit with Retry-After", func(s *githubfake.Server) {
			s.Inject(githubfake.RouteReviews, 1, githubfake.SecondaryLimit(429, time.Second))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := start.Fork(t)
			// Each subtest has its own GitHub: the fork shares the start's.
			w.GitHub = githubfake.New(t)
			w.GitHub.SetToken(world.Token)
			replayPRs(t, start, w)
			tt.inject(w.GitHub)
			begin := time.Now()
			res, err := w.Reconcile(faultTime, func(c *reconcile.Config) { c.VerifyWorker = 1 })
			if err != nil {
				t.Fatalf("reconcile: %v\n%s", err, describe(res))
			}
			var failed []string
			for _, s := range res.Failed() {
				failed = append(failed, s.ID)
				if s.Kind != reconcile.Verify {
					t.Errorf("%s failed as %s, want verify (retried, not denied)", s.ID, s.Kind)
				}
			}
			if diff := cmp.Diff(tt.failed, failed); diff != "" {
				t.Errorf("failed (-want +got):\n%s\n%s", diff, describe(res))
			}
			if tt.failed == nil && time.Since(begin) < 900*time.Millisecond {
				t.Errorf("the run took %s: it did not wait for the rate limit", time.Since(begin))
			}
			mustReconcile(t, w, faultTime.Add(5*time.Minute), nil)
			if s := w.Agree(t, ids); len(s.Held) != 2 {
				t.Errorf("held %v, want two grants", s.Held)
			}
		})
	}
}

// replayPRs tells a new GitHub server about the pull requests merged in
// from (the remote's merges are the same commits).
func replayPRs(t testing.TB, from, to *world.World) {
	t.Helper()
	for n := 1; ; n++ {
		pr, ok := from.PR(n)
		if !ok {
			return
		}
		if pr.PR.Number == 0 {
			continue
		}
		to.GitHub.AddPR(pr.PR)
		to.GitHub.AssociateCommit(pr.PR.MergeCommitSHA, n)
		for _, r := range pr.Reviews {
			to.GitHub.AddReview(n, r)
		}
	}
}

// TestDeadline: a run whose AWS or GitHub calls hang stops at the
// deadline, records and pushes everything it finished, and reports what
// it did not.
func TestDeadline(t *testing.T) {
	t.Parallel()
	start, ids := faultScenario(t)
	tests := []struct {
		name   string
		inject func(*world.World)
	}{
		{"an AWS create hangs", func(w *world.World) { w.Faults.Inject(moto.OpCreateAccountAssignment, 1, moto.Delay(time.Hour)) }},
		{"GitHub hangs", func(w *world.World) {
			w.GitHub = githubfake.New(w.T)
			w.GitHub.SetToken(world.Token)
			replayPRs(w.T, start, w)
			w.GitHub.Inject(githubfake.RoutePullFiles, 1, githubfake.Hang(time.Hour))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := start.Fork(t)
			tt.inject(w)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			cfg := w.Config(gittest.Clone(t, w.Remote), faultTime, w.AWS)
			cfg.Reserve = time.Second
			begin := time.Now()
			res, err := reconcile.Reconcile(ctx, cfg)
			took := time.Since(begin)
			if err != nil {
				t.Fatalf("reconcile: %v\n%s", err, describe(res))
			}
			if took > 3500*time.Millisecond {
				t.Errorf("the run took %s, past its 3s deadline", took)
			}
			// The hung call was one of the two grants'; everything else
			// was carried out, recorded and pushed.
			failed := res.Failed()
			if len(failed) != 1 || !errors.Is(failed[0].Err, context.DeadlineExceeded) || failed[0].ID == "frank-old" {
				t.Fatalf("failed steps: want one grant stopped by the deadline\n%s", describe(res))
			}
			if !res.Pushed {
				t.Error("what was done was not pushed")
			}
			s := w.Snapshot()
			for _, id := range []string{"alice-new", "bob-read"} {
				if id != failed[0].ID && (s.Open[id] == nil || s.Open[id].State != ledger.Active) {
					t.Errorf("%s was not granted and recorded: %+v", id, s.Open[id])
				}
			}
			if s.Closed["frank-old"] == nil {
				t.Error("frank-old was not revoked and recorded")
			}
			mustReconcile(t, w, faultTime.Add(5*time.Minute), nil)
			if s := w.Agree(t, ids); len(s.Held) != 2 {
				t.Errorf("held %v, want two grants", s.Held)
			}
		})
	}
}

// TestMainMoved: a push rejected because main moved between the plan and
// the push (another merge landed) is followed by a fetch and a new plan,
// so the new request is granted too, and each transition is recorded once.
func TestMainMoved(t *testing.T) {
	t.Parallel()
	w, ids := faultScenario(t)
	moves := 0
	res := mustReconcile(t, w, faultTime, func(c *reconcile.Config) {
		c.Crash = func(point string) error {
			if point == "push" && moves < 2 {
				moves++
				merge(w, "erin-"+string(rune('a'+moves)), requestFile("alice", reader, "4h", ""))
			}
			return nil
		}
	})
	if moves != 2 || !res.Pushed {
		t.Fatalf("moves %d, pushed %v", moves, res.Pushed)
	}
	ids = append(ids, "erin-b", "erin-c")
	s := w.Agree(t, ids)
	if diff := cmp.Diff([]world.Tuple{tuple("alice", admin), tuple("alice", reader), tuple("bob", reader)}, s.Held); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
}

// hook installs an executable hook script in the remote.
func hook(t *testing.T, remote, name, script string) {
	t.Helper()
	p := filepath.Join(remote, "hooks", name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestPushRefused: a remote that refuses the push (a ruleset, a hook)
// fails the run with a message that says so, without a loop of retries;
// the grants it made are undone, since nothing records them, and the next
// run that can push makes and records them.
func TestPushRefused(t *testing.T) {
	t.Parallel()
	w, ids := faultScenario(t)
	hook(t, w.Remote, "pre-receive", `echo "GH013: Repository rule violations found for refs/heads/main." >&2; exit 1`)
	plans := 0
	res, err := w.Reconcile(faultTime, func(c *reconcile.Config) {
		c.Crash = func(p string) error {
			if p == "plan" {
				plans++
			}
			return nil
		}
	})
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "GH013") {
		t.Fatalf("err = %v, want the remote's refusal", err)
	}
	if plans != 1 || res.Pushed {
		t.Errorf("%d plans, pushed %v; want one plan and no push", plans, res.Pushed)
	}
	undone := 0
	for _, s := range res.Steps {
		if s.Kind == reconcile.Grant && s.Err != nil && strings.Contains(s.Err.Error(), "undone") {
			undone++
		}
	}
	if held := w.Held(t); undone != 2 || len(held) != 0 {
		t.Errorf("%d grants undone, AWS holds %v; want both undone and nothing held\n%s", undone, held, describe(res))
	}
	os.Remove(filepath.Join(w.Remote, "hooks", "pre-receive"))
	mustReconcile(t, w, faultTime.Add(time.Minute), nil)
	if s := w.Agree(t, ids); len(s.Held) != 2 {
		t.Errorf("held %v after the next run, want the two grants", s.Held)
	}
}

// TestPushTransportFailure: a push that fails in transit is tried again
// after a backoff.
func TestPushTransportFailure(t *testing.T) {
	t.Parallel()
	w, ids := faultScenario(t)
	hidden := w.Remote + ".away"
	tries := 0
	mustReconcile(t, w, faultTime, func(c *reconcile.Config) {
		c.Crash = func(p string) error {
			if p == "push" {
				// The remote goes away until the first backoff.
				if err := os.Rename(w.Remote, hidden); err != nil {
					return err
				}
			}
			return nil
		}
		c.PushBackoff = func(n int) time.Duration {
			tries = n
			if err := os.Rename(hidden, w.Remote); err != nil {
				t.Error(err)
			}
			return time.Millisecond
		}
	})
	if tries != 1 {
		t.Errorf("backoff called for attempt %d, want 1", tries)
	}
	w.Agree(t, ids)
}

// TestPushHangs: a push that hangs (a hook that never ends) is stopped at
// the deadline, with its children.
func TestPushHangs(t *testing.T) {
	t.Parallel()
	w, _ := faultScenario(t)
	// The hook outlives the push it holds up: it records its pid so that
	// the test can end it.
	pidFile := filepath.Join(t.TempDir(), "hook.pid")
	hook(t, w.Remote, "pre-receive", "echo $$ > "+pidFile+"; exec sleep 3600")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cfg := w.Config(gittest.Clone(t, w.Remote), faultTime, w.AWS)
	cfg.Reserve = time.Second
	begin := time.Now()
	res, err := reconcile.Reconcile(ctx, cfg)
	if took := time.Since(begin); took > 4*time.Second {
		t.Errorf("the run took %s, past its 3s deadline", took)
	}
	if err == nil || res.Pushed {
		t.Errorf("err = %v, pushed %v; want a failed push", err, res != nil && res.Pushed)
	}
}

// TestExitStatusSaysWhatFailed runs the command line: a run in which some
// steps fail exits 3, shows each failed step with AWS's error, names them
// in its last line, and still records and pushes the rest.
func TestExitStatusSaysWhatFailed(t *testing.T) {
	t.Parallel()
	w, ids := faultScenario(t)
	w.Faults.Inject(moto.OpCreateAccountAssignment, 2, moto.APIError(400, "AccessDeniedException", "not authorized to perform sso:CreateAccountAssignment"))
	code, out, _ := w.Run(faultTime, "reconcile")
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	for _, want := range []string{
		"alice-new  grant", "bob-read   grant", "ERROR (retried next run)", "AccessDeniedException",
		"frank-old  revoke", "pushed: true",
		"elevate: 2 step(s) could not be carried out and are retried by the next run: alice-new (grant), bob-read (grant)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	s := w.Snapshot()
	if s.Closed["frank-old"] == nil {
		t.Error("the revoke was not recorded")
	}
	if code, out, _ := w.Run(faultTime.Add(time.Minute), "reconcile"); code != 0 {
		t.Fatalf("next run exit %d:\n%s", code, out)
	}
	w.Agree(t, ids)
}
