// Package audit tells the whole story of every request from git history
// alone, with no AWS and no GitHub: who asked and why, who approved, when
// access started and how it ended, and the commits that prove each step. It
// also flags the gaps an auditor must see: a grant with no closure after its
// end, a state commit not made by elevate, and history that was rewritten
// (state changed by hand, a merged request whose bytes changed, a recorded
// merge commit that is no longer in the history).
//
// It reads main's first-parent history, the history as main lived it: every
// commit that touched requests/, status/ or archive/, the trailers of the
// state commits (ledger.Message), and the status files those commits wrote.
package audit

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/request"
)

// Merged is the state of a request that was merged but has no state commit
// yet (reconcile has not recorded it).
const Merged ledger.State = "merged"

// Gap rules, stable names an auditor can search for.
const (
	// RuleClosureMissing: an approved request's end passed and no closure
	// (revoke, expire) is recorded.
	RuleClosureMissing = "closure-missing"
	// RuleClosureLate: access was revoked longer than the grace after its end.
	RuleClosureLate = "closure-late"
	// RuleRecordMissing: a merged request has no state commit long after its merge.
	RuleRecordMissing = "record-missing"
	// RuleStateIdentity: a commit that changes state was not made by
	// elevate's identity.
	RuleStateIdentity = "state-identity"
	// RuleStateTrailer: a commit changed state without the Elevate-State
	// trailer, or its trailers disagree with what it wrote.
	RuleStateTrailer = "state-trailer"
	// RuleStateUnreadable: a state file a commit wrote is not a valid status.
	RuleStateUnreadable = "state-unreadable"
	// RuleRequestChanged: a merged request's bytes changed (edited in
	// requests/, or archived with other bytes than were merged).
	RuleRequestChanged = "request-changed"
	// RuleArchiveChanged: an archived file was changed or removed.
	RuleArchiveChanged = "archive-changed"
	// RuleMergeMissing: state is recorded for a request no commit on the
	// first-parent history adds.
	RuleMergeMissing = "merge-missing"
	// RuleMergeRewritten: the merge commit the state recorded is not the one
	// in the history (the history was rewritten after the grant).
	RuleMergeRewritten = "merge-rewritten"
	// RuleGrantMissing: a closure says access was granted but no grant
	// commit is in the history.
	RuleGrantMissing = "grant-missing"
)

// Config is what a read needs.
type Config struct {
	// Repo is a clone with main's whole history.
	Repo *gitrepo.Repo
	// Rev is the tip to read from ("HEAD", "origin/main").
	Rev string
	// Identities are the e-mail addresses elevate commits state as; a state
	// commit whose author or committer is anyone else is a gap.
	Identities []string
	// Now is the time the audit is made at: a grant whose end is more than
	// Grace before Now and has no closure is a gap.
	Now time.Time
	// Grace is how late a closure may be recorded before it is a gap
	// (reconcile runs on a schedule, and schedules run late).
	Grace time.Duration
}

// Report is every request in the history that matched the filter, oldest
// first, and the gaps found.
type Report struct {
	// Head is the commit the history was read from.
	Head string `json:"head"`
	// GeneratedAt is Config.Now.
	GeneratedAt string `json:"generatedAt"`
	// Filter says what was asked for.
	Filter Filter `json:"filter"`
	// Requests are the matching requests, in the order they were merged.
	Requests []*Record `json:"requests"`
	// Gaps are the gaps of the matching requests, and those of commits that
	// belong to no request, in history order.
	Gaps []Gap `json:"gaps"`
}

