// Package reconcile is `elevate plan` and `elevate reconcile`. It computes the
// desired state from the checked-out main branch (approved, started, not
// expired), converges AWS to it, and records every transition in git. It is
// idempotent: rerun after a crash at any point, it converges to the same state
// without duplicate grants or lost records.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/elevate-dev/elevate/internal/approval"
	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/policy"
	"github.com/elevate-dev/elevate/internal/request"
)

// Backend grants and revokes assignments; *identitycenter.Backend satisfies it.
type Backend interface {
	Grant(ctx context.Context, a identitycenter.Assignment) error
	Revoke(ctx context.Context, a identitycenter.Assignment) error
	Exists(ctx context.Context, a identitycenter.Assignment) (bool, error)
}

// Approvals verifies merges; *approval.Verifier satisfies it.
type Approvals interface {
	FindMergedPR(ctx context.Context, owner, repo, commitSHA, baseBranch string) (*github.PullRequest, error)
	Verify(ctx context.Context, owner, repo string, pr *github.PullRequest, requester string, rule approval.Rule) (approval.Verdict, error)
}

// Config is what a run needs.
type Config struct {
	// Repo is the checked-out main branch.
	Repo *gitrepo.Repo
	// EndEarly maps open request ids to why they end now (who asked and
	// why): their access is revoked and they are recorded `ended`. Ending
	// access only ever takes rights away, so it needs no approval.
	EndEarly map[string]string
	// As is the identity state commits are made as.
	As ledger.Signature
	// Owner and Name are the GitHub repository.
	Owner, Name string
	// Branch is the protected branch requests are merged into ("main").
	Branch string
	// Remote is where state commits are pushed ("origin"); empty: no push.
	Remote string
	// Backend is AWS; nil only for plan without AWS.
	Backend Backend
	// Approvals is GitHub; nil only for plan without GitHub.
	Approvals Approvals
	// Teams resolves team eligibility; nil means teams cannot be shown.
	Teams policy.TeamChecker
	// Now is the time the run plans at.
	Now time.Time
	// Clock, if set, is the time when access is about to be created; no
	// grant is made past its end by it. Default: Now plus the time the run
	// has taken (tests set a shared clock for several runs).
	Clock func() time.Time
	// Workers bounds parallel AWS operations (the backend limits further).
	Workers int
	// PushAttempts bounds fetch-and-retry when main moved under the run,
	// and the retries of a push that failed in transit. Default 4.
	PushAttempts int
	// PushBackoff is the wait before push attempt n+1 (n from 1). Default:
	// jittered, about 0.5s, 1s, 2s...
	PushBackoff func(n int) time.Duration
	// VerifyWorker bounds the new requests verified against GitHub at
	// once. Default 4.
	VerifyWorker int
	// Reserve is the part of ctx's deadline kept for recording and pushing
	// what was done: AWS and GitHub work stops that long before the
	// deadline, and when ctx is cancelled (a signal) recording still gets
	// that long. Default 15s, at most a quarter of the time left.
	Reserve time.Duration
	// Crash, for tests, is called at each step boundary with its name
	// ("aws grant <id>", "record <id>", "push"...; see Config.crash). A non-nil
	// error stops the run there as a kill would: nothing more is done in
	// AWS or git and Reconcile returns the error.
	Crash func(point string) error
	// Log receives one line per step as the run goes.
	Log io.Writer
}

// Kind is what a step does.
type Kind string

// Step kinds.
const (
	Grant   Kind = "grant"   // create the assignment, record active
	Wait    Kind = "approve" // approved, start in the future: record pending
	Keep    Kind = "keep"    // nothing to change
	Repair  Kind = "repair"  // active in git but missing in AWS: create again
	Revoke  Kind = "revoke"  // end passed: delete (unless shared), record expired
	Release Kind = "release" // end passed, another grant covers the assignment: record expired, keep it
	Deny    Kind = "deny"    // approvals or policy do not hold: record denied
	Lapse   Kind = "lapse"   // approved but ended before it could be granted: record expired
	End     Kind = "end"     // the request file left requests/ by hand: revoke, record ended
	Verify  Kind = "verify"  // plan only: approvals not checked (no GitHub)
	Failed  Kind = "fail"    // AWS refused the grant for good: record failed

	// Unexplained is an assignment of a managed permission set on a managed
	// account that no open request explains (drift): reported; removed and
	// recorded when its policy says removeUnexplained.
	Unexplained Kind = "unexplained"
	Remove      Kind = "remove"
)

