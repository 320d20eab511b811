package reconcile_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// crashScenario is a world in the middle of its life: frank's grant is
// active and ends at t0+1h; alice (twice, the same assignment), bob and
// grace (not eligible: denied) have new requests merged. The run at
// crashTime revokes one grant, makes two, shares one and denies one.
func crashScenario(t *testing.T) (*world.World, []string) {
	t.Helper()
	w := world.New(t)
	merge(w, "frank-old", requestFile("frank", admin, "1h", ""))
	mustReconcile(t, w, t0.Add(time.Minute), nil)
	merge(w, "alice-new", requestFile("alice", admin, "4h", ""))
	merge(w, "alice-again", requestFile("alice", admin, "2h", ""))
	merge(w, "bob-read", requestFile("bob", reader, "4h", ""))
	w.Merge(world.PR{Files: map[string]string{"requests/grace-denied.yaml": requestFile("grace", admin, "1h", "")}, Author: "grace", Approvers: []string{"carol"}})
	return w, []string{"frank-old", "alice-new", "alice-again", "bob-read", "grace-denied"}
}

var crashTime = t0.Add(90 * time.Minute)

// TestCrashAtEveryStep kills the run at every step boundary (each named
// point of Config.Crash) and after every AWS call it makes (the fault
// injector refuses every later call, as for a dead process), then runs
// again, as the next scheduled run would: soon, or only once every grant
// has ended. Afterwards git and AWS agree, every assignment is held once,
// every request is recorded once per state and none is lost.
func TestCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	start, ids := crashScenario(t)
	// The killed runs make one AWS change at a time, so that the n-th call
	// is the same call in every run.
	sequential := func(cfg *reconcile.Config, hook func(string) error) {
		cfg.Workers, cfg.Crash = 1, hook
	}
	// A reference run with nothing killed lists the points and the calls.
	ref := start.Fork(t)
	hook, passed := crashAt("")
	mustReconcile(t, ref, crashTime, func(c *reconcile.Config) { sequential(c, hook) })
	calls := ref.Faults.Sequence()
	points := passed()
	ref.Agree(t, ids)
	if len(points) < 8 || len(calls) < 5 {
		t.Fatalf("reference run passed only %v and made AWS calls %v", points, calls)
	}
	t.Logf("points %v; AWS calls %v", points, calls)

	type crash struct {
		name  string
		point string // a Config.Crash point, or
		call  int    // the AWS call after which the process dies
		later bool   // rerun only once every grant has ended
	}
	var crashes []crash
	add := func(c crash, later bool) {
		c.name += ", rerun soon"
		crashes = append(crashes, c)
		if later {
			c.later, c.name = true, strings.Replace(c.name, ", rerun soon", ", rerun after every end", 1)
			crashes = append(crashes, c)
		}
	}
	record := false
	for _, p := range points {
		// Nothing is committed until the batch is: every "record" point
		// leaves the same, so the first stands for all.
		if strings.HasPrefix(p, "record ") {
			if record {
				continue
			}
			record = true
		}
		add(crash{name: "at " + p, point: p}, true)
	}
	for n, op := range calls {
		// A kill after a call that changed nothing is a kill at "plan" for
		// a rerun after every end; after a change it is its own case.
		add(crash{name: fmt.Sprintf("after AWS call %d (%s)", n+1, op), call: n + 1}, strings.Contains(op, "AccountAssignment") && !strings.HasPrefix(op, "List"))
	}
	for _, c := range crashes {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := start.Fork(t)
			hook, _ := crashAt(c.point)
			if c.call > 0 {
				w.Faults.KillAfter("*", c.call)
				var once sync.Once
				hook = func(string) error {
					if w.Faults.Killed() {
						once.Do(world.CountKill)
						return errKilled
					}
					return nil
				}
			}
			res, err := w.Reconcile(crashTime, func(cfg *reconcile.Config) { sequential(cfg, hook) })
			if !errors.Is(err, errKilled) {
				t.Fatalf("the run was not killed: %v\n%s", err, describe(res))
			}
			if c.call > 0 {
				if got := w.Faults.Sequence(); len(got) < c.call || got[c.call-1] != calls[c.call-1] {
					t.Fatalf("AWS calls %v, want call %d to be %s as in the reference run", got, c.call, calls[c.call-1])
				}
			}
			w.Faults.Revive()
			if !c.later {
				mustReconcile(t, w, crashTime.Add(time.Minute), nil)
				s := w.Agree(t, ids)
				if len(s.Held) != 2 {
					t.Errorf("held %v, want alice's and bob's assignments", s.Held)
				}
				return
			}
			mustReconcile(t, w, t0.Add(10*time.Hour), nil)
			if s := w.Agree(t, ids); len(s.Held) != 0 {
				t.Errorf("held %v after every end", s.Held)
			}
		})
	}
}