// Record is one request's story.
type Record struct {
	// ID is the request id (its file name).
	ID string `json:"id"`
	// Requester is the GitHub login that asked.
	Requester string `json:"requester"`
	// Account is the 12-digit account id; AccountAsWritten is what the
	// request file says (an alias, or the id).
	Account          string `json:"account"`
	AccountAsWritten string `json:"accountAsWritten,omitempty"`
	PermissionSet    string `json:"permissionSet"`
	// Policy is the policy that decided it.
	Policy string `json:"policy,omitempty"`
	// PullRequest is the merged PR's number.
	PullRequest int `json:"pullRequest,omitempty"`
	// ApprovedBy are the approvals that counted.
	ApprovedBy []string `json:"approvedBy"`
	// Reason, Ticket and Duration are as the request file says.
	Reason   string `json:"reason"`
	Ticket   string `json:"ticket,omitempty"`
	Duration string `json:"duration,omitempty"`
	// Start and End are the approved window (RFC 3339 UTC).
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	// GrantedAt is when access was granted; ClosedAt when the record closed.
	GrantedAt string `json:"grantedAt,omitempty"`
	ClosedAt  string `json:"closedAt,omitempty"`
	// State is the latest state: merged (not yet recorded), pending, active,
	// expired, ended, denied or failed.
	State ledger.State `json:"state"`
	// Granted reports whether access was ever granted.
	Granted bool `json:"granted"`
	// Note is the reason recorded with the latest state (why it was denied,
	// failed or ended).
	Note string `json:"note,omitempty"`
	// MergeCommit is the commit that added the request to main.
	MergeCommit string `json:"mergeCommit,omitempty"`
	// Steps are the commits that prove each step, oldest first.
	Steps []Step `json:"steps"`
	// Gaps are this request's gaps.
	Gaps []Gap `json:"gaps"`

	mergedBlob, archivedBlob string
	mergedAt                 time.Time
	status                   *ledger.Status
	first                    int
}

// Step is one commit in a request's story.
type Step struct {
	// Commit is the full commit id.
	Commit string `json:"commit"`
	// CommittedAt is the commit's committer date.
	CommittedAt string `json:"committedAt"`
	// Action is what the commit did: merge (the request reached main),
	// approve, grant, revoke, deny, lapse, end, fail (elevate's actions), or
	// edit and remove (changes not made through elevate).
	Action string `json:"action"`
	// State is the state the commit recorded, if any.
	State ledger.State `json:"state,omitempty"`
	// Author is "name <email>".
	Author string `json:"author"`
}

// Gap is something an auditor must look at.
type Gap struct {
	// Request is the request it concerns, "" for a commit that touches no request.
	Request string `json:"request,omitempty"`
	// Commit is the commit that shows it, if one does.
	Commit string `json:"commit,omitempty"`
	Rule   string `json:"rule"`
	// Message says what is wrong and what it means.
	Message string `json:"message"`
}

// commit is one commit of the history with what it changed.
type commit struct {
	id, author, authorEmail, committer, committerEmail, date string
	body                                                     string
	changes                                                  []change
}

type change struct {
	status byte
	path   string
	blob   string
}

// Read reads the history at cfg.Rev and returns the records that match f.
func Read(ctx context.Context, cfg Config, f Filter) (*Report, error) {
	if cfg.Rev == "" {
		cfg.Rev = "HEAD"
	}
	head, err := cfg.Repo.Resolve(ctx, cfg.Rev)
	if err != nil {
		return nil, err
	}
	if out, err := cfg.Repo.Run(ctx, "rev-parse", "--is-shallow-repository"); err == nil && strings.TrimSpace(string(out)) == "true" {
		return nil, errors.New("the clone is shallow, so its history is incomplete: fetch all of it (git fetch --unshallow; in a workflow, actions/checkout with fetch-depth: 0)")
	}
	commits, err := history(ctx, cfg.Repo, head)
	if err != nil {
		return nil, err
	}
	a := &auditor{cfg: cfg, records: map[string]*Record{}}
	for _, c := range commits {
		a.commit(ctx, c)
	}
	for _, r := range a.records {
		a.finish(ctx, r)
	}
	return a.report(head, f), nil
}

