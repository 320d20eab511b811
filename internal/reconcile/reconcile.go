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
	// Now is the time the run acts at.
	Now time.Time
	// Workers bounds parallel AWS operations (the backend limits further).
	Workers int
	// PushAttempts bounds fetch-and-retry when main moved under the run.
	PushAttempts int
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
// Approvals configured, new requests show as "verify".
func Plan(ctx context.Context, cfg Config) (*Result, error) {
	steps, err := plan(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Result{Steps: steps}, nil
}

// Reconcile converges AWS to git and records what changed.
func Reconcile(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Backend == nil || cfg.Approvals == nil {
		return nil, errors.New("reconcile needs both AWS and GitHub configured")
	}
	attempts := cfg.PushAttempts
	if attempts < 1 {
		attempts = 4
	}
	var res *Result
	for attempt := 1; ; attempt++ {
		steps, err := plan(ctx, cfg)
		if err != nil {
			return nil, err
		}
		res = &Result{Steps: steps}
		committed, err := apply(ctx, cfg, res)
		if err != nil {
			return res, err
		}
		if committed == 0 || cfg.Remote == "" {
			return res, nil
		}
		err = push(ctx, cfg)
		if err == nil {
			res.Pushed = true
			return res, nil
		}
		if !errors.Is(err, errRejected) || attempt >= attempts {
			return res, err
		}
		cfg.logf("push rejected (main moved); fetching and reconciling again (attempt %d of %d)", attempt+1, attempts)
		if err := resetToRemote(ctx, cfg); err != nil {
			return res, err
		}
	}
}

func (cfg Config) logf(format string, args ...any) {
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, format+"\n", args...)
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
	var steps []Step
	for _, id := range ids {
		path := request.Dir + "/" + id + ".yaml"
		_, _, rerr := snap.Read(ctx, path, 0)
		present := !errors.Is(rerr, fs.ErrNotExist)
		st := statuses[id]
		switch {
		case st == nil:
			steps = append(steps, verifyNew(ctx, cfg, id, path))
		case !present:
			steps = append(steps, Step{ID: id, Kind: End, Status: *st, Reason: "the request file was removed from requests/ outside elevate"})
		case st.State == ledger.Pending:
			steps = append(steps, timed(cfg, id, path, *st, false))
		case st.State == ledger.Active:
			steps = append(steps, timed(cfg, id, path, *st, true))
		default:
			steps = append(steps, Step{ID: id, Kind: Keep, Status: *st, path: path})
		}
	}
	markShared(steps)
	return steps, nil
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
		if (steps[i].Kind == Revoke || steps[i].Kind == End) && stays[assignment(&steps[i].Status)] {
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
	p := d.Policy
	s.Status.UserName, s.Status.Account, s.Status.Policy = d.UserName, d.AccountID, p.Name
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
	v, err := cfg.Approvals.Verify(ctx, cfg.Owner, cfg.Name, pr, r.Requester, approval.Rule{Users: p.Approvers.Users, Teams: p.Approvers.Teams, Required: p.Approvals})
	if errors.Is(err, approval.ErrInvalidRule) {
		return deny("policy %s cannot be satisfied: %v", p.Name, err)
	}
	if err != nil {
		s.Kind, s.Err = Verify, fmt.Errorf("verify PR #%d: %w", pr.GetNumber(), err)
		return s
	}
	if !v.Approved {
		return deny("PR #%d: %s", pr.GetNumber(), v.Reason)
	}
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
		start = *r.Start
	}
	if start.IsZero() {
		return deny("PR #%d has no merge time", pr.GetNumber())
	}
	s.Status.Start = request.FormatTime(start)
	s.Status.End = request.FormatTime(start.Add(r.Duration))
	return timed(cfg, id, path, s.Status, false)
}

