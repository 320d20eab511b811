package approval

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-github/v62/github"
)

// ErrInvalidRule is returned by Verify for a rule that could never be
// checked: Required below 1, no users or teams, or a team not "org/slug".
var ErrInvalidRule = errors.New("invalid approval rule")

// Verify checks that pr was approved for requester under rule (see the
// package comment for what counts). It reads the PR's reviews, commits and
// files, and the team membership of reviewers the rule does not list by
// name. The verdict is deterministic for what GitHub answered; an error
// means GitHub could not be asked (or the rule is invalid) and nothing may
// be concluded. Verify does not check that pr is merged: FindMergedPR does.
func (v *Verifier) Verify(ctx context.Context, owner, repo string, pr *github.PullRequest, requester string, rule Rule) (Verdict, error) {
	if pr == nil || pr.GetNumber() == 0 || pr.GetHead().GetSHA() == "" {
		return Verdict{}, errors.New("verify: need a pull request with a number and a head SHA")
	}
	teams, err := checkRule(rule)
	if err != nil {
		return Verdict{}, err
	}
	if len(teams) > 0 && v.teams == nil {
		return Verdict{}, fmt.Errorf("verify PR %d: the rule names teams but the verifier has no Teams client", pr.GetNumber())
	}
	vd := Verdict{
		PR:             pr.GetNumber(),
		Author:         pr.GetUser().GetLogin(),
		HeadSHA:        pr.GetHead().GetSHA(),
		BaseRef:        pr.GetBase().GetRef(),
		BaseSHA:        pr.GetBase().GetSHA(),
		MergeCommitSHA: pr.GetMergeCommitSHA(),
		MergedBy:       pr.GetMergedBy().GetLogin(),
		Required:       rule.Required,
	}
	// blockers fail the whole PR closed, whatever the approvals.
	var blockers []string
	if requester == "" || !strings.EqualFold(vd.Author, requester) {
		blockers = append(blockers, fmt.Sprintf("the requester %s is not the PR author %s", quoteLogin(requester), quoteLogin(vd.Author)))
	}

	reviews, more, err := v.listReviews(ctx, owner, repo, vd.PR)
	if err != nil {
		return Verdict{}, err
	}
	if more {
		blockers = append(blockers, fmt.Sprintf("the PR has more than %d reviews, more than elevate reads", v.opts.MaxReviewPages*perPage))
	}
	pushers, blocker, err := v.listPushers(ctx, owner, repo, pr)
	if err != nil {
		return Verdict{}, err
	}
	if blocker != "" {
		blockers = append(blockers, blocker)
	}
	vd.Files, blocker, err = v.listFiles(ctx, owner, repo, pr)
	if err != nil {
		return Verdict{}, err
	}
	if blocker != "" {
		blockers = append(blockers, blocker)
	}

	latest, ignored := latestOpinions(reviews)
	counted := map[int64]string{}
	team404 := false
	for _, r := range latest {
		login := r.GetUser().GetLogin()
		whys := disqualify(r, vd.HeadSHA, requester, vd.Author, pushers)
		if len(whys) == 0 {
			ok, why, saw404, err := v.allowed(ctx, login, rule.Users, teams)
			if err != nil {
				return Verdict{}, fmt.Errorf("verify PR %d: %w", vd.PR, err)
			}
			team404 = team404 || saw404
			if !ok {
				whys = append(whys, why)
			}
		}
		if len(whys) > 0 {
			ignored = append(ignored, Ignored{Login: login, Why: strings.Join(whys, "; ")})
			continue
		}
		counted[r.GetUser().GetID()] = login
	}
	for _, login := range counted {
		vd.Approvers = append(vd.Approvers, login)
	}
	sort.Strings(vd.Approvers)
	sort.SliceStable(ignored, func(i, j int) bool { return strings.ToLower(ignored[i].Login) < strings.ToLower(ignored[j].Login) })
	vd.Ignored = ignored
	vd.Approved = len(blockers) == 0 && len(vd.Approvers) >= rule.Required
	if !vd.Approved {
		vd.Reason = reason(rule, blockers, vd.Approvers, ignored, team404)
	}
	return vd, nil
}

// team is a parsed "org/slug".
type team struct{ org, slug string }

func (t team) String() string { return t.org + "/" + t.slug }

