package reconcile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/request"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// TestLateRunRevokesEverythingOverdue: after hours without a run, one run
// revokes every grant whose end passed, however long ago, and keeps the
// rest.
func TestLateRunRevokesEverythingOverdue(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	ids := []string{"alice-1h", "bob-2h", "frank-3h", "alice-ro-1d"}
	merge(w, "alice-1h", requestFile("alice", admin, "1h", ""))
	merge(w, "bob-2h", requestFile("bob", admin, "2h", ""))
	merge(w, "frank-3h", requestFile("frank", admin, "3h", ""))
	merge(w, "alice-ro-1d", requestFile("alice", reader, "1d", ""))
	mustReconcile(t, w, t0.Add(time.Minute), nil)
	w.Agree(t, ids)

	res := mustReconcile(t, w, t0.Add(6*time.Hour), nil)
	want := map[string]reconcile.Kind{"alice-1h": reconcile.Revoke, "bob-2h": reconcile.Revoke, "frank-3h": reconcile.Revoke, "alice-ro-1d": reconcile.Keep}
	if diff := cmp.Diff(want, kinds(res)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	s := w.Agree(t, ids)
	if diff := cmp.Diff([]world.Tuple{tuple("alice", reader)}, s.Held); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	for _, id := range ids[:3] {
		if st := s.Closed[id]; st == nil || st.State != ledger.Expired {
			t.Errorf("%s: closed status %+v, want expired", id, st)
		}
	}
}

// TestStartPassedDuringOutage: an approved request whose start passed while
// no run came is granted by the next run with the end it was approved
// with, never a later one; one whose whole window passed is never granted.
func TestStartPassedDuringOutage(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	start := t0.Add(2 * time.Hour)
	merge(w, "alice-later", requestFile("alice", admin, "4h", request.FormatTime(start)))
	merge(w, "bob-window", requestFile("bob", admin, "1h", request.FormatTime(start)))

	// Before the start: the approval is recorded, nothing is granted.
	res := mustReconcile(t, w, t0.Add(time.Minute), nil)
	if diff := cmp.Diff(map[string]reconcile.Kind{"alice-later": reconcile.Wait, "bob-window": reconcile.Wait}, kinds(res)); diff != "" {
		t.Errorf("first run (-want +got):\n%s", diff)
	}
	s := w.Agree(t, []string{"alice-later", "bob-window"})
	if len(s.Held) != 0 || s.Open["alice-later"].State != ledger.Pending {
		t.Fatalf("before the start: held %v, status %+v", s.Held, s.Open["alice-later"])
	}

	// The outage: no run until 3h30 after the start. The approval recorded
	// is enough: GitHub is not asked again.
	w.GitHub.ResetCalls()
	res = mustReconcile(t, w, start.Add(3*time.Hour+30*time.Minute), nil)
	if diff := cmp.Diff(map[string]reconcile.Kind{"alice-later": reconcile.Grant, "bob-window": reconcile.Lapse}, kinds(res)); diff != "" {
		t.Errorf("late run (-want +got):\n%s", diff)
	}
	if n := len(w.GitHub.Calls()); n != 0 {
		t.Errorf("the late run made %d GitHub calls, want none", n)
	}
	s = w.Agree(t, []string{"alice-later", "bob-window"})
	if got, want := s.Open["alice-later"].End, request.FormatTime(start.Add(4*time.Hour)); got != want {
		t.Errorf("granted late with end %s, want the original %s", got, want)
	}
	if st := s.Closed["bob-window"]; st == nil || st.State != ledger.Expired || st.GrantedAt != "" {
		t.Errorf("bob-window closed as %+v, want expired and never granted", st)
	}
	if diff := cmp.Diff([]world.Tuple{tuple("alice", admin)}, s.Held); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}

	// 30 minutes later its original end passes.
	mustReconcile(t, w, start.Add(4*time.Hour), nil)
	if s := w.Agree(t, []string{"alice-later", "bob-window"}); len(s.Held) != 0 {
		t.Errorf("held after the original end: %v", s.Held)
	}
}

