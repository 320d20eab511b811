package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/policy"
	"github.com/elevate-dev/elevate/internal/request"
)

// explainOptions are the flags of `elevate explain`.
type explainOptions struct {
	Dir    string
	Target string
	Format string
}

func parseExplain(env Env, args []string) (explainOptions, error) {
	o := explainOptions{}
	fs := newFlags(env, "explain", "explain [--format text|json] <request id or file>", `  elevate explain alice-prod-rollback            # requests/alice-prod-rollback.yaml, or its archive
  elevate explain requests/alice-prod-rollback.yaml
  elevate explain --format json ./my-draft.yaml   # a file anywhere; its name is its id

It judges the request against the policies in this checkout, as the PR check
does against main: which policies apply and why (when several cover the
request, every one must allow it, approvals included; the one requiring the
most approvals is shown first), who is eligible, who can approve and
how many approvals are needed. For a merged request it also shows what
elevate recorded. Exit status 1 when the policies do not allow the request.`)
	fs.StringVar(&o.Dir, "C", ".", "run as if started in `dir` (a checkout of main)")
	fs.StringVar(&o.Format, "format", "text", "output `format`: text or json")
	if err := parse(fs, args, 1); err != nil {
		return o, err
	}
	if fs.NArg() != 1 {
		return o, &UsageError{Msg: "explain needs a request id or file, e.g. elevate explain alice-prod-rollback"}
	}
	o.Target = fs.Arg(0)
	if err := textOrJSON(o.Format); err != nil {
		return o, err
	}
	o.Dir = absDir(env, o.Dir)
	return o, nil
}

// explanation is what `elevate explain` says, also its JSON form.
type explanation struct {
	ID            string            `json:"id"`
	File          string            `json:"file"`
	Requester     string            `json:"requester"`
	Account       string            `json:"account"`
	AccountID     string            `json:"accountId,omitempty"`
	PermissionSet string            `json:"permissionSet"`
	Duration      string            `json:"duration"`
	Reason        string            `json:"reason"`
	Ticket        string            `json:"ticket,omitempty"`
	Start         string            `json:"start,omitempty"`
	Policy        *policyView       `json:"policy"`
	Why           string            `json:"why,omitempty"`
	AlsoCovering  []string          `json:"alsoCovering"`
	Eligible      bool              `json:"eligible"`
	EligibleWhy   string            `json:"eligibleWhy,omitempty"`
	Allowed       bool              `json:"allowed"`
	Findings      []finding.Finding `json:"findings"`
	Status        *ledger.Status    `json:"status,omitempty"`
}

type policyView struct {
	Name          string   `json:"name"`
	File          string   `json:"file"`
	Description   string   `json:"description,omitempty"`
	EligibleUsers []string `json:"eligibleUsers"`
	EligibleTeams []string `json:"eligibleTeams"`
	ApproverUsers []string `json:"approverUsers"`
	ApproverTeams []string `json:"approverTeams"`
	Approvals     int      `json:"approvals"`
	MaxDuration   string   `json:"maxDuration"`
	TicketPattern string   `json:"ticketPattern,omitempty"`
}

