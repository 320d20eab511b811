package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/policy"
)

// Lister lists assignments; *identitycenter.Backend satisfies it. A Backend
// that is also a Lister gets drift detection.
type Lister interface {
	List(ctx context.Context, permissionSets []string, accounts []string) ([]identitycenter.Assignment, error)
}

// drift finds the assignments of managed permission sets on managed
// accounts (a pair some policy covers, as the checked-out policies say)
// that no step of this run explains. For plan (remove false) it reports
// every such assignment as Unexplained; for reconcile it looks only at
// pairs whose applicable policy sets removeUnexplained and returns a
// Remove step for each. Assignments of sets or accounts no policy names are
// never looked at. Users are matched by Identity Center user name; group
// assignments are not considered.
func drift(ctx context.Context, cfg Config, steps []Step, remove bool) []Step {
	lister, ok := cfg.Backend.(Lister)
	if !ok || cfg.Backend == nil {
		return nil
	}
	set, findings, err := policy.Load(ctx, gitrepo.WorkTree(cfg.Repo.Dir))
	if err != nil || len(findings) > 0 {
		why := texts(findings)
		if err != nil {
			why = err.Error()
		}
		cfg.logf("warning: unexplained assignments not checked: the policies do not load: %s", why)
		return nil
	}
	// The pairs to look at, by permission set.
	accounts := map[string]map[string]*policy.Policy{}
	for _, p := range set.Policies {
		for _, ps := range p.PermissionSets {
			for _, a := range p.Accounts {
				applies, _ := set.Applicable(a.ID, ps)
				if applies == nil || remove && !applies.RemoveUnexplained {
					continue
				}
				if accounts[ps] == nil {
					accounts[ps] = map[string]*policy.Policy{}
				}
				accounts[ps][a.ID] = applies
			}
		}
	}
	explained := map[identitycenter.Assignment]bool{}
	for _, s := range steps {
		if explains(s) {
			explained[assignment(&s.Status)] = true
		}
	}
	sets := make([]string, 0, len(accounts))
	for ps := range accounts {
		sets = append(sets, ps)
	}
	sort.Strings(sets)
	var out []Step
	for _, ps := range sets {
		ids := make([]string, 0, len(accounts[ps]))
		for id := range accounts[ps] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		held, err := lister.List(ctx, []string{ps}, ids)
		var missing *identitycenter.PermissionSetNotFoundError
		if errors.As(err, &missing) {
			// Nothing can hold a set that does not exist.
			continue
		}
		if err != nil {
			kind := Unexplained
			if remove {
				kind = Remove
			}
			out = append(out, Step{Kind: kind, Status: ledger.Status{PermissionSet: ps}, Err: fmt.Errorf("look for unexplained assignments of %s: %w", ps, err)})
			continue
		}
		for _, a := range held {
			key := identitycenter.Assignment{UserName: a.UserName, PermissionSet: a.PermissionSet, AccountID: a.AccountID}
			if a.UserName != "" && explained[key] {
				continue
			}
			p := accounts[ps][a.AccountID]
			s := Step{Kind: Unexplained, userID: a.UserID, Status: ledger.Status{
				UserName: a.UserName, PermissionSet: a.PermissionSet, Account: a.AccountID, Policy: p.Name,
			}}
			switch {
			case remove:
				s.Kind, s.Reason = Remove, fmt.Sprintf("no open request explains this assignment and policy %s says removeUnexplained", p.Name)
			case p.RemoveUnexplained:
				s.Reason = fmt.Sprintf("no open request explains this assignment; reconcile removes it (policy %s says removeUnexplained)", p.Name)
			default:
				s.Reason = fmt.Sprintf("no open request explains this assignment; reported only (policy %s does not say removeUnexplained)", p.Name)
			}
			if a.UserName == "" {
				s.Reason = fmt.Sprintf("held by user id %s, no longer in the Identity Store; %s", a.UserID, s.Reason)
			} else {
				s.Reason = fmt.Sprintf("held by %s; %s", a.UserName, s.Reason)
			}
			out = append(out, s)
		}
	}
	return out
}

// explains reports whether a step accounts for its assignment existing (or
// takes care of it itself): a grant that stays or is being made, a revoke
// in progress, or a step whose outcome is unknown because it failed.
func explains(s Step) bool {
	if s.Err != nil {
		return true
	}
	switch s.Kind {
	case Grant, Repair, Release, Revoke, End, Lapse:
		return true
	case Keep:
		return s.Status.State == ledger.Active
	}
	return false
}

// removal is what a Remove step records.
func removal(s *Step) ledger.Removal {
	return ledger.Removal{
		UserName: s.Status.UserName, UserID: s.userID, Account: s.Status.Account,
		PermissionSet: s.Status.PermissionSet, Policy: s.Status.Policy, Reason: s.Reason,
	}
}