// Step is one request's part of a run.
type Step struct {
	ID     string
	Kind   Kind
	Status ledger.Status
	// Reason explains denials, failures and lapses.
	Reason string
	// Err is set when the step could not be carried out this run (it is
	// retried by the next run).
	Err error
	// Commit is the state commit that recorded the step.
	Commit string
	// Shared is set on a revoke whose assignment another grant still needs:
	// the record closes, the assignment stays.
	Shared bool
	path   string
	userID string // an Unexplained assignment's user id
}

// Assignment is the AWS assignment a status stands for.
func assignment(st *ledger.Status) identitycenter.Assignment {
	return identitycenter.Assignment{UserName: st.UserName, PermissionSet: st.PermissionSet, AccountID: st.Account}
}

// Result is the outcome of a run.
type Result struct {
	Steps []Step
	// Pushed reports whether state commits reached the remote.
	Pushed bool
}

// Failed returns the steps that could not be carried out.
func (r *Result) Failed() []Step {
	var out []Step
	for _, s := range r.Steps {
		if s.Err != nil {
			out = append(out, s)
		}
	}
	return out
}

// Plan says what Reconcile would do at cfg.Now and changes nothing. With no
// Approvals configured, new requests show as "verify". With a Backend that
// is a Lister, it also reports every assignment of a managed permission
// set on a managed account that no open request explains ("unexplained").
func Plan(ctx context.Context, cfg Config) (*Result, error) {
	steps, err := plan(ctx, cfg)
	if err != nil {
		return nil, err
	}
	steps = append(steps, drift(ctx, cfg, steps, false)...)
	return &Result{Steps: steps}, nil
}

// logf writes one line to the log. Ids, paths and reasons come from files
// anyone may have named: the line is escaped so that it stays one line and
// is never read as a workflow command by the runner.
func (cfg Config) logf(format string, args ...any) {
	if cfg.Log != nil {
		fmt.Fprintln(cfg.Log, finding.EscapeLine(fmt.Sprintf(format, args...)))
	}
}

