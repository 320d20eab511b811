package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// raceScenario: grants that end at t0+1h, +1h10 and +3h (some sharing an
// assignment), and new requests merged for now.
func raceScenario(t *testing.T) (*world.World, []string) {
	t.Helper()
	w := world.New(t)
	// In AWS an assignment is a set member: independent processes that
	// create the same one at once leave one, which plain moto would not.
	w.Faults.AssignmentSet()
	ids := []string{"alice-1h", "bob-2h", "frank-3h", "alice-ro-3h"}
	merge(w, "alice-1h", requestFile("alice", admin, "1h", ""))
	merge(w, "bob-2h", requestFile("bob", admin, "1h10m", ""))
	merge(w, "frank-3h", requestFile("frank", admin, "3h", ""))
	merge(w, "alice-ro-3h", requestFile("alice", reader, "3h", ""))
	mustReconcile(t, w, t0.Add(time.Minute), nil)
	for i, who := range []string{"alice", "bob", "frank", "alice", "bob"} {
		id := fmt.Sprintf("%s-new-%d", who, i)
		merge(w, id, requestFile(who, admin, "2h", ""))
		ids = append(ids, id)
	}
	return w, ids
}

// TestConcurrentRuns runs several reconcile processes at once, each with
// its own checkout and its own view of AWS, against the same remote and
// the same Identity Center, while more requests are merged: the runs that
// push later see main moved, fetch and reconcile again. Afterwards git and
// AWS agree, each assignment is held once, each transition is recorded
// once, and nothing is lost.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// stagger is the real time between the runs' starts; speed is how
		// much faster than real time the shared clock runs.
		stagger time.Duration
		speed   int
	}{
		// Started together, at the same time.
		{"same time", 0, 1},
		// Started one after another while grants end: a real millisecond
		// is 0.6 seconds, so the runs' clocks are seconds to minutes apart
		// and alice-1h and bob-2h end while they run.
		{"across ends", 40 * time.Millisecond, 600},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, ids := raceScenario(t)
			const runs = 4
			var (
				wg        sync.WaitGroup
				results   = make([]*reconcile.Result, runs)
				errs      = make([]error, runs)
				cfgs      = make([]reconcile.Config, runs)
				base      = t0.Add(55 * time.Minute)
				realStart time.Time
			)
			clock := func() time.Time { return base.Add(time.Since(realStart) * time.Duration(tt.speed)) }
			for i := range cfgs {
				cfgs[i] = w.Config(gittest.Clone(t, w.Remote), base, w.AWS)
				cfgs[i].Clock, cfgs[i].PushAttempts = clock, 2*runs
			}
			realStart = time.Now()
			for i := range runs {
				wg.Go(func() {
					time.Sleep(time.Duration(i) * tt.stagger)
					cfgs[i].Now = clock()
					results[i], errs[i] = reconcile.Reconcile(context.Background(), cfgs[i])
				})
			}
			// Meanwhile a request is merged, as the push workflow would be
			// triggered by it.
			merge(w, "bob-late", requestFile("bob", reader, "4h", ""))
			ids = append(ids, "bob-late")
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("run %d: %v\n%s", i, err, describe(results[i]))
					continue
				}
				for _, s := range results[i].Failed() {
					// A grant whose end came while the run waited is not
					// made; the next run closes it.
					if !strings.Contains(s.Err.Error(), "end passed while the run was under way") {
						t.Errorf("run %d: %s failed: %v", i, s.ID, s.Err)
					}
				}
			}
			if s := w.Agree(t, ids); t.Failed() {
				for i := range results {
					t.Logf("run %d:\n%s", i, describe(results[i]))
				}
				t.Logf("open %v", s.Open)
				t.Logf("log:\n%s", w.Admin.Git("log", "--format=%s", w.Base+"..FETCH_HEAD"))
			}
			// The next scheduled run finds nothing left to repair.
			res := mustReconcile(t, w, clock().Add(time.Minute), nil)
			for _, s := range res.Steps {
				if s.Kind == reconcile.Repair || s.Kind == reconcile.Remove {
					t.Errorf("the next run still had to %s %s", s.Kind, s.ID)
				}
			}
			w.Agree(t, ids)
			// And once everything ended, nothing is held.
			mustReconcile(t, w, t0.Add(24*time.Hour), nil)
			if s := w.Agree(t, ids); len(s.Held) != 0 {
				t.Errorf("held %v after every end", s.Held)
			}
		})
	}
}
