package reconcile_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// TestChaos throws random faults at runs of the crash scenario: several
// AWS faults on random calls, now and then a GitHub error, a kill after a
// random AWS call half the time, at a random time between the grants'
// starts and hours after every end. Whatever happened, one clean run later
// git and AWS agree, and once every end has passed nothing is held.
// ELEVATE_CHAOS_ROUNDS sets the rounds (default 8); a failure names its
// round, which replays it.
func TestChaos(t *testing.T) {
	t.Parallel()
	rounds := 8
	if n, err := strconv.Atoi(os.Getenv("ELEVATE_CHAOS_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	first := 0
	if n, err := strconv.Atoi(os.Getenv("ELEVATE_CHAOS_ROUND")); err == nil {
		first, rounds = n, 1
	}
	start, ids := crashScenario(t)
	sem := make(chan struct{}, 4)
	for round := first; round < first+rounds; round++ {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			rng := rand.New(rand.NewPCG(20261203, uint64(round)))
			w := start.Fork(t)
			var faults []string
			for range 1 + rng.IntN(6) {
				op, fault := randomFault(rng)
				n := 1 + rng.IntN(3)
				w.Faults.Inject(op, n, fault)
				faults = append(faults, fmt.Sprintf("%s %s x%d", op, fault, n))
			}
			if rng.IntN(4) == 0 {
				w.GitHub = githubfake.New(t)
				w.GitHub.SetToken(world.Token)
				replayPRs(t, start, w)
				route := []githubfake.Route{githubfake.RouteCommitPulls, githubfake.RoutePull, githubfake.RouteReviews, githubfake.RoutePullCommits, githubfake.RoutePullFiles}[rng.IntN(5)]
				w.GitHub.Inject(route, 1, githubfake.Status([]int{500, 502, 503}[rng.IntN(3)]))
				faults = append(faults, fmt.Sprintf("GitHub %s 5xx", route))
			}
			var once sync.Once
			hook := func(string) error { return nil }
			if rng.IntN(2) == 0 {
				n := 1 + rng.IntN(14)
				w.Faults.KillAfter("*", n)
				faults = append(faults, fmt.Sprintf("killed after AWS call %d", n))
				hook = func(string) error {
					if w.Faults.Killed() {
						once.Do(world.CountKill)
						return errKilled
					}
					return nil
				}
			}
			at := t0.Add(70*time.Minute + time.Duration(rng.IntN(300))*time.Minute)
			t.Logf("round %d at %s: %v", round, at.Format(time.RFC3339), faults)
			_, _ = w.Reconcile(at, func(c *reconcile.Config) { c.Crash = hook })
			w.Faults.Clear().Revive()
			mustReconcile(t, w, at.Add(time.Minute), nil)
			w.Agree(t, ids)
			mustReconcile(t, w, t0.Add(24*time.Hour), nil)
			if s := w.Agree(t, ids); len(s.Held) != 0 {
				t.Errorf("held %v after every end", s.Held)
			}
		})
	}
}

func randomFault(rng *rand.Rand) (string, moto.Fault) {
	ops := []string{"ListInstances", "ListPermissionSets", "DescribePermissionSet", "GetUserId", "ListAccountAssignments",
		moto.OpCreateAccountAssignment, moto.OpDeleteAccountAssignment, moto.OpDescribeCreationStatus, moto.OpDescribeDeletionStatus}
	op := ops[rng.IntN(len(ops))]
	if op == moto.OpCreateAccountAssignment || op == moto.OpDeleteAccountAssignment {
		switch rng.IntN(5) {
		case 0:
			return op, moto.InProgress(rng.IntN(4))
		case 1:
			return op, moto.Stuck()
		case 2:
			return op, moto.FailedAfter(rng.IntN(2), "injected: the account's IAM role quota is reached")
		}
	}
	return op, []moto.Fault{
		moto.Throttling(), moto.Conflict(), moto.HTTPStatus(500), moto.HTTPStatus(503), moto.ConnectionReset(),
		moto.Delay(time.Duration(1+rng.IntN(100)) * time.Millisecond),
	}[rng.IntN(6)]
}