func checkRule(rule Rule) ([]team, error) {
	if rule.Required < 1 {
		return nil, fmt.Errorf("%w: needs at least 1 approval, has %d", ErrInvalidRule, rule.Required)
	}
	if len(rule.Users) == 0 && len(rule.Teams) == 0 {
		return nil, fmt.Errorf("%w: names no users or teams who may approve", ErrInvalidRule)
	}
	teams := make([]team, 0, len(rule.Teams))
	for _, s := range rule.Teams {
		t, err := parseTeam(s)
		if err != nil {
			return nil, err
		}
		teams = append(teams, t)
	}
	return teams, nil
}

// parseTeam reads "org/slug".
func parseTeam(s string) (team, error) {
	org, slug, ok := strings.Cut(s, "/")
	if !ok || org == "" || slug == "" || strings.ContainsAny(slug, "/ ") || strings.ContainsAny(org, " ") {
		return team{}, fmt.Errorf("%w: team %q is not org/slug", ErrInvalidRule, s)
	}
	return team{org: org, slug: slug}, nil
}

func (v *Verifier) listReviews(ctx context.Context, owner, repo string, n int) ([]*github.PullRequestReview, bool, error) {
	var all []*github.PullRequestReview
	opts := &github.ListOptions{PerPage: perPage}
	for range v.opts.MaxReviewPages {
		page, resp, err := call(ctx, v, fmt.Sprintf("list reviews for PR %d", n), func() ([]*github.PullRequestReview, *github.Response, error) {
			return v.prs.ListReviews(ctx, owner, repo, n, opts)
		})
		if err != nil {
			return nil, false, err
		}
		all = append(all, page...)
		if resp == nil || resp.NextPage == 0 {
			return all, false, nil
		}
		opts.Page = resp.NextPage
	}
	return all, true, nil
}

// push is where a user first appears in a PR's commits.
type push struct{ role, sha string }

// pushers indexes everyone linked to a PR commit, as author or committer,
// by user id and by lower-case login.
type pushers struct {
	byID    map[int64]push
	byLogin map[string]push
}

func (p pushers) add(u *github.User, role, sha string) {
	if u == nil {
		return
	}
	if id := u.GetID(); id != 0 {
		if _, ok := p.byID[id]; !ok {
			p.byID[id] = push{role, sha}
		}
	}
	if login := strings.ToLower(u.GetLogin()); login != "" {
		if _, ok := p.byLogin[login]; !ok {
			p.byLogin[login] = push{role, sha}
		}
	}
}

func (p pushers) find(u *github.User) (push, bool) {
	if x, ok := p.byID[u.GetID()]; ok && u.GetID() != 0 {
		return x, true
	}
	x, ok := p.byLogin[strings.ToLower(u.GetLogin())]
	return x, ok && u.GetLogin() != ""
}