func plan(ctx context.Context, cfg Config) ([]Step, error) {
	led := &ledger.Ledger{Repo: cfg.Repo}
	ids, statuses, problems, err := led.Open(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		cfg.logf("warning: %s", p)
	}
	snap := gitrepo.WorkTree(cfg.Repo.Dir)
	// Trust only the state elevate wrote (provenance.go).
	var withStatus []string
	distrust := map[string]string{} // the status file is not elevate's: verify afresh
	for _, id := range ids {
		if statuses[id] != nil {
			withStatus = append(withStatus, id)
		} else if _, _, err := snap.Read(ctx, ledger.StatusPath(id), 0); !errors.Is(err, fs.ErrNotExist) {
			distrust[id] = ledger.StatusPath(id) + " is not a valid status file"
		}
	}
	prov, err := statusProvenance(ctx, cfg, withStatus)
	if err != nil {
		return nil, err
	}
	tampered := map[string]string{} // elevate's status was changed since: end the grant
	for id, p := range prov {
		switch {
		case p.foreign == "":
		case p.trusted == nil:
			delete(statuses, id)
			distrust[id] = p.foreign
		default:
			statuses[id] = p.trusted
			tampered[id] = p.foreign
		}
	}
	for _, id := range ids {
		if why := distrust[id] + tampered[id]; why != "" {
			cfg.logf("warning: %s", why)
		}
	}
	var steps []Step
	var jobs []newRequest
	for _, id := range ids {
		path := request.Dir + "/" + id + ".yaml"
		_, _, rerr := snap.Read(ctx, path, 0)
		present := !errors.Is(rerr, fs.ErrNotExist)
		st := statuses[id]
		if st == nil && !present {
			// requests/README.md, alice.yml: judge (and archive) the file
			// under its own name, or it would be denied again every run.
			if _, _, err := snap.Read(ctx, request.Dir+"/"+id, 0); !errors.Is(err, fs.ErrNotExist) {
				path, present = request.Dir+"/"+id, true
			}
		}
		switch {
		case st == nil && distrust[id] != "" && !present:
			steps = append(steps, Step{ID: id, Kind: Deny, Status: ledger.Status{State: ledger.Denied}, Reason: distrust[id] + " and no request file goes with it"})
		case st == nil:
			jobs = append(jobs, newRequest{index: len(steps), id: id, path: path, distrust: distrust[id]})
			steps = append(steps, Step{ID: id})
		case tampered[id] != "":
			s := Step{ID: id, Kind: End, Status: *st, Reason: tampered[id] + "; the grant elevate recorded is ended"}
			if present {
				s.path = path
			}
			steps = append(steps, s)
		case !present:
			steps = append(steps, Step{ID: id, Kind: End, Status: *st, Reason: "the request file was removed from requests/ outside elevate"})
		case cfg.EndEarly[id] != "" && (st.State == ledger.Pending || st.State == ledger.Active):
			steps = append(steps, Step{ID: id, Kind: End, Status: *st, Reason: "ended early: " + cfg.EndEarly[id], path: path})
		case st.State == ledger.Pending || st.State == ledger.Active:
			if why := requestChanged(ctx, cfg, path, st); why != "" {
				steps = append(steps, Step{ID: id, Kind: End, Status: *st, Reason: why + "; the grant is ended", path: path})
			} else {
				steps = append(steps, timed(cfg, id, path, *st, st.State == ledger.Active))
			}
		default:
			steps = append(steps, Step{ID: id, Kind: Keep, Status: *st, path: path})
		}
	}
	verifyAll(ctx, cfg, steps, jobs)
	markShared(steps)
	return steps, nil
}

// newRequest is a request merged since the last run, to verify into
// steps[index].
type newRequest struct {
	index    int
	id, path string
	distrust string
}

// verifyAll verifies the new requests, VerifyWorker at a time: each waits
// mostly for GitHub (which may lag for seconds after a merge), and one
// request's wait or failure must not hold up the others. Verifying gets at
// most half of the time ctx has left, so that a GitHub that hangs never
// leaves revocations (which need no GitHub) without time.
func verifyAll(ctx context.Context, cfg Config, steps []Step, jobs []newRequest) {
	if len(jobs) == 0 {
		return
	}
	workers := cfg.VerifyWorker
	if workers < 1 {
		workers = 4
	}
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
		defer cancel()
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s := verifyNew(ctx, cfg, j.id, j.path)
			if s.Err == nil && s.Kind == Deny && ctx.Err() != nil {
				// Out of time, a git or GitHub call was cut short: what it
				// would have said is unknown, so a denial is no verdict.
				s = Step{ID: j.id, Kind: Verify, Status: s.Status, path: j.path,
					Err: fmt.Errorf("not verified in time, retried by the next run: %w", context.Cause(ctx))}
			}
			steps[j.index] = distrusted(s, j.distrust)
		}()
	}
	wg.Wait()
}

// distrusted adjusts the step of a request verified afresh because its
// status file was not elevate's: a denial says so, and an approval whose
// time is up is revoked (a status elevate cannot vouch for may stand for a
// grant that exists) rather than closed as never granted.
func distrusted(s Step, why string) Step {
	if why == "" || s.Err != nil {
		return s
	}
	switch s.Kind {
	case Deny:
		s.Reason = why + "; " + s.Reason
	case Lapse:
		s.Kind, s.Reason = Revoke, why+"; "+s.Reason
	}
	return s
}