func runExplain(ctx context.Context, env Env, args []string) error {
	o, err := parseExplain(env, args)
	if err != nil {
		return err
	}
	repo, err := gitrepo.Open(ctx, o.Dir)
	if err != nil {
		return err
	}
	defer repo.Close()
	tree := gitrepo.WorkTree(repo.Dir)
	r, st, err := findRequest(ctx, env, tree, repo.Dir, o.Target)
	if err != nil {
		return err
	}
	set, pfs, err := policy.Load(ctx, tree)
	if err != nil {
		return err
	}
	if pfs != nil {
		_ = finding.WriteText(env.Stderr, pfs)
		return fmt.Errorf("the policies in %s do not validate, so nothing can be explained against them", repo.Dir)
	}
	var teams policy.TeamChecker
	if gh, _, _, err := githubClient(env); err == nil {
		teams = teamChecker{gh.Teams}
	}
	d := set.Evaluate(ctx, r, teams)
	ex := explanation{ID: r.ID, File: r.File, Requester: r.Requester, Account: r.Account, AccountID: d.AccountID,
		PermissionSet: r.PermissionSet, Duration: r.DurationText, Reason: r.Reason, Ticket: r.Ticket,
		Why: d.Why, AlsoCovering: []string{}, Allowed: len(d.Findings) == 0, Findings: d.Findings, Status: st}
	if ex.Findings == nil {
		ex.Findings = []finding.Finding{}
	}
	if r.Start != nil {
		ex.Start = request.FormatTime(*r.Start)
	}
	if p := d.Policy; p != nil {
		ex.Policy = &policyView{Name: p.Name, File: p.File, Description: p.Description,
			EligibleUsers: nonNil(p.Eligible.Users), EligibleTeams: nonNil(p.Eligible.Teams),
			ApproverUsers: nonNil(p.Approvers.Users), ApproverTeams: nonNil(p.Approvers.Teams),
			Approvals: p.Approvals, MaxDuration: p.MaxDurationText}
		if p.Ticket != nil {
			ex.Policy.TicketPattern = p.Ticket.String()
		}
		_, all := set.Applicable(d.AccountID, r.PermissionSet)
		for _, q := range all {
			if q != p {
				ex.AlsoCovering = append(ex.AlsoCovering, q.Name)
			}
		}
		ex.Eligible, ex.EligibleWhy = eligibility(ctx, p, r.Requester, teams)
	}
	if o.Format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(ex); err != nil {
			return err
		}
	} else if err := writeExplanation(env.Stdout, &ex); err != nil {
		return err
	}
	if !ex.Allowed {
		return &FindingsError{Count: len(ex.Findings)}
	}
	return nil
}