// history lists the first-parent commits from head that touch the folders
// elevate reads, oldest first, with their changes and messages. It runs two
// logs (changes, then messages) so that nothing a committer wrote can be
// mistaken for a separator: paths are NUL-terminated, and a message ends at
// the NUL git puts after each commit.
func history(ctx context.Context, repo *gitrepo.Repo, head string) ([]*commit, error) {
	paths := []string{"--", request.Dir, ledger.StatusDir, ledger.ArchiveDir}
	base := []string{"--no-replace-objects", "log", "-z", "--first-parent", "--reverse", "--no-show-signature", "--no-renames", "--no-abbrev"}
	out, err := repo.Run(ctx, append(append(base, "--raw", "--format=%x1e%H", head), paths...)...)
	if err != nil {
		return nil, fmt.Errorf("read the history of %s: %w", head, err)
	}
	var commits []*commit
	byID := map[string]*commit{}
	toks := strings.Split(string(out), "\x00")
	for i := 0; i < len(toks); i++ {
		t := strings.TrimLeft(toks[i], "\n")
		switch {
		case strings.HasPrefix(t, "\x1e"):
			c := &commit{id: strings.TrimSpace(t[1:])}
			commits = append(commits, c)
			byID[c.id] = c
		case strings.HasPrefix(t, ":") && i+1 < len(toks) && len(commits) > 0:
			meta := strings.Fields(t[1:])
			i++
			if len(meta) < 5 {
				return nil, fmt.Errorf("read the history of %s: unexpected change %q", head, t)
			}
			c := commits[len(commits)-1]
			c.changes = append(c.changes, change{status: meta[4][0], path: toks[i], blob: meta[3]})
		case t == "":
		default:
			return nil, fmt.Errorf("read the history of %s: unexpected output %q", head, t)
		}
	}
	out, err = repo.Run(ctx, append(append(base, "--format=%H%n%an%n%ae%n%cn%n%ce%n%cI%n%B", head), paths...)...)
	if err != nil {
		return nil, fmt.Errorf("read the messages of %s: %w", head, err)
	}
	for _, rec := range strings.Split(string(out), "\x00") {
		f := strings.SplitN(strings.TrimLeft(rec, "\n"), "\n", 7)
		if len(f) < 7 {
			continue
		}
		if c := byID[f[0]]; c != nil {
			c.author, c.authorEmail, c.committer, c.committerEmail, c.date, c.body = f[1], f[2], f[3], f[4], f[5], f[6]
		}
	}
	for _, c := range commits {
		if c.date == "" {
			return nil, fmt.Errorf("read the history of %s: no message for commit %s", head, c.id)
		}
	}
	return commits, nil
}

type auditor struct {
	cfg     Config
	records map[string]*Record
	loose   []Gap
	order   int
}

func (a *auditor) record(id string) *Record {
	r := a.records[id]
	if r == nil {
		a.order++
		r = &Record{ID: id, ApprovedBy: []string{}, Steps: []Step{}, Gaps: []Gap{}, first: a.order}
		a.records[id] = r
	}
	return r
}

func (a *auditor) gap(id, commitID, rule, format string, args ...any) {
	g := Gap{Request: id, Commit: commitID, Rule: rule, Message: fmt.Sprintf(format, args...)}
	if id == "" {
		a.loose = append(a.loose, g)
		return
	}
	r := a.record(id)
	r.Gaps = append(r.Gaps, g)
}

func (a *auditor) ours(email string) bool {
	for _, e := range a.cfg.Identities {
		if strings.EqualFold(e, email) {
			return true
		}
	}
	return false
}