// timed decides an approved request by the clock alone.
func timed(cfg Config, id, path string, st ledger.Status, granted bool) Step {
	s := Step{ID: id, Status: st, path: path}
	end, start := st.EndTime(), st.StartTime()
	switch {
	case end.IsZero():
		s.Kind, s.Reason = Revoke, "the status has no valid end time"
		if !granted {
			s.Kind = Deny
		}
	case !cfg.Now.Before(end) && granted:
		s.Kind = Revoke
	case !cfg.Now.Before(end):
		s.Kind, s.Reason = Lapse, "approved, but its end passed before a run could grant it"
	case granted:
		s.Kind = Keep
	case !cfg.Now.Before(start):
		s.Kind = Grant
	case st.State == "":
		// Approved just now, starting later: record the approval, so that
		// the grant at the start needs no second look at GitHub.
		s.Kind = Wait
	default:
		s.Kind = Keep
	}
	return s
}

// markShared turns a revoke into a release when another grant that stays
// covers the same assignment.
func markShared(steps []Step) {
	stays := map[identitycenter.Assignment]bool{}
	for _, s := range steps {
		if s.Kind == Grant || s.Kind == Repair || s.Kind == Keep && s.Status.State == ledger.Active {
			stays[assignment(&s.Status)] = true
		}
	}
	for i := range steps {
		if (steps[i].Kind == Revoke || steps[i].Kind == End || steps[i].Kind == Lapse) && stays[assignment(&steps[i].Status)] {
			if steps[i].Kind == Revoke {
				steps[i].Kind = Release
			}
			steps[i].Shared = true
		}
	}
}