// findRequest reads the request a target names: a file path, or an id in
// requests/ or the archive. It also returns the recorded status, if any.
func findRequest(ctx context.Context, env Env, tree gitrepo.WorkTree, root, target string) (*request.Request, *ledger.Status, error) {
	var candidates []string
	isPath := strings.ContainsAny(target, `/\`) || strings.HasSuffix(target, ".yaml")
	if isPath {
		full := target
		if !filepath.IsAbs(full) {
			full = filepath.Join(env.Dir, full)
		}
		rel, err := filepath.Rel(root, full)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, nil, &UsageError{Msg: fmt.Sprintf("%s is not inside the checkout %s", target, root)}
		}
		candidates = []string{filepath.ToSlash(rel)}
	} else {
		candidates = []string{request.Dir + "/" + target + ".yaml", ledger.ArchivePath(target)}
	}
	for _, path := range candidates {
		data, ffs, err := policy.ReadFile(ctx, tree, path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if ffs != nil {
			_ = finding.WriteText(env.Stdout, ffs)
			return nil, nil, &FindingsError{Count: len(ffs)}
		}
		id := strings.TrimSuffix(filepath.Base(path), ".yaml")
		// Parse checks the id against its folder; judge any file as if it
		// were in requests/.
		r, rfs := request.Parse(request.Dir+"/"+id+".yaml", data)
		if r == nil {
			for i := range rfs {
				rfs[i].File = path
			}
			_ = finding.WriteText(env.Stdout, rfs)
			return nil, nil, &FindingsError{Count: len(rfs)}
		}
		r.File = path
		var st *ledger.Status
		for _, sp := range []string{ledger.StatusPath(id), ledger.ArchiveStatusPath(id)} {
			if b, _, err := tree.Read(ctx, sp, 1<<20); err == nil {
				if s, err := ledger.ParseStatus(b); err == nil && s.Request == id {
					st = s
					break
				}
			}
		}
		return r, st, nil
	}
	if isPath {
		return nil, nil, &UsageError{Msg: fmt.Sprintf("no file %s", target)}
	}
	return nil, nil, &UsageError{Msg: fmt.Sprintf("no request %q: neither %s nor %s exists (pull main?)", target, candidates[0], candidates[1])}
}

// eligibility says whether login may ask under p, and why.
func eligibility(ctx context.Context, p *policy.Policy, login string, teams policy.TeamChecker) (bool, string) {
	if p.Eligible.HasUser(login) {
		return true, login + " is listed under eligible.users"
	}
	if len(p.Eligible.Teams) == 0 {
		return false, login + " is not listed under eligible.users, and the policy lists no teams"
	}
	if teams == nil {
		return false, fmt.Sprintf("%s is not listed under eligible.users; membership of %s cannot be checked without GITHUB_TOKEN (Members: read) and GITHUB_REPOSITORY",
			login, strings.Join(p.Eligible.Teams, ", "))
	}
	for _, t := range p.Eligible.Teams {
		ok, err := teams.IsTeamMember(ctx, t, login)
		if err != nil {
			return false, fmt.Sprintf("cannot check %s's membership of %s: %v", login, t, err)
		}
		if ok {
			return true, fmt.Sprintf("%s is an active member of team %s", login, t)
		}
	}
	return false, fmt.Sprintf("%s is not listed under eligible.users nor an active member of %s", login, strings.Join(p.Eligible.Teams, ", "))
}

func writeExplanation(w io.Writer, ex *explanation) error {
	var b strings.Builder
	e := finding.Escape
	start := "when its PR is merged"
	if ex.Start != "" {
		start = "at " + ex.Start
	}
	fmt.Fprintf(&b, "%s (%s)\n", e(ex.ID), e(ex.File))
	fmt.Fprintf(&b, "  %s asks for %s on %s for %s, starting %s\n", e(ex.Requester), e(ex.PermissionSet), e(accountText(ex.Account, ex.AccountID)), e(ex.Duration), start)
	fmt.Fprintf(&b, "  reason: %s\n", e(ex.Reason))
	if ex.Ticket != "" {
		fmt.Fprintf(&b, "  ticket: %s\n", e(ex.Ticket))
	}
	if p := ex.Policy; p != nil {
		fmt.Fprintf(&b, "\npolicy %s (%s) applies\n", p.Name, p.File)
		if len(ex.AlsoCovering) == 0 {
			fmt.Fprintf(&b, "  why: it is the only policy that covers %s on %s\n", e(ex.PermissionSet), ex.AccountID)
		} else {
			fmt.Fprintf(&b, "  why: %s\n", e(ex.Why))
		}
		if p.Description != "" {
			fmt.Fprintf(&b, "  about: %s\n", e(p.Description))
		}
		fmt.Fprintf(&b, "  eligible: %s\n", principals(p.EligibleUsers, p.EligibleTeams))
		verdict := "not eligible"
		if ex.Eligible {
			verdict = "eligible"
		}
		fmt.Fprintf(&b, "    %s: %s\n", verdict, e(ex.EligibleWhy))
		fmt.Fprintf(&b, "  approvers: %s\n", principals(p.ApproverUsers, p.ApproverTeams))
		fmt.Fprintf(&b, "  approvals needed: %d, from different approvers, on the PR's final commit; the requester, anyone who committed to the PR and bots do not count\n", p.Approvals)
		fmt.Fprintf(&b, "  max duration: %s\n", p.MaxDuration)
		if p.TicketPattern != "" {
			fmt.Fprintf(&b, "  ticket: required, matching %s\n", p.TicketPattern)
		}
	}
	switch {
	case ex.Allowed && ex.Status != nil:
		fmt.Fprintf(&b, "\nallowed by the policies in this checkout\n")
	case ex.Allowed:
		fmt.Fprintf(&b, "\nallowed: once merged with %d approval%s, access starts %s and lasts %s\n", ex.Policy.Approvals, plural(ex.Policy.Approvals), start, e(ex.Duration))
	default:
		fmt.Fprintf(&b, "\nnot allowed:\n")
		for _, f := range ex.Findings {
			fmt.Fprintf(&b, "  %s\n", f.Text())
		}
	}
	if st := ex.Status; st != nil {
		fmt.Fprintf(&b, "\nrecorded by elevate: %s", st.State)
		if st.Policy != "" {
			fmt.Fprintf(&b, " under policy %s", st.Policy)
		}
		if len(st.ApprovedBy) > 0 {
			fmt.Fprintf(&b, ", approved by %s", e(strings.Join(st.ApprovedBy, ", ")))
		}
		if st.PullRequest > 0 {
			fmt.Fprintf(&b, " in PR #%d", st.PullRequest)
		}
		if st.Start != "" {
			fmt.Fprintf(&b, ", %s to %s", st.Start, st.End)
		}
		if st.Reason != "" {
			fmt.Fprintf(&b, "; %s", e(st.Reason))
		}
		b.WriteString("\n")
		if ex.Policy != nil && st.Policy != "" && st.Policy != ex.Policy.Name {
			fmt.Fprintf(&b, "  (it was decided under %s, the policy on main before it was merged; today %s would apply)\n", st.Policy, ex.Policy.Name)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func principals(users, teams []string) string {
	return policy.Principals{Users: users, Teams: teams}.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
