package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/request"
)

// Reconcile converges AWS to git and records what changed: it plans from
// the checkout, makes the AWS changes (in parallel, within the backend's
// limits), commits one state commit per transition and pushes them. When
// the push is rejected because main moved, it fetches main and does it all
// again (PushAttempts times at most), so that what it pushes was decided on
// the newest main.
//
// It stops AWS and GitHub work Reserve before ctx's deadline and keeps that
// time to record and push what it did, so a run that hits the deadline
// still leaves git agreeing with AWS for everything it finished. One
// request's failure never stops the others: its step carries Err, it is
// retried by the next run, and Result.Failed lists it.
func Reconcile(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Backend == nil || cfg.Approvals == nil {
		return nil, errors.New("reconcile needs both AWS and GitHub configured")
	}
	work, record, stop := cfg.contexts(ctx)
	defer stop()
	r := &run{cfg: cfg, started: time.Now(), granted: map[identitycenter.Assignment]string{}}
	attempts := cfg.pushAttempts()
	for attempt := 1; ; attempt++ {
		steps, err := plan(work, cfg)
		if err != nil {
			return nil, err
		}
		steps = append(steps, drift(work, cfg, steps, true)...)
		steps = append(steps, r.undo(steps)...)
		res := &Result{Steps: steps}
		if err := cfg.crash("plan"); err != nil {
			return res, err
		}
		committed, err := apply(work, record, r, res)
		if err != nil {
			return res, err
		}
		if committed == 0 || cfg.Remote == "" {
			return res, nil
		}
		if err := cfg.crash("push"); err != nil {
			return res, err
		}
		err = push(record, cfg)
		if err == nil {
			res.Pushed = true
			return res, cfg.crash("pushed")
		}
		if !errors.Is(err, errMoved) {
			// The record cannot reach main: what this run granted must
			// not stay without one.
			r.compensate(record, res, err)
			return res, err
		}
		if attempt >= attempts {
			return res, err
		}
		cfg.logf("push rejected (main moved); fetching and reconciling again (attempt %d of %d)", attempt+1, attempts)
		if err := cfg.crash("moved"); err != nil {
			return res, err
		}
		if err := sleep(work, cfg.backoff(attempt)); err != nil {
			return res, fmt.Errorf("main moved and there is no time left to reconcile again: %w", err)
		}
		if err := resetToRemote(record, cfg); err != nil {
			return res, err
		}
		// Another run changed AWS too: look at it afresh.
		if r, ok := cfg.Backend.(interface{ Refresh() }); ok {
			r.Refresh()
		}
	}
}

// run is one Reconcile across its attempts.
type run struct {
	cfg     Config
	started time.Time

	mu sync.Mutex
	// granted is the access this run created (grants and repairs), by the
	// request it was for.
	granted map[identitycenter.Assignment]string
}

// clock is the time now, as the run sees it: Config.Clock, or Config.Now
// plus the time the run has taken. Access is never created past its end by
// this clock, so a run that started earlier cannot grant what a later run
// already closed.
func (r *run) clock() time.Time {
	if r.cfg.Clock != nil {
		return r.cfg.Clock()
	}
	return r.cfg.Now.Add(time.Since(r.started))
}

func (r *run) noteGranted(a identitycenter.Assignment, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.granted[a] = id
}

// undo returns a Remove step for access an earlier attempt of this run
// created that main, fetched again after another run pushed, no longer
// explains: the other run closed the request meanwhile (a run with a
// later clock, say), and without this the assignment would outlive every
// record of it.
func (r *run) undo(steps []Step) []Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.granted) == 0 {
		return nil
	}
	keep := map[identitycenter.Assignment]bool{}
	for _, s := range steps {
		if s.Kind == Remove || explains(s) {
			keep[assignment(&s.Status)] = true
		}
	}
	var out []Step
	for a, id := range r.granted {
		if keep[a] {
			continue
		}
		delete(r.granted, a)
		out = append(out, Step{Kind: Remove, Status: ledger.Status{UserName: a.UserName, PermissionSet: a.PermissionSet, Account: a.AccountID},
			Reason: fmt.Sprintf("this run granted it for %s, but another run closed %s meanwhile", id, id)})
	}
	slices.SortFunc(out, func(x, y Step) int {
		return cmp.Or(cmp.Compare(x.Status.Account, y.Status.Account), cmp.Compare(x.Status.PermissionSet, y.Status.PermissionSet),
			cmp.Compare(x.Status.UserName, y.Status.UserName))
	})
	return out
}

// compensate revokes what this run granted for requests whose grant it
// could not record (the push failed for good), unless a grant recorded
// before the run covers the assignment. The steps say so in Err.
func (r *run) compensate(ctx context.Context, res *Result, pushErr error) {
	recorded := map[identitycenter.Assignment]bool{}
	for _, s := range res.Steps {
		if s.Kind == Repair || s.Kind == Keep && s.Status.State == ledger.Active {
			recorded[assignment(&s.Status)] = true
		}
	}
	done := map[identitycenter.Assignment]bool{}
	for i := range res.Steps {
		s := &res.Steps[i]
		a := assignment(&s.Status)
		if s.Kind != Grant || s.Err != nil || recorded[a] {
			continue
		}
		if !done[a] {
			done[a] = true
			if err := r.cfg.Backend.Revoke(ctx, a); err != nil {
				s.Err = fmt.Errorf("granted, but the record could not be pushed (%v), and undoing the grant failed: %w", pushErr, err)
				continue
			}
		}
		s.Err = fmt.Errorf("granted, then undone because the record could not be pushed; the next run that can record it grants it again: %w", pushErr)
		r.cfg.logf("%s: %v", s.ID, s.Err)
	}
}

