// Package policy is the policy and identity formats, version 1, and the rules
// that decide whether a request is allowed: which policy applies, whether the
// requester is eligible, the maximum duration, the ticket, and who approves.
package policy

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/request"
	"github.com/elevate-dev/elevate/internal/strictyaml"
	"github.com/elevate-dev/elevate/schema"
)

// Dir is the folder that holds policies and the identities file.
const Dir = "policies"

// IdentitiesFile is the path of the identities file.
const IdentitiesFile = Dir + "/identities.yaml"

// Principals are GitHub users and teams.
type Principals struct {
	// Users are GitHub logins, compared case-insensitively.
	Users []string
	// Teams are "org/team-slug".
	Teams []string
}

// HasUser reports whether login is listed, ignoring case.
func (p Principals) HasUser(login string) bool {
	for _, u := range p.Users {
		if strings.EqualFold(u, login) {
			return true
		}
	}
	return false
}

// String lists the principals for messages: "users [a b], teams [o/t]".
func (p Principals) String() string {
	var parts []string
	if len(p.Users) > 0 {
		parts = append(parts, "users "+strings.Join(p.Users, ", "))
	}
	if len(p.Teams) > 0 {
		parts = append(parts, "teams "+strings.Join(p.Teams, ", "))
	}
	if len(parts) == 0 {
		return "nobody"
	}
	return strings.Join(parts, "; ")
}

// Account is an AWS account a policy covers.
type Account struct {
	// ID is the 12-digit account id.
	ID string
	// Alias is an optional name requesters may use instead of the id.
	Alias string
}

// Policy is one policies/*.yaml file.
type Policy struct {
	// File is the path it was read from.
	File string
	// Name is the policy's unique short name.
	Name string
	// Description says what the policy is for.
	Description string
	// Accounts are the accounts covered.
	Accounts []Account
	// PermissionSets are the permission set names covered.
	PermissionSets []string
	// Eligible may request; Approvers may approve.
	Eligible, Approvers Principals
	// Approvals is how many distinct approvers must approve.
	Approvals int
	// MaxDuration bounds a request's duration; MaxDurationText is as written.
	MaxDuration     time.Duration
	MaxDurationText string
	// Ticket, when not nil, is the pattern a required ticket must match.
	Ticket *regexp.Regexp
	// RemoveUnexplained makes reconcile remove assignments of the policy's
	// permission sets on its accounts that no open request explains (drift),
	// where this policy is the one that applies.
	RemoveUnexplained bool

	doc *strictyaml.Document
}

// Covers reports whether the policy covers the account id and permission set.
func (p *Policy) Covers(accountID, permissionSet string) bool {
	return p.coversAccount(accountID) && p.coversSet(permissionSet)
}

func (p *Policy) coversAccount(id string) bool {
	for _, a := range p.Accounts {
		if a.ID == id {
			return true
		}
	}
	return false
}

func (p *Policy) coversSet(ps string) bool {
	for _, s := range p.PermissionSets {
		if s == ps {
			return true
		}
	}
	return false
}

var (
	policyValidator     = schema.MustCompile(schema.Policy)
	identitiesValidator = schema.MustCompile(schema.Identities)
)