// verifyNew checks a request merged since the last run: its file, the
// policies of the commit before its merge, and its PR's approvals.
func verifyNew(ctx context.Context, cfg Config, id, path string) Step {
	s := Step{ID: id, path: path}
	deny := func(format string, args ...any) Step {
		s.Kind, s.Reason = Deny, fmt.Sprintf(format, args...)
		s.Status.State = ledger.Denied
		return s
	}
	snap := gitrepo.WorkTree(cfg.Repo.Dir)
	data, ffs, err := policy.ReadFile(ctx, snap, path)
	if err != nil {
		return deny("cannot read %s: %v", path, err)
	}
	if ffs != nil {
		return deny("%s", texts(ffs))
	}
	r, rfs := request.Parse(path, data)
	if r == nil {
		return deny("%s", texts(rfs))
	}
	s.Status.Requester, s.Status.PermissionSet = r.Requester, r.PermissionSet
	out, err := cfg.Repo.Run(ctx, "log", "--first-parent", "--diff-filter=A", "--format=%H %P", "-1", "HEAD", "--", path)
	fields := strings.Fields(string(out))
	if err != nil || len(fields) < 2 {
		return deny("no commit on the first-parent history of %s adds %s, or it has no parent", cfg.Branch, path)
	}
	commit, parent := fields[0], fields[1]
	s.Status.MergeCommit = commit
	if ok, _ := cfg.Repo.Exists(ctx, parent, ledger.ArchivePath(id)); ok {
		return deny("request id %q was already used by a closed request (%s)", id, ledger.ArchivePath(id))
	}
	set, pfs, err := policy.Load(ctx, cfg.Repo.At(parent))
	if err != nil {
		s.Kind, s.Err = Deny, fmt.Errorf("read policies at %s: %w", parent, err)
		return s
	}
	if pfs != nil {
		return deny("the policies before commit %s do not validate: %s", short(commit), texts(pfs))
	}
	d := set.Evaluate(ctx, r, cfg.Teams)
	if len(d.Findings) > 0 {
		return deny("%s", texts(d.Findings))
	}
	var names []string
	for _, q := range d.Policies {
		names = append(names, q.Name)
	}
	s.Status.UserName, s.Status.Account, s.Status.Policy = d.UserName, d.AccountID, strings.Join(names, ", ")
	if cfg.Approvals == nil {
		s.Kind, s.Reason = Verify, "approvals not checked: GitHub is not configured"
		return s
	}
	pr, err := cfg.Approvals.FindMergedPR(ctx, cfg.Owner, cfg.Name, commit, cfg.Branch)
	if errors.Is(err, approval.ErrNoPullRequest) {
		return deny("commit %s did not come from a merged pull request into %s: %v", short(commit), cfg.Branch, err)
	}
	if err != nil {
		s.Kind, s.Err = Verify, fmt.Errorf("find the PR of %s: %w", short(commit), err)
		return s
	}
	s.Status.PullRequest = pr.GetNumber()
	// Every covering policy's approval rule must hold on its own.
	var v approval.Verdict
	approvers := map[string]bool{}
	for _, q := range d.Policies {
		qv, err := cfg.Approvals.Verify(ctx, cfg.Owner, cfg.Name, pr, r.Requester, approval.Rule{Users: q.Approvers.Users, Teams: q.Approvers.Teams, Required: q.Approvals})
		if errors.Is(err, approval.ErrInvalidRule) {
			return deny("policy %s cannot be satisfied: %v", q.Name, err)
		}
		if err != nil {
			s.Kind, s.Err = Verify, fmt.Errorf("verify PR #%d: %w", pr.GetNumber(), err)
			return s
		}
		if !qv.Approved {
			if len(d.Policies) > 1 {
				return deny("PR #%d under policy %s: %s", pr.GetNumber(), q.Name, qv.Reason)
			}
			return deny("PR #%d: %s", pr.GetNumber(), qv.Reason)
		}
		for _, a := range qv.Approvers {
			approvers[a] = true
		}
		v = qv
	}
	v.Approvers = v.Approvers[:0]
	for a := range approvers {
		v.Approvers = append(v.Approvers, a)
	}
	sort.Strings(v.Approvers)
	blob, err := cfg.Repo.Run(ctx, "rev-parse", "HEAD:"+path)
	if err != nil {
		return deny("cannot read the merged blob of %s", path)
	}
	reviewed := false
	for _, f := range v.Files {
		if f.Status != "added" || !strings.HasPrefix(f.Name, request.Dir+"/") {
			return deny("PR #%d also changes %s (%s); a request PR may only add request files", pr.GetNumber(), f.Name, f.Status)
		}
		if f.Name == path && f.BlobSHA == strings.TrimSpace(string(blob)) {
			reviewed = true
		}
	}
	if !reviewed {
		return deny("%s on %s is not the file approved in PR #%d", path, cfg.Branch, pr.GetNumber())
	}
	s.Status.ApprovedBy = v.Approvers
	start := pr.GetMergedAt().Time
	if r.Start != nil {
		if r.Start.After(start.Add(request.MaxStartAhead)) {
			return deny("start %s is more than %s after the merge; open the request closer to when it is needed", request.FormatTime(*r.Start), request.FormatDuration(request.MaxStartAhead))
		}
		start = *r.Start
	}
	if start.IsZero() {
		return deny("PR #%d has no merge time", pr.GetNumber())
	}
	s.Status.Start = request.FormatTime(start)
	s.Status.End = request.FormatTime(start.Add(r.Duration))
	return timed(cfg, id, path, s.Status, false)
}

// OnlyStateCommits reports whether every commit in before..after was made by
// elevate to record state, so a push workflow can skip its own commits.
func OnlyStateCommits(ctx context.Context, repo *gitrepo.Repo, before, after string, as ledger.Signature) bool {
	if as.Name == "" {
		as = ledger.DefaultSignature
	}
	out, err := repo.Run(ctx, "log", "--format=%ae%x00%B%x01", before+".."+after)
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		return false
	}
	for _, c := range strings.Split(string(out), "\x01") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		email, body, _ := strings.Cut(c, "\x00")
		if email != as.Email || !strings.Contains(body, "\n"+ledger.TrailerStateCommit+": v1") {
			return false
		}
	}
	return true
}

func texts(fs []finding.Finding) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.Text())
	}
	return strings.Join(parts, "; ")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// Sorted returns the steps ordered by id, for stable output.
func (r *Result) Sorted() []Step {
	out := append([]Step(nil), r.Steps...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