// contexts splits ctx: work ends Reserve before ctx's deadline (or with
// ctx); record ends at the deadline, or Reserve after ctx is cancelled
// early, so that what was done can still be committed and pushed.
func (cfg Config) contexts(ctx context.Context) (work, record context.Context, stop func()) {
	reserve := cfg.Reserve
	if reserve <= 0 {
		reserve = 15 * time.Second
	}
	record, cancelRecord := context.WithCancel(context.WithoutCancel(ctx))
	work, cancelWork := context.WithCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		reserve = min(reserve, time.Until(dl)/4)
		cancelWork()
		work, cancelWork = context.WithDeadline(ctx, dl.Add(-reserve))
		var cancelDeadline context.CancelFunc
		record, cancelDeadline = context.WithDeadline(record, dl)
		prev := cancelRecord
		cancelRecord = func() { cancelDeadline(); prev() }
	}
	stopAfter := context.AfterFunc(ctx, func() {
		t := time.NewTimer(reserve)
		defer t.Stop()
		select {
		case <-t.C:
			cancelRecord()
		case <-record.Done():
		}
	})
	return work, record, func() {
		stopAfter()
		cancelWork()
		cancelRecord()
	}
}

func (cfg Config) pushAttempts() int {
	if cfg.PushAttempts < 1 {
		return 4
	}
	return cfg.PushAttempts
}

// crash calls the test hook at a named point. The points, in run order:
// "plan" (planned, nothing done); "aws KIND ID" after each AWS step;
// "record ID" as each state commit is prepared; "recorded" once the state
// commits are made; "push" before a push; "pushed" after it; "moved"
// after a push rejected because main moved, before fetching it.
func (cfg Config) crash(point string) error {
	if cfg.Crash == nil {
		return nil
	}
	if err := cfg.Crash(point); err != nil {
		return fmt.Errorf("stopped at %q: %w", point, err)
	}
	return nil
}

// covered reports whether another step keeps s's assignment after the
// AWS phase: a grant or repair that worked, or an active grant (whose
// check may have failed: its record says it is active).
func covered(steps []Step, s *Step) bool {
	a := assignment(&s.Status)
	for i := range steps {
		o := &steps[i]
		if o == s || assignment(&o.Status) != a {
			continue
		}
		switch {
		case (o.Kind == Grant || o.Kind == Repair) && o.Err == nil:
			return true
		case o.Kind == Keep && o.Status.State == ledger.Active:
			return true
		}
	}
	return false
}

// needsAWS reports whether a step changes or checks AWS.
func needsAWS(s *Step) bool {
	if s.Err != nil {
		return false
	}
	switch s.Kind {
	case Grant, Revoke, End, Lapse, Remove:
		return true
	case Keep:
		return s.Status.State == ledger.Active
	}
	return false
}