// Parse reads one policy file.
func Parse(file string, data []byte) (*Policy, []finding.Finding) {
	doc, fs := strictyaml.Decode(file, data)
	if doc == nil {
		return nil, fs
	}
	skip := map[string]bool{}
	p := &Policy{File: file, doc: doc}
	m, _ := doc.Value.(map[string]any)
	p.Name, _ = m["name"].(string)
	p.Description, _ = m["description"].(string)
	p.Approvals = intOf(m["approvals"])
	p.RemoveUnexplained, _ = m["removeUnexplained"].(bool)
	for i, a := range listOf(m["accounts"]) {
		am, _ := a.(map[string]any)
		acc := Account{}
		acc.ID, _ = am["id"].(string)
		acc.Alias, _ = am["alias"].(string)
		if n := nodeAt(doc.Node("accounts"), i, "id"); n != nil && !strictyaml.IsQuotedString(n) {
			path := fmt.Sprintf("accounts.%d.id", i)
			skip[path] = true
			fs = append(fs, finding.New(file, doc.Pos(path), "account-quoted",
				fmt.Sprintf("account id %s is not quoted, so YAML read it as a number (an id with a leading zero would silently change)", n.Value),
				fmt.Sprintf("quote it: id: \"%s\"", n.Value)))
		}
		p.Accounts = append(p.Accounts, acc)
	}
	p.PermissionSets = stringsOf(m["permissionSets"])
	p.Eligible = principalsOf(m["eligible"])
	p.Approvers = principalsOf(m["approvers"])
	if s, ok := m["maxDuration"].(string); ok {
		p.MaxDurationText = s
		d, err := request.ParseDuration(s)
		if err != nil {
			skip["maxDuration"] = true
			fs = append(fs, finding.New(file, doc.Pos("maxDuration"), "duration", fmt.Sprintf("maxDuration %q: %v", s, err), "write a duration such as 4h or 1d"))
		}
		p.MaxDuration = d
	}
	if t, ok := m["ticket"].(map[string]any); ok {
		if pat, ok := t["pattern"].(string); ok {
			re, err := regexp.Compile(pat)
			if err != nil {
				skip["ticket.pattern"] = true
				fs = append(fs, finding.New(file, doc.Pos("ticket.pattern"), "ticket-pattern", fmt.Sprintf("ticket pattern %q is not a valid RE2 regular expression: %v", pat, err), "write an RE2 regular expression such as ^INC-[0-9]+$"))
			}
			p.Ticket = re
		}
	}
	if e, ok := m["eligible"].(map[string]any); ok && len(stringsOf(e["users"]))+len(stringsOf(e["teams"])) == 0 {
		fs = append(fs, finding.New(file, doc.Pos("eligible"), "principals-empty", "eligible lists nobody", "list at least one user or team under eligible"))
	}
	if a, ok := m["approvers"].(map[string]any); ok && len(stringsOf(a["users"]))+len(stringsOf(a["teams"])) == 0 {
		fs = append(fs, finding.New(file, doc.Pos("approvers"), "principals-empty", "approvers lists nobody", "list at least one user or team under approvers"))
	}
	if len(p.Approvers.Teams) == 0 && len(p.Approvers.Users) > 0 && p.Approvals > len(p.Approvers.Users) {
		fs = append(fs, finding.New(file, doc.Pos("approvals"), "approvals-unreachable",
			fmt.Sprintf("approvals is %d but only %d approver%s listed, so no request could ever be approved", p.Approvals, len(p.Approvers.Users), map[bool]string{true: " is", false: "s are"}[len(p.Approvers.Users) == 1]),
			"lower approvals or list more approvers"))
	}
	fs = append(fs, policyValidator.Check(doc, skip)...)
	finding.Sort(fs)
	if len(fs) > 0 {
		return nil, fs
	}
	return p, nil
}

// Identities maps GitHub logins to Identity Center user names.
type Identities struct {
	// File is the path it was read from.
	File    string
	byLogin map[string]string
	doc     *strictyaml.Document
}

// NewIdentities builds identities from a login -> user name map (for tests
// and tools that write requests).
func NewIdentities(file string, m map[string]string) *Identities {
	ids := &Identities{File: file, byLogin: map[string]string{}}
	for k, v := range m {
		ids.byLogin[strings.ToLower(k)] = v
	}
	return ids
}

// UserName returns the Identity Center user name for a GitHub login, ignoring case.
func (i *Identities) UserName(login string) (string, bool) {
	if i == nil {
		return "", false
	}
	u, ok := i.byLogin[strings.ToLower(login)]
	return u, ok
}

// ParseIdentities reads policies/identities.yaml.
func ParseIdentities(file string, data []byte) (*Identities, []finding.Finding) {
	doc, fs := strictyaml.Decode(file, data)
	if doc == nil {
		return nil, fs
	}
	ids := &Identities{File: file, byLogin: map[string]string{}, doc: doc}
	seen := map[string]string{}
	if n := doc.Node("identities"); n != nil {
		for i := 0; i+1 < len(n.Content); i += 2 {
			login := n.Content[i].Value
			low := strings.ToLower(login)
			if first, dup := seen[low]; dup && first != login {
				fs = append(fs, finding.New(file, finding.Pos{Line: n.Content[i].Line, Col: n.Content[i].Column}, "identity-duplicate",
					fmt.Sprintf("login %q is the same GitHub login as %q (logins ignore case)", login, first), "keep one entry per login"))
			}
			seen[low] = login
		}
	}
	if m, ok := doc.Value.(map[string]any); ok {
		if idm, ok := m["identities"].(map[string]any); ok {
			for k, v := range idm {
				if s, ok := v.(string); ok {
					ids.byLogin[strings.ToLower(k)] = s
				}
			}
		}
	}
	fs = append(fs, identitiesValidator.Check(doc, nil)...)
	finding.Sort(fs)
	if len(fs) > 0 {
		return nil, fs
	}
	return ids, nil
}

// Set is every policy and the identities, as read from one ref.
type Set struct {
	Policies   []*Policy
	Identities *Identities
	aliases    map[string]string
}