// commit applies one commit to the records.
func (a *auditor) commit(ctx context.Context, c *commit) {
	tr := trailers(c.body)
	isState := first(tr, ledger.TrailerStateCommit) != ""
	action := first(tr, ledger.TrailerAction)
	author := c.author + " <" + c.authorEmail + ">"
	step := func(id, act string, st ledger.State) {
		r := a.record(id)
		if n := len(r.Steps); n > 0 && r.Steps[n-1].Commit == c.id {
			if st != "" {
				r.Steps[n-1].State = st
			}
			return
		}
		r.Steps = append(r.Steps, Step{Commit: c.id, CommittedAt: c.date, Action: act, State: st, Author: author})
	}
	stateAction := action
	if !isState || stateAction == "" {
		stateAction = "edit"
	}

	touched := map[string]bool{}
	var archived []change
	consumed := map[string]bool{}
	touchesState := false
	for _, ch := range c.changes {
		dir, name := path.Split(ch.path)
		switch dir {
		case request.Dir + "/":
			id := strings.TrimSuffix(name, ".yaml")
			switch ch.status {
			case 'A':
				r := a.record(id)
				r.mergedBlob, r.MergeCommit = ch.blob, c.id
				r.mergedAt, _ = time.Parse(time.RFC3339, c.date)
				step(id, "merge", "")
			case 'D':
				if !isState {
					step(id, "remove", "")
				}
			default:
				step(id, "edit", "")
				a.gap(id, c.id, RuleRequestChanged, "%s was changed after it was merged (commit %s by %s); a merged request never changes, so what was approved may not be what this says",
					ch.path, short(c.id), author)
			}
		case ledger.StatusDir + "/":
			touchesState = true
			id := strings.TrimSuffix(name, ".yaml")
			touched[id] = true
			if ch.status == 'D' {
				continue
			}
			st, err := a.status(ctx, ch.blob)
			if err != nil || st.Request != id {
				a.record(id)
				a.gap(id, c.id, RuleStateUnreadable, "commit %s wrote %s, which is not a valid status for %s: %v", short(c.id), ch.path, id, err)
				continue
			}
			a.apply(c, id, st, tr, isState)
			step(id, stateAction, st.State)
		case ledger.ArchiveDir + "/":
			touchesState = true
			if ch.status != 'A' {
				id := archiveID(name)
				touched[id] = true
				a.record(id)
				a.gap(id, c.id, RuleArchiveChanged, "%s was %s by commit %s (%s); the archive is written once and never changes",
					ch.path, map[byte]string{'M': "changed", 'D': "removed", 'T': "changed"}[ch.status], short(c.id), author)
				continue
			}
			if !strings.HasSuffix(name, ".status.yaml") {
				archived = append(archived, ch)
				continue
			}
			st, err := a.status(ctx, ch.blob)
			if err != nil {
				id := archiveID(name)
				touched[id] = true
				a.record(id)
				a.gap(id, c.id, RuleStateUnreadable, "commit %s wrote %s, which is not a valid status: %v", short(c.id), ch.path, err)
				continue
			}
			touched[st.Request] = true
			a.apply(c, st.Request, st, tr, isState)
			step(st.Request, stateAction, st.State)
			// The archived request file sits next to its status, under the
			// same (possibly de-duplicated) name.
			for _, ar := range c.changes {
				if ar.status == 'A' && ar.path == strings.TrimSuffix(ch.path, ".status.yaml")+".yaml" {
					a.record(st.Request).archivedBlob = ar.blob
					consumed[ar.path] = true
				}
			}
		}
	}
	for _, ch := range archived {
		if !consumed[ch.path] {
			id := archiveID(path.Base(ch.path))
			touched[id] = true
			a.record(id).archivedBlob = ch.blob
		}
	}
	if !touchesState && !isState {
		return
	}
	ids := sortedKeys(touched)
	if len(ids) == 0 {
		ids = []string{first(tr, ledger.TrailerRequest)}
	}
	for _, id := range ids {
		if !isState {
			a.gap(id, c.id, RuleStateTrailer, "commit %s by %s changes elevate's state without the %s trailer: state was changed by hand, not recorded by elevate",
				short(c.id), author, ledger.TrailerStateCommit)
		}
		if !a.ours(c.authorEmail) || !a.ours(c.committerEmail) {
			a.gap(id, c.id, RuleStateIdentity, "state commit %s was authored by %s and committed by %s <%s>, not by elevate's identity (%s)",
				short(c.id), author, c.committer, c.committerEmail, strings.Join(a.cfg.Identities, ", "))
		}
	}
}