// apply carries out the steps: AWS first (in parallel, with work), then
// one commit per transition in id order, all in one ledger batch (with
// record). A crash between the two is repaired by the next run, since AWS
// operations are idempotent and git still shows the old state.
func apply(work, record context.Context, r *run, res *Result) (int, error) {
	cfg := r.cfg
	workers := cfg.Workers
	if workers < 1 {
		workers = 16
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		stopped error
	)
	sem := make(chan struct{}, workers)
	each := func(do func(*Step) bool) {
		for i := range res.Steps {
			s := &res.Steps[i]
			if !do(s) {
				continue
			}
			sem <- struct{}{}
			mu.Lock()
			halt := stopped
			mu.Unlock()
			if halt != nil {
				<-sem
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				s.Err = r.awsStep(work, s)
				if err := cfg.crash(fmt.Sprintf("aws %s %s", s.Kind, s.ID)); err != nil {
					mu.Lock()
					stopped = errors.Join(stopped, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	// First everything but the closings that leave their assignment to
	// another grant; then those, once it is known whether that grant
	// holds: a grant that failed no longer covers them, and they revoke.
	each(func(s *Step) bool { return needsAWS(s) && !s.Shared })
	if stopped != nil {
		return 0, stopped
	}
	each(func(s *Step) bool {
		if !s.Shared || s.Err != nil || covered(res.Steps, s) {
			return false
		}
		s.Shared = false
		if s.Kind == Release {
			s.Kind = Revoke
		}
		return true
	})
	if stopped != nil {
		return 0, stopped
	}

	led := &ledger.Ledger{Repo: cfg.Repo, As: cfg.As}
	batch := led.Begin()
	var recorded []*Step
	var states []*ledger.Status
	now := request.FormatTime(cfg.Now)
	for i := range res.Steps {
		s := &res.Steps[i]
		st, action, ok := transition(cfg, s, now)
		if !ok {
			continue
		}
		if err := cfg.crash("record " + s.ID); err != nil {
			return 0, err
		}
		if s.Kind == Remove {
			batch.RecordRemoval(removal(s))
			states = append(states, nil)
		} else {
			st := st
			batch.Record(ledger.Entry{ID: s.ID, Path: s.path}, &st, action)
			states = append(states, &st)
		}
		recorded = append(recorded, s)
	}
	shas, err := batch.Commit(record)
	if err != nil {
		return 0, fmt.Errorf("record %d transitions: %w", batch.Len(), err)
	}
	for i, s := range recorded {
		if states[i] != nil {
			s.Status = *states[i]
		}
		s.Commit = shas[i]
		cfg.logf("%s: %s -> %s (%s)", s.ID, s.Kind, s.Status.State, short(shas[i]))
	}
	if err := cfg.crash("recorded"); err != nil {
		return len(shas), err
	}
	return len(shas), nil
}

// transition is the status a step records and the commit's action, if the
// step records anything.
func transition(cfg Config, s *Step, now string) (ledger.Status, string, bool) {
	st := s.Status
	if s.Err != nil {
		cfg.logf("%s: %s failed, will retry next run: %v", s.ID, s.Kind, s.Err)
		if s.Kind == Grant && st.State == "" {
			// A new request was approved but AWS did not grant it: record
			// the approval, so that the next run retries the grant from
			// it rather than judging the request again.
			st.State = ledger.Pending
			st.Reason = "approved; the grant failed and is retried by the next run: " + s.Err.Error()
			return st, string(Wait), true
		}
		return st, "", false
	}
	action := string(s.Kind)
	switch s.Kind {
	case Grant:
		st.State, st.GrantedAt, st.Reason = ledger.Active, now, ""
	case Wait:
		st.State = ledger.Pending
	case Revoke, Release:
		st.State, st.ClosedAt, action = ledger.Expired, now, "revoke"
	case End:
		st.State, st.ClosedAt = ledger.Ended, now
	case Deny:
		st.State, st.ClosedAt = ledger.Denied, now
	case Lapse:
		st.State, st.ClosedAt = ledger.Expired, now
	case Failed:
		st.State, st.ClosedAt, action = ledger.Failed, now, "fail"
	case Remove:
		return st, "remove-unexplained", true
	default:
		if s.Kind == Repair {
			cfg.logf("%s: repaired: the assignment was missing in AWS and was created again", s.ID)
		}
		return st, "", false
	}
	if s.Reason != "" {
		st.Reason = s.Reason
	}
	return st, action, true
}

func (r *run) awsStep(ctx context.Context, s *Step) error {
	cfg := r.cfg
	a := assignment(&s.Status)
	switch s.Kind {
	case Grant:
		gctx, cancel, err := r.untilEnd(ctx, s)
		if err != nil {
			return err
		}
		defer cancel()
		err = cfg.Backend.Grant(gctx, a)
		var failed *identitycenter.FailedError
		if err != nil && (identitycenter.IsPermanent(err) || errors.As(err, &failed)) {
			s.Kind, s.Reason = Failed, "AWS refused the grant: "+err.Error()
			return nil
		}
		if err == nil {
			r.noteGranted(a, s.ID)
		}
		return err
	case Revoke, End, Lapse:
		// A lapsed request may have been granted by a run that was killed
		// before it could record the grant: make sure it is gone.
		if s.Shared {
			return nil
		}
		err := cfg.Backend.Revoke(ctx, a)
		if s.Kind == Lapse && identitycenter.IsPermanent(err) {
			// Nothing was granted by name to a user or set that does not
			// exist. (A recorded grant keeps failing instead: its user may
			// have been deleted with the assignment still in place.)
			cfg.logf("%s: nothing to revoke: %v", s.ID, err)
			return nil
		}
		return err
	case Remove:
		a.UserID = s.userID
		return cfg.Backend.Revoke(ctx, a)
	case Keep:
		ok, err := cfg.Backend.Exists(ctx, a)
		if err != nil || ok {
			return err
		}
		gctx, cancel, err := r.untilEnd(ctx, s)
		if err != nil {
			cfg.logf("%s: not repaired: %v", s.ID, err)
			return nil
		}
		defer cancel()
		s.Kind = Repair
		if err := cfg.Backend.Grant(gctx, a); err != nil {
			return err
		}
		r.noteGranted(a, s.ID)
	}
	return nil
}

// untilEnd bounds ctx by the end of s's access, by the run's clock: access
// is never created after its end, even when the call waits for a slot, so
// that a run cannot grant what a later run has already closed. It fails at
// once when the end has passed.
func (r *run) untilEnd(ctx context.Context, s *Step) (context.Context, context.CancelFunc, error) {
	left := s.Status.EndTime().Sub(r.clock())
	if left <= 0 {
		return nil, nil, errors.New("its end passed while the run was under way; not granted (the next run closes it)")
	}
	ctx, cancel := context.WithTimeout(ctx, left)
	return ctx, cancel, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