// listPushers reads the PR's commits. GitHub lists at most 250: beyond that
// who pushed cannot be known, and the blocker says so.
func (v *Verifier) listPushers(ctx context.Context, owner, repo string, pr *github.PullRequest) (pushers, string, error) {
	p := pushers{byID: map[int64]push{}, byLogin: map[string]push{}}
	n := pr.GetNumber()
	if pr.GetCommits() > maxPRCommits {
		return p, fmt.Sprintf("the PR has %d commits, more than the %d GitHub lists, so who pushed cannot be checked", pr.GetCommits(), maxPRCommits), nil
	}
	listed := 0
	var unattributed []string
	opts := &github.ListOptions{PerPage: perPage}
	for range (maxPRCommits + perPage - 1) / perPage {
		page, resp, err := call(ctx, v, fmt.Sprintf("list commits for PR %d", n), func() ([]*github.RepositoryCommit, *github.Response, error) {
			return v.prs.ListCommits(ctx, owner, repo, n, opts)
		})
		if err != nil {
			return p, "", err
		}
		for _, c := range page {
			p.add(c.Author, "authored", c.GetSHA())
			p.add(c.Committer, "committed", c.GetSHA())
			// A commit whose author or committer GitHub links to no account
			// may be anyone's push, an approver's included: who pushed it
			// cannot be checked, so it fails closed.
			for _, who := range []struct {
				role string
				u    *github.User
			}{{"author", c.Author}, {"committer", c.Committer}} {
				if who.u == nil || (who.u.GetID() == 0 && who.u.GetLogin() == "") {
					unattributed = append(unattributed, fmt.Sprintf("%s (%s)", short(c.GetSHA()), who.role))
				}
			}
		}
		listed += len(page)
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	switch {
	case pr.Commits == nil && listed >= maxPRCommits:
		return p, fmt.Sprintf("GitHub listed %d commits, its maximum, so who pushed cannot be checked", listed), nil
	case listed < pr.GetCommits():
		return p, fmt.Sprintf("GitHub listed %d of the PR's %d commits, so who pushed cannot be checked", listed, pr.GetCommits()), nil
	case len(unattributed) > 0:
		list := unattributed
		if len(list) > 3 {
			list = append(list[:3:3], fmt.Sprintf("and %d more", len(unattributed)-3))
		}
		return p, fmt.Sprintf("GitHub links no account to commit %s, so who pushed it cannot be checked (commit with the e-mail address of a GitHub account)", strings.Join(list, ", ")), nil
	}
	return p, "", nil
}

// listFiles reads the PR's changed files; GitHub lists at most 3000.
func (v *Verifier) listFiles(ctx context.Context, owner, repo string, pr *github.PullRequest) ([]File, string, error) {
	n := pr.GetNumber()
	if pr.GetChangedFiles() > maxPRFiles {
		return nil, fmt.Sprintf("the PR changes %d files, more than the %d GitHub lists", pr.GetChangedFiles(), maxPRFiles), nil
	}
	var files []File
	opts := &github.ListOptions{PerPage: perPage}
	for range maxPRFiles / perPage {
		page, resp, err := call(ctx, v, fmt.Sprintf("list files for PR %d", n), func() ([]*github.CommitFile, *github.Response, error) {
			return v.prs.ListFiles(ctx, owner, repo, n, opts)
		})
		if err != nil {
			return nil, "", err
		}
		for _, f := range page {
			files = append(files, File{Name: f.GetFilename(), Status: f.GetStatus(), BlobSHA: f.GetSHA(), PreviousName: f.GetPreviousFilename()})
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	switch {
	case pr.ChangedFiles == nil && len(files) >= maxPRFiles:
		return files, fmt.Sprintf("GitHub listed %d files, its maximum, so the change cannot be checked", len(files)), nil
	case len(files) < pr.GetChangedFiles():
		return files, fmt.Sprintf("GitHub listed %d of the PR's %d changed files", len(files), pr.GetChangedFiles()), nil
	}
	return files, "", nil
}

// latestOpinions keeps each reviewer's latest opinion, keyed by user id, in
// the order reviewers first gave one. APPROVED, CHANGES_REQUESTED and
// DISMISSED are opinions and replace earlier ones; COMMENTED and PENDING
// (and any state GitHub may add) are not. Approvals without a user (deleted
// accounts) cannot be attributed and are returned as ignored.
func latestOpinions(reviews []*github.PullRequestReview) ([]*github.PullRequestReview, []Ignored) {
	var order []int64
	latest := map[int64]*github.PullRequestReview{}
	var ignored []Ignored
	for _, r := range reviews {
		state := strings.ToUpper(r.GetState())
		if state != "APPROVED" && state != "CHANGES_REQUESTED" && state != "DISMISSED" {
			continue
		}
		if r.User == nil || r.GetUser().GetID() == 0 {
			if state == "APPROVED" {
				ignored = append(ignored, Ignored{Why: fmt.Sprintf("review %d has no user (a deleted account)", r.GetID())})
			}
			continue
		}
		id := r.GetUser().GetID()
		if _, ok := latest[id]; !ok {
			order = append(order, id)
		}
		latest[id] = r
	}
	out := make([]*github.PullRequestReview, 0, len(order))
	for _, id := range order {
		out = append(out, latest[id])
	}
	return out, ignored
}

// disqualify lists why a latest opinion does not count, policy aside.
func disqualify(r *github.PullRequestReview, head, requester, author string, p pushers) []string {
	switch strings.ToUpper(r.GetState()) {
	case "APPROVED":
	case "DISMISSED":
		return []string{"latest review was dismissed"}
	default:
		return []string{"latest review is " + strings.ToUpper(r.GetState())}
	}
	u := r.GetUser()
	var whys []string
	if isBot(u) {
		whys = append(whys, "bot")
	}
	switch {
	case strings.EqualFold(u.GetLogin(), requester):
		whys = append(whys, "is the requester")
	case strings.EqualFold(u.GetLogin(), author):
		whys = append(whys, "is the PR author")
	}
	if c := r.GetCommitID(); !strings.EqualFold(c, head) {
		if c == "" {
			whys = append(whys, fmt.Sprintf("stale: the approval names no commit, head is %s", short(head)))
		} else {
			whys = append(whys, fmt.Sprintf("stale: approved commit %s, head is %s", short(c), short(head)))
		}
	}
	if x, ok := p.find(u); ok {
		whys = append(whys, fmt.Sprintf("%s commit %s", x.role, short(x.sha)))
	}
	return whys
}

func (v *Verifier) isRateLimit(err error) bool {
	_, limited := v.rateLimitWait(err)
	return limited
}

func isBot(u *github.User) bool {
	return strings.EqualFold(u.GetType(), "Bot") || strings.HasSuffix(strings.ToLower(u.GetLogin()), "[bot]")
}

// allowed reports whether the rule allows login: listed by name, or an
// active member of a listed team. A 404 from the team lookup means not a
// member (saw404 reports one happened); a pending member is not a member;
// any other failure is an error, never an approval.
func (v *Verifier) allowed(ctx context.Context, login string, users []string, teams []team) (bool, string, bool, error) {
	for _, u := range users {
		if strings.EqualFold(u, login) {
			return true, "", false, nil
		}
	}
	saw404 := false
	var pending []string
	for _, t := range teams {
		m, resp, err := call(ctx, v, fmt.Sprintf("get membership of %s in team %s", login, t), func() (*github.Membership, *github.Response, error) {
			return v.teams.GetTeamMembershipBySlug(ctx, t.org, t.slug, login)
		})
		switch {
		case err == nil:
		case resp != nil && resp.StatusCode == http.StatusNotFound:
			saw404 = true
		case resp != nil && resp.StatusCode == http.StatusForbidden && !v.isRateLimit(err):
			return false, "", saw404, fmt.Errorf("%w (reading team membership needs a token with Members: read)", err)
		default:
			return false, "", saw404, err
		}
		switch m.GetState() {
		case "active":
			return true, "", saw404, nil
		case "pending":
			pending = append(pending, t.String())
		}
	}
	why := "not allowed by the rule"
	if len(pending) > 0 {
		why += fmt.Sprintf(" (membership of %s is pending)", strings.Join(pending, ", "))
	}
	return false, why, saw404, nil
}

// reason says why a verdict is not approved.
func reason(rule Rule, blockers, approvers []string, ignored []Ignored, team404 bool) string {
	parts := append([]string(nil), blockers...)
	if len(approvers) < rule.Required {
		noun := "approvals"
		if rule.Required == 1 {
			noun = "approval"
		}
		var who []string
		if len(rule.Users) > 0 {
			who = append(who, fmt.Sprintf("users [%s]", strings.Join(rule.Users, ", ")))
		}
		if len(rule.Teams) > 0 {
			who = append(who, fmt.Sprintf("teams [%s]", strings.Join(rule.Teams, ", ")))
		}
		has := fmt.Sprint(len(approvers))
		if len(approvers) > 0 {
			has += " (" + strings.Join(approvers, ", ") + ")"
		}
		parts = append(parts, fmt.Sprintf("needs %d %s from %s, has %s", rule.Required, noun, strings.Join(who, " or "), has))
		if len(ignored) > 0 {
			var list []string
			for _, ig := range ignored {
				list = append(list, fmt.Sprintf("%s (%s)", displayLogin(ig.Login), ig.Why))
			}
			parts = append(parts, "not counted: "+strings.Join(list, ", "))
		}
		if team404 {
			parts = append(parts, "a team lookup answered 404, which means not a member, or a token without Members: read")
		}
	}
	return strings.Join(parts, "; ")
}

func displayLogin(login string) string {
	if login == "" {
		return "(deleted user)"
	}
	return login
}

func quoteLogin(login string) string {
	if login == "" {
		return "(none)"
	}
	return login
}