// apply records what a state commit wrote for id.
func (a *auditor) apply(c *commit, id string, st *ledger.Status, tr map[string][]string, isState bool) {
	r := a.record(id)
	r.status = st
	if st.State == ledger.Active {
		r.Granted = true
	}
	if !isState {
		return
	}
	if got := first(tr, ledger.TrailerRequest); got != "" && got != st.Request {
		a.gap(id, c.id, RuleStateTrailer, "commit %s's %s trailer says %q but it writes the state of %q", short(c.id), ledger.TrailerRequest, got, st.Request)
	}
	if got := first(tr, ledger.TrailerState); got != string(st.State) {
		a.gap(id, c.id, RuleStateTrailer, "commit %s's %s trailer says %q but the status it writes says %q", short(c.id), ledger.TrailerState, got, st.State)
	}
	if got := tr[ledger.TrailerApprovedBy]; strings.Join(got, ",") != strings.Join(st.ApprovedBy, ",") {
		a.gap(id, c.id, RuleStateTrailer, "commit %s's %s trailers say %q but the status it writes says %q", short(c.id), ledger.TrailerApprovedBy,
			strings.Join(got, ", "), strings.Join(st.ApprovedBy, ", "))
	}
}

func (a *auditor) status(ctx context.Context, blob string) (*ledger.Status, error) {
	data, _, found, err := a.cfg.Repo.ReadBlob(ctx, blob, 1<<20)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("blob %s is missing", short(blob))
	}
	return ledger.ParseStatus(data)
}