// NewSet checks what a single file cannot: unique policy names, and aliases
// that name one account each. Policies are kept in file name order.
func NewSet(policies []*Policy, ids *Identities) (*Set, []finding.Finding) {
	sort.Slice(policies, func(i, j int) bool { return policies[i].File < policies[j].File })
	s := &Set{Policies: policies, Identities: ids, aliases: map[string]string{}}
	var fs []finding.Finding
	names := map[string]*Policy{}
	aliasFrom := map[string]*Policy{}
	for _, p := range policies {
		if q, dup := names[p.Name]; dup {
			fs = append(fs, finding.New(p.File, p.doc.Pos("name"), "policy-name-duplicate",
				fmt.Sprintf("policy name %q is also used by %s", p.Name, q.File), "give each policy its own name"))
		}
		names[p.Name] = p
		for i, a := range p.Accounts {
			if a.Alias == "" {
				continue
			}
			if id, dup := s.aliases[a.Alias]; dup && id != a.ID {
				fs = append(fs, finding.New(p.File, p.doc.Pos(fmt.Sprintf("accounts.%d.alias", i)), "alias-conflict",
					fmt.Sprintf("alias %q names account %s here but %s in %s", a.Alias, a.ID, id, aliasFrom[a.Alias].File), "use one alias per account"))
				continue
			}
			s.aliases[a.Alias] = a.ID
			aliasFrom[a.Alias] = p
		}
	}
	return s, fs
}

// ResolveAccount turns an alias or an id into a 12-digit id a policy covers.
func (s *Set) ResolveAccount(account string) (string, bool) {
	if id, ok := s.aliases[account]; ok {
		return id, true
	}
	for _, p := range s.Policies {
		if p.coversAccount(account) {
			return account, true
		}
	}
	return "", false
}

