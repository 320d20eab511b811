package audit

import (
	"strings"
	"time"
)

// Filter chooses the requests a report shows. Empty fields match everything;
// a list matches any of its values.
type Filter struct {
	// Since and Until (RFC 3339) keep the requests whose access overlaps
	// [Since, Until): from its start (or grant) to its end or its closure,
	// whichever is later; a request that is still active runs to now. A
	// request that never got a window (denied at once) counts at its closure.
	Since string `json:"since,omitempty"`
	Until string `json:"until,omitempty"`
	// Accounts are 12-digit ids or aliases.
	Accounts []string `json:"accounts,omitempty"`
	// Requesters are GitHub logins, compared ignoring case.
	Requesters []string `json:"requesters,omitempty"`
	// PermissionSets are permission set names, compared ignoring case.
	PermissionSets []string `json:"permissionSets,omitempty"`
	// Policies are policy names.
	Policies []string `json:"policies,omitempty"`
	// Granted keeps only requests that were granted access.
	Granted bool `json:"granted,omitempty"`
	// Aliases maps account aliases to ids (from the current policies), so
	// that an alias matches requests that named the id, and the other way.
	Aliases map[string]string `json:"-"`
}

// Match reports whether r passes the filter at now.
func (f Filter) Match(r *Record, now time.Time) bool {
	if f.Granted && !r.Granted {
		return false
	}
	if len(f.Accounts) > 0 && !anyOf(f.Accounts, func(a string) bool {
		return a == r.Account || a == r.AccountAsWritten || r.Account != "" && f.Aliases[a] == r.Account ||
			r.AccountAsWritten != "" && f.Aliases[r.AccountAsWritten] == a
	}) {
		return false
	}
	if len(f.Requesters) > 0 && !anyOf(f.Requesters, func(u string) bool { return strings.EqualFold(u, r.Requester) }) {
		return false
	}
	if len(f.PermissionSets) > 0 && !anyOf(f.PermissionSets, func(p string) bool { return strings.EqualFold(p, r.PermissionSet) }) {
		return false
	}
	if len(f.Policies) > 0 && !anyOf(f.Policies, func(p string) bool { return p == r.Policy }) {
		return false
	}
	since, _ := time.Parse(time.RFC3339, f.Since)
	until, _ := time.Parse(time.RFC3339, f.Until)
	if since.IsZero() && until.IsZero() {
		return true
	}
	from, to := r.window(now)
	if from.IsZero() {
		// No time is known at all: show it rather than hide it.
		return true
	}
	if !since.IsZero() && to.Before(since) {
		return false
	}
	if !until.IsZero() && !from.Before(until) {
		return false
	}
	return true
}

// window is when the request held (or could hold) access.
func (r *Record) window(now time.Time) (from, to time.Time) {
	for _, s := range []string{r.Start, r.GrantedAt, r.ClosedAt} {
		if t, err := time.Parse(time.RFC3339, s); err == nil && (from.IsZero() || t.Before(from)) {
			from = t
		}
	}
	if from.IsZero() {
		from = r.mergedAt
	}
	to = from
	for _, s := range []string{r.End, r.ClosedAt} {
		if t, err := time.Parse(time.RFC3339, s); err == nil && t.After(to) {
			to = t
		}
	}
	if r.State == "active" && now.After(to) {
		to = now
	}
	return from, to
}

func anyOf(list []string, ok func(string) bool) bool {
	for _, v := range list {
		if ok(v) {
			return true
		}
	}
	return false
}