// apply carries out the steps: AWS first (in parallel), then one commit per
// transition in id order. A crash between the two is repaired by the next run,
// since AWS operations are idempotent and git still shows the old state.
func apply(ctx context.Context, cfg Config, res *Result) (int, error) {
	workers := cfg.Workers
	if workers < 1 {
		workers = 8
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	steps := res.Steps
	for i := range steps {
		s := &steps[i]
		if s.Err != nil {
			continue
		}
		switch s.Kind {
		case Grant, Revoke, End, Keep:
		default:
			continue
		}
		if s.Kind == Keep && s.Status.State != ledger.Active {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.Err = awsStep(ctx, cfg, s)
		}()
	}
	wg.Wait()

	led := &ledger.Ledger{Repo: cfg.Repo, As: cfg.As}
	committed := 0
	now := request.FormatTime(cfg.Now)
	for i := range steps {
		s := &steps[i]
		if s.Err != nil {
			cfg.logf("%s: %s failed, will retry next run: %v", s.ID, s.Kind, s.Err)
			continue
		}
		st := s.Status
		action := string(s.Kind)
		switch s.Kind {
		case Grant:
			st.State, st.GrantedAt = ledger.Active, now
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
		default:
			if s.Kind == Repair {
				cfg.logf("%s: repaired: the assignment was missing in AWS and was created again", s.ID)
			}
			continue
		}
		if s.Reason != "" {
			st.Reason = s.Reason
		}
		sha, err := led.Record(ctx, ledger.Entry{ID: s.ID, Path: s.path}, &st, action)
		if err != nil {
			return committed, fmt.Errorf("record %s of %s: %w", action, s.ID, err)
		}
		s.Status, s.Commit = st, sha
		committed++
		cfg.logf("%s: %s -> %s (%s)", s.ID, s.Kind, st.State, short(sha))
	}
	return committed, nil
}

// Failed is the step kind of a grant AWS refused for good.
const Failed Kind = "fail"

func awsStep(ctx context.Context, cfg Config, s *Step) error {
	a := assignment(&s.Status)
	switch s.Kind {
	case Grant:
		err := cfg.Backend.Grant(ctx, a)
		var failed *identitycenter.FailedError
		if err != nil && (identitycenter.IsPermanent(err) || errors.As(err, &failed)) {
			s.Kind, s.Reason = Failed, "AWS refused the grant: "+err.Error()
			return nil
		}
		return err
	case Revoke, End:
		if s.Shared {
			return nil
		}
		return cfg.Backend.Revoke(ctx, a)
	case Keep:
		ok, err := cfg.Backend.Exists(ctx, a)
		if err != nil || ok {
			return err
		}
		s.Kind = Repair
		return cfg.Backend.Grant(ctx, a)
	}
	return nil
}

var errRejected = errors.New("push rejected")

func push(ctx context.Context, cfg Config) error {
	out, err := cfg.Repo.Run(ctx, "push", "--porcelain", cfg.Remote, "HEAD:refs/heads/"+cfg.Branch)
	if err == nil {
		return nil
	}
	var ge *gitrepo.Error
	if errors.As(err, &ge) {
		msg := ge.Stderr + string(out)
		if strings.Contains(msg, "rejected") || strings.Contains(msg, "fetch first") || strings.Contains(msg, "non-fast-forward") {
			return fmt.Errorf("%w: %s", errRejected, strings.TrimSpace(msg))
		}
	}
	return fmt.Errorf("push state commits: %w", err)
}

func resetToRemote(ctx context.Context, cfg Config) error {
	if _, err := cfg.Repo.Run(ctx, "fetch", "-q", cfg.Remote, cfg.Branch); err != nil {
		return fmt.Errorf("fetch %s: %w", cfg.Branch, err)
	}
	if _, err := cfg.Repo.Run(ctx, "reset", "-q", "--hard", "FETCH_HEAD"); err != nil {
		return fmt.Errorf("reset to %s/%s: %w", cfg.Remote, cfg.Branch, err)
	}
	return nil
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