// finish fills a record from its latest status and the merged file, and
// checks what can only be checked once the whole history is read.
func (a *auditor) finish(ctx context.Context, r *Record) {
	if r.mergedBlob != "" {
		data, _, found, err := a.cfg.Repo.ReadBlob(ctx, r.mergedBlob, 1<<20)
		if err == nil && found {
			if req, _ := request.Parse(request.Dir+"/"+r.ID+".yaml", data); req != nil {
				r.Requester, r.AccountAsWritten, r.PermissionSet = req.Requester, req.Account, req.PermissionSet
				r.Reason, r.Ticket, r.Duration = req.Reason, req.Ticket, req.DurationText
			}
		}
	}
	st := r.status
	r.State = Merged
	if st != nil {
		r.State = st.State
		if st.Requester != "" {
			r.Requester = st.Requester
		}
		if st.PermissionSet != "" {
			r.PermissionSet = st.PermissionSet
		}
		r.Account, r.Policy, r.PullRequest = st.Account, st.Policy, st.PullRequest
		r.ApprovedBy = append([]string{}, st.ApprovedBy...)
		r.Start, r.End, r.GrantedAt, r.ClosedAt, r.Note = st.Start, st.End, st.GrantedAt, st.ClosedAt, st.Reason
	}
	if r.Account == "" && isAccountID(r.AccountAsWritten) {
		r.Account = r.AccountAsWritten
	}

	switch {
	case st == nil && r.mergedBlob != "":
		if !r.mergedAt.IsZero() && a.cfg.Now.Sub(r.mergedAt) > a.cfg.Grace {
			a.gap(r.ID, r.MergeCommit, RuleRecordMissing, "%s was merged in commit %s at %s and no run has recorded it since (%s ago); a merged request must be granted, denied or closed",
				r.ID, short(r.MergeCommit), request.FormatTime(r.mergedAt), age(a.cfg.Now.Sub(r.mergedAt)))
		}
	case st == nil:
	case r.mergedBlob == "":
		a.gap(r.ID, "", RuleMergeMissing, "elevate recorded state for %s, but no commit on the first-parent history adds %s/%s.yaml: the state is not backed by a merged request, or the history was rewritten",
			r.ID, request.Dir, r.ID)
	case st.MergeCommit != "" && st.MergeCommit != r.MergeCommit:
		a.gap(r.ID, r.MergeCommit, RuleMergeRewritten, "the state records merge commit %s, but %s/%s.yaml was added by commit %s: the history was rewritten after elevate recorded it",
			short(st.MergeCommit), request.Dir, r.ID, short(r.MergeCommit))
	}
	if r.archivedBlob != "" && r.mergedBlob != "" && r.archivedBlob != r.mergedBlob {
		a.gap(r.ID, r.MergeCommit, RuleRequestChanged, "%s (blob %s) is not the file merged in commit %s (blob %s): the archived request's bytes differ from what was approved",
			ledger.ArchivePath(r.ID), short(r.archivedBlob), short(r.MergeCommit), short(r.mergedBlob))
	}
	if st == nil {
		return
	}
	if st.GrantedAt != "" && !r.Granted {
		a.gap(r.ID, "", RuleGrantMissing, "the state says %s was granted at %s, but no commit in the history records the grant", r.ID, st.GrantedAt)
		r.Granted = true
	}
	end := st.EndTime()
	switch {
	case end.IsZero():
	case !st.State.Closed() && a.cfg.Now.Sub(end) > a.cfg.Grace:
		what := "granted"
		if st.State == ledger.Pending {
			what = "approved"
		}
		a.gap(r.ID, lastCommit(r), RuleClosureMissing, "%s was %s until %s; at %s no closure is recorded (%s overdue)",
			r.ID, what, st.End, request.FormatTime(a.cfg.Now), age(a.cfg.Now.Sub(end)))
	case st.State.Closed() && r.Granted:
		closed, err := time.Parse(time.RFC3339, st.ClosedAt)
		if err == nil && closed.Sub(end) > a.cfg.Grace {
			a.gap(r.ID, lastCommit(r), RuleClosureLate, "%s was to end at %s but access was revoked at %s (%s late)",
				r.ID, st.End, st.ClosedAt, age(closed.Sub(end)))
		}
	}
}

func (a *auditor) report(head string, f Filter) *Report {
	rep := &Report{Head: head, GeneratedAt: request.FormatTime(a.cfg.Now), Filter: f, Requests: []*Record{}, Gaps: []Gap{}}
	var all []*Record
	for _, r := range a.records {
		all = append(all, r)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].first < all[j].first })
	for _, r := range all {
		if f.Match(r, a.cfg.Now) {
			rep.Requests = append(rep.Requests, r)
			rep.Gaps = append(rep.Gaps, r.Gaps...)
		}
	}
	rep.Gaps = append(rep.Gaps, a.loose...)
	return rep
}

// trailers parses the last paragraph of a commit message as "Key: value"
// lines; keys may repeat.
func trailers(body string) map[string][]string {
	paras := strings.Split(strings.TrimSpace(strings.ReplaceAll(body, "\r\n", "\n")), "\n\n")
	out := map[string][]string{}
	if len(paras) < 2 {
		return out
	}
	for _, line := range strings.Split(paras[len(paras)-1], "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		out[k] = append(out[k], strings.TrimSpace(v))
	}
	return out
}

func first(tr map[string][]string, k string) string {
	if v := tr[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func archiveID(name string) string {
	return strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".status")
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func lastCommit(r *Record) string {
	if len(r.Steps) == 0 {
		return ""
	}
	return r.Steps[len(r.Steps)-1].Commit
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// age writes a duration for people: 3h5m, 2d4h, 45s.
func age(d time.Duration) string {
	if d < time.Minute {
		return d.Truncate(time.Second).String()
	}
	return request.FormatDuration(d)
}