// Applicable returns every policy that covers the account and permission set,
// and the one to show first: the one requiring the most approvals, then the
// shortest maxDuration, then the first by file name. A request must satisfy
// every covering policy, so which is shown first never loosens anything.
func (s *Set) Applicable(accountID, permissionSet string) (*Policy, []*Policy) {
	var all []*Policy
	for _, p := range s.Policies {
		if p.Covers(accountID, permissionSet) {
			all = append(all, p)
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	best := all[0]
	for _, p := range all[1:] {
		if p.Approvals > best.Approvals || p.Approvals == best.Approvals && p.MaxDuration < best.MaxDuration {
			best = p
		}
	}
	return best, all
}

// TeamChecker answers whether a GitHub login is an active member of a team
// ("org/slug"). The approval package's GitHub client satisfies it.
type TeamChecker interface {
	IsTeamMember(ctx context.Context, team, login string) (bool, error)
}

// Decision is the outcome of checking a request against the policies.
type Decision struct {
	// Policy is the covering policy shown first (the one requiring the most
	// approvals), or nil when none covers the request.
	Policy *Policy
	// Policies are every policy that covers the request; each must hold,
	// including its approval rule.
	Policies []*Policy
	// Why says which policies apply and why.
	Why string
	// AccountID is the resolved 12-digit account id.
	AccountID string
	// UserName is the requester's Identity Center user name.
	UserName string
	// Findings are the reasons the request is not allowed; empty means allowed
	// (approvals are checked later, on the PR).
	Findings []finding.Finding
}

// Evaluate checks a parsed request against the set. teams may be nil: then
// eligibility through a team cannot be shown, and the request is refused
// unless the requester is listed as a user (fail closed).
func (s *Set) Evaluate(ctx context.Context, r *request.Request, teams TeamChecker) Decision {
	var d Decision
	add := func(field, rule, msg, fix string) {
		d.Findings = append(d.Findings, finding.New(r.File, r.Pos(field), rule, msg, fix))
	}
	if u, ok := s.Identities.UserName(r.Requester); ok {
		d.UserName = u
	} else {
		add("requester", "requester-identity",
			fmt.Sprintf("requester %q is not in %s", r.Requester, IdentitiesFile),
			"ask an admin to add your GitHub login and Identity Center user name to "+IdentitiesFile+" in a separate PR")
	}
	id, ok := s.ResolveAccount(r.Account)
	if !ok {
		add("account", "account-not-covered", fmt.Sprintf("no policy covers account %q", r.Account), "use one of: "+s.knownAccounts())
		return d
	}
	d.AccountID = id
	p, all := s.Applicable(id, r.PermissionSet)
	if p == nil {
		add("permissionSet", "permission-set-not-covered",
			fmt.Sprintf("no policy covers permission set %q on account %s", r.PermissionSet, id),
			"use one of: "+strings.Join(s.setsFor(id), ", "))
		return d
	}
	d.Policy, d.Policies = p, all
	d.Why = fmt.Sprintf("policy %s (%s) covers %s on %s", p.Name, p.File, r.PermissionSet, id)
	if len(all) > 1 {
		var names []string
		for _, q := range all {
			names = append(names, q.Name)
		}
		d.Why = fmt.Sprintf("policies %s all cover %s on %s, and a request must satisfy every one of them (eligibility, maxDuration, ticket and approvals); %s is shown first because it requires the most approvals",
			strings.Join(names, ", "), r.PermissionSet, id, p.Name)
	}
	for _, q := range all {
		s.check(ctx, q, r, teams, add)
	}
	finding.Sort(d.Findings)
	return d
}

// check adds the findings of one covering policy: eligibility, maxDuration, ticket.
func (s *Set) check(ctx context.Context, p *Policy, r *request.Request, teams TeamChecker, add func(field, rule, msg, fix string)) {
	if ok, err := s.eligible(ctx, p, r.Requester, teams); err != nil {
		add("requester", "eligible", fmt.Sprintf("cannot check whether %q is eligible under policy %s: %v", r.Requester, p.Name, err), "retry; if it persists check the token's Members: read permission")
	} else if !ok {
		fix := fmt.Sprintf("policy %s allows %s", p.Name, p.Eligible)
		if teams == nil && len(p.Eligible.Teams) > 0 {
			fix += "; team membership cannot be checked without a token with Members: read (set GITHUB_TOKEN)"
		}
		add("requester", "eligible", fmt.Sprintf("requester %q is not eligible under policy %s", r.Requester, p.Name), fix)
	}
	if r.Duration > p.MaxDuration {
		add("duration", "duration-max",
			fmt.Sprintf("duration %s is longer than policy %s allows (maxDuration %s)", r.DurationText, p.Name, p.MaxDurationText),
			fmt.Sprintf("ask for %s or less", p.MaxDurationText))
	}
	if p.Ticket != nil {
		switch {
		case r.Ticket == "":
			add("", "ticket-required", fmt.Sprintf("policy %s requires a ticket matching %s", p.Name, p.Ticket), "add `ticket: <id>`")
		case !fullMatch(p.Ticket, r.Ticket):
			add("ticket", "ticket-pattern", fmt.Sprintf("ticket %q does not match policy %s's pattern %s", r.Ticket, p.Name, p.Ticket), "write the ticket id in that form")
		}
	}
}

func (s *Set) eligible(ctx context.Context, p *Policy, login string, teams TeamChecker) (bool, error) {
	if p.Eligible.HasUser(login) {
		return true, nil
	}
	if teams == nil {
		return false, nil
	}
	for _, t := range p.Eligible.Teams {
		ok, err := teams.IsTeamMember(ctx, t, login)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func fullMatch(re *regexp.Regexp, s string) bool {
	loc := re.FindStringIndex(s)
	return loc != nil && loc[0] == 0 && loc[1] == len(s)
}

func (s *Set) knownAccounts() string {
	seen := map[string]bool{}
	var out []string
	for _, p := range s.Policies {
		for _, a := range p.Accounts {
			k := fmt.Sprintf("%q", a.ID)
			if a.Alias != "" {
				k = a.Alias + " (" + a.ID + ")"
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	if len(out) == 0 {
		return "(no policy covers any account)"
	}
	return strings.Join(out, ", ")
}

func (s *Set) setsFor(id string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range s.Policies {
		if !p.coversAccount(id) {
			continue
		}
		for _, ps := range p.PermissionSets {
			if !seen[ps] {
				seen[ps] = true
				out = append(out, ps)
			}
		}
	}
	sort.Strings(out)
	return out
}

func intOf(v any) int {
	switch t := v.(type) {
	case int64:
		return int(t)
	case float64:
		return int(t)
	}
	return 0
}

func listOf(v any) []any { l, _ := v.([]any); return l }

func stringsOf(v any) []string {
	var out []string
	for _, x := range listOf(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func principalsOf(v any) Principals {
	m, _ := v.(map[string]any)
	return Principals{Users: stringsOf(m["users"]), Teams: stringsOf(m["teams"])}
}

// nodeAt returns the value node of key in the i-th mapping of a sequence.
func nodeAt(seq *yaml.Node, i int, key string) *yaml.Node {
	if seq == nil || seq.Kind != yaml.SequenceNode || i >= len(seq.Content) {
		return nil
	}
	m := seq.Content[i]
	for j := 0; j+1 < len(m.Content); j += 2 {
		if m.Content[j].Value == key {
			return m.Content[j+1]
		}
	}
	return nil
}