// TestMergedDuringOutage: a request merged and started while no run came is
// granted with the end its start and duration give.
func TestMergedDuringOutage(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	merge(w, "alice-now", requestFile("alice", admin, "2h", ""))
	res := mustReconcile(t, w, t0.Add(90*time.Minute), nil)
	if k := kinds(res)["alice-now"]; k != reconcile.Grant {
		t.Fatalf("step %s, want grant", k)
	}
	s := w.Agree(t, []string{"alice-now"})
	st := s.Open["alice-now"]
	if end, start := st.EndTime(), st.StartTime(); end.Sub(start) != 2*time.Hour || start.After(t0.Add(time.Minute)) {
		t.Errorf("granted %s..%s, want 2h from the merge at about %s", st.Start, st.End, t0.Format(time.RFC3339))
	}
	mustReconcile(t, w, t0.Add(2*time.Hour+time.Minute), nil)
	if s := w.Agree(t, []string{"alice-now"}); len(s.Held) != 0 {
		t.Errorf("held after the end: %v", s.Held)
	}
}

// TestClosedIsNeverRetried: a denied request stays denied when approvals
// arrive later, and a request AWS refused stays failed once AWS would
// accept it: only a new request (a new approval) grants.
func TestClosedIsNeverRetried(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	denied := w.Merge(world.PR{Files: map[string]string{"requests/bob-denied.yaml": requestFile("bob", admin, "2h", "")}, Author: "bob"})
	// frank's Identity Center user does not exist (yet): the grant fails.
	w.Merge(world.PR{Files: map[string]string{
		"policies/identities.yaml": strings.Replace(w.RemoteFile("policies/identities.yaml"), "frank@example.com", "frank@new.example.com", 1),
	}, Author: "carol", Approvers: []string{"grace"}})
	merge(w, "frank-failed", requestFile("frank", admin, "2h", ""))

	res := mustReconcile(t, w, t0.Add(time.Minute), nil)
	if diff := cmp.Diff(map[string]reconcile.Kind{"bob-denied": reconcile.Deny, "frank-failed": reconcile.Failed}, kinds(res)); diff != "" {
		t.Fatalf("first run (-want +got):\n%s\n%s", diff, describe(res))
	}
	// Now bob gets an approval and frank's user appears.
	w.GitHub.AddReview(denied.Number, githubfake.Review{User: "carol", State: "APPROVED"})
	if _, err := world.CreateUser(w, "frank@new.example.com"); err != nil {
		t.Fatal(err)
	}
	res = mustReconcile(t, w, t0.Add(2*time.Minute), nil)
	if len(res.Steps) != 0 {
		t.Errorf("second run acted: %s", describe(res))
	}
	s := w.Agree(t, []string{"bob-denied", "frank-failed"})
	if len(s.Held) != 0 {
		t.Errorf("held %v, want nothing granted", s.Held)
	}
	if s.Closed["bob-denied"].State != ledger.Denied || s.Closed["frank-failed"].State != ledger.Failed {
		t.Errorf("closed states %s, %s; want denied and failed", s.Closed["bob-denied"].State, s.Closed["frank-failed"].State)
	}
}

// TestLapseOfAnUnknownUser: a request whose window passed closes even when
// its user is not in the Identity Store (nothing can be assigned to a user
// that does not exist), instead of failing every run.
func TestLapseOfAnUnknownUser(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	w.Merge(world.PR{Files: map[string]string{
		"policies/identities.yaml": strings.Replace(w.RemoteFile("policies/identities.yaml"), "frank@example.com", "frank@new.example.com", 1),
	}, Author: "carol", Approvers: []string{"grace"}})
	merge(w, "frank-later", requestFile("frank", admin, "1h", request.FormatTime(t0.Add(time.Hour))))
	mustReconcile(t, w, t0.Add(time.Minute), nil)
	res := mustReconcile(t, w, t0.Add(5*time.Hour), nil)
	if k := kinds(res)["frank-later"]; k != reconcile.Lapse {
		t.Errorf("step %s, want lapse", k)
	}
	if st := w.Agree(t, []string{"frank-later"}).Closed["frank-later"]; st == nil || st.State != ledger.Expired {
		t.Errorf("closed as %+v, want expired", st)
	}
}
