package githubfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

// fixture is a fake with one of everything.
func fixture(t *testing.T) *Server {
	t.Helper()
	s := New(t)
	s.AddPR(PR{
		Number: 7, Author: "alice", Body: "Please", HeadSHA: "h7", BaseSHA: "b7",
		Merged: true, MergedBy: "carol", MergeCommitSHA: "m7",
		Commits: []Commit{
			{SHA: "c1", AuthorLogin: "alice", CommitterLogin: "web-flow"},
			{SHA: "h7"},
		},
		Files: []File{
			{Name: "requests/r1.yaml", Status: "added", SHA: "blob1", Additions: 8},
			{Name: "requests/old.yaml", Status: "removed", Deletions: 3},
			{Name: "requests/new name.yaml", Status: "renamed", PreviousName: "requests/r0.yaml", SHA: "blob2"},
		},
	})
	s.AddPR(PR{Number: 8, Author: "bob", HeadSHA: "h8", BaseSHA: "b7", Commits: []Commit{{SHA: "h8", AuthorLogin: "bob", CommitterLogin: "bob"}}})
	s.AddReview(7, Review{User: "carol", State: "APPROVED", Body: "LGTM"})
	s.AddReview(7, Review{State: "APPROVED"})
	s.AddReview(7, Review{User: "dependabot[bot]", State: "COMMENTED"})
	s.AddReview(7, Review{User: "dave", State: "PENDING"})
	s.SetTeamMember("acme", "security", "carol", "active")
	s.AddComment(7, "alice", "hello")
	return s
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, s *Server, method, path, body string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestConformsToOpenAPI checks every response body the fake serves, success
// and error, against GitHub's OpenAPI description.
func TestConformsToOpenAPI(t *testing.T) {
	t.Parallel()
	sp := loadSpec(t)
	s := fixture(t)
	commentID := s.AddComment(7, "bob", "to edit")
	tests := []struct {
		route        Route
		path, body   string
		want         int
		wantNonEmpty bool
	}{
		{RouteCommitPulls, "/repos/acme/access/commits/m7/pulls", "", 200, true},
		{RouteCommitPulls, "/repos/acme/access/commits/h8/pulls", "", 200, true},
		{RoutePull, "/repos/acme/access/pulls/7", "", 200, true},
		{RoutePull, "/repos/acme/access/pulls/8", "", 200, true},
		{RoutePull, "/repos/acme/access/pulls/99", "", 404, true},
		{RoutePull, "/repos/acme/other/pulls/7", "", 404, true},
		{RouteReviews, "/repos/acme/access/pulls/7/reviews", "", 200, true},
		{RoutePullCommits, "/repos/acme/access/pulls/7/commits", "", 200, true},
		{RoutePullFiles, "/repos/acme/access/pulls/7/files", "", 200, true},
		{RouteTeamMembership, "/orgs/acme/teams/security/memberships/carol", "", 200, true},
		{RouteTeamMembership, "/orgs/acme/teams/security/memberships/bob", "", 404, true},
		{RouteListComments, "/repos/acme/access/issues/7/comments", "", 200, true},
		{RouteCreateComment, "/repos/acme/access/issues/7/comments", `{"body":"new"}`, 201, true},
		{RouteCreateComment, "/repos/acme/access/issues/7/comments", `{}`, 422, true},
		{RouteUpdateComment, fmt.Sprintf("/repos/acme/access/issues/comments/%d", commentID), `{"body":"edited"}`, 200, true},
		{RouteUpdateComment, "/repos/acme/access/issues/comments/1", `{"body":"edited"}`, 404, true},
	}
	covered := map[Route]bool{}
	for _, tt := range tests {
		covered[tt.route] = true
		method, _, _ := strings.Cut(string(tt.route), " ")
		for _, prefix := range []string{"", "/api/v3"} {
			t.Run(fmt.Sprintf("%s %s%s %d", method, prefix, tt.path, tt.want), func(t *testing.T) {
				r := do(t, s, method, prefix+tt.path, tt.body)
				if r.status != tt.want {
					t.Fatalf("status = %d, want %d; body %s", r.status, tt.want, r.body)
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type = %q", ct)
				}
				for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
					if _, err := strconv.Atoi(r.header.Get(h)); err != nil {
						t.Errorf("header %s = %q, want an integer", h, r.header.Get(h))
					}
				}
				var v any
				if err := json.Unmarshal(r.body, &v); err != nil {
					t.Fatalf("body is not JSON: %v", err)
				}
				if a, ok := v.([]any); ok && tt.wantNonEmpty && len(a) == 0 {
					t.Fatal("empty list: nothing checked")
				}
				for _, e := range sp.check("$", sp.responseSchema(t, tt.route, r.status), v) {
					t.Error(e)
				}
			})
		}
	}
	for _, r := range Routes {
		if !covered[r] {
			t.Errorf("route %s is not checked against the OpenAPI description", r)
		}
	}
}

// TestGoGithubDecodes reads the fixture through go-github and checks what
// the approval logic relies on.
func TestGoGithubDecodes(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	c := s.Client()
	ctx := context.Background()

	list, _, err := c.PullRequests.ListPullRequestsWithCommit(ctx, "acme", "access", "m7", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].GetNumber() != 7 || list[0].MergedAt == nil || list[0].GetMergeCommitSHA() != "m7" || list[0].GetBase().GetRef() != "main" {
		t.Fatalf("ListPullRequestsWithCommit = %+v", list)
	}
	if list[0].Merged != nil {
		t.Error("the list endpoint serves pull-request-simple, which has no merged field")
	}
	pr, _, err := c.PullRequests.Get(ctx, "acme", "access", 7)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{pr.GetMerged(), pr.GetMergedBy().GetLogin(), pr.GetUser().GetLogin(), pr.GetHead().GetSHA(), pr.GetBase().GetSHA(), pr.GetCommits(), pr.GetChangedFiles(), pr.GetState()}
	want := []any{true, "carol", "alice", "h7", "b7", 2, 3, "closed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}

	reviews, _, err := c.PullRequests.ListReviews(ctx, "acme", "access", 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	type rv struct {
		Login, Type, State, Commit string
		ID                         int64
	}
	var gotReviews []rv
	for _, r := range reviews {
		gotReviews = append(gotReviews, rv{r.GetUser().GetLogin(), r.GetUser().GetType(), r.GetState(), r.GetCommitID(), r.GetUser().GetID()})
	}
	wantReviews := []rv{
		{"carol", "User", "APPROVED", "h7", s.UserID("carol")},
		{"", "", "APPROVED", "h7", 0},
		{"dependabot[bot]", "Bot", "COMMENTED", "h7", s.UserID("dependabot[bot]")},
		{"dave", "User", "PENDING", "h7", s.UserID("dave")},
	}
	if diff := cmp.Diff(wantReviews, gotReviews); diff != "" {
		t.Errorf("ListReviews (-want +got):\n%s", diff)
	}
	if reviews[1].User != nil {
		t.Error("a review by a deleted account must have user null")
	}

	commits, _, err := c.PullRequests.ListCommits(ctx, "acme", "access", 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != 2 || commits[0].GetAuthor().GetLogin() != "alice" || commits[0].GetCommitter().GetLogin() != "web-flow" || commits[1].Author != nil {
		t.Errorf("ListCommits = %+v", commits)
	}
	files, _, err := c.PullRequests.ListFiles(ctx, "acme", "access", 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || files[0].GetSHA() != "blob1" || files[1].SHA != nil || files[2].GetPreviousFilename() != "requests/r0.yaml" {
		t.Errorf("ListFiles = %+v", files)
	}
	m, _, err := c.Teams.GetTeamMembershipBySlug(ctx, "acme", "security", "Carol")
	if err != nil || m.GetState() != "active" {
		t.Errorf("GetTeamMembershipBySlug = %+v, %v", m, err)
	}
	_, resp, err := c.Teams.GetTeamMembershipBySlug(ctx, "acme", "security", "bob")
	if err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("non-member: err %v, want 404", err)
	}
}

func TestUserIDsAreStable(t *testing.T) {
	t.Parallel()
	s := New(t)
	a := s.UserID("Alice")
	if s.UserID("alice") != a || s.AddUser("ALICE", "") != a {
		t.Error("logins must be case-insensitive with one id")
	}
	if s.UserID("bob") == a {
		t.Error("two users share an id")
	}
}

var linkRE = regexp.MustCompile(`^<([^>]+)>; rel="(prev|next|last|first)"$`)

func TestPagination(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n              int
		query          string
		wantLen        int
		wantRels       map[string]int
		wantNoLinkHead bool
	}{
		{n: 5, query: "", wantLen: 5, wantNoLinkHead: true},
		{n: 31, query: "", wantLen: 30, wantRels: map[string]int{"next": 2, "last": 2}},
		{n: 31, query: "?page=2", wantLen: 1, wantRels: map[string]int{"prev": 1, "first": 1}},
		{n: 250, query: "?per_page=100", wantLen: 100, wantRels: map[string]int{"next": 2, "last": 3}},
		{n: 250, query: "?per_page=100&page=2", wantLen: 100, wantRels: map[string]int{"prev": 1, "next": 3, "last": 3, "first": 1}},
		{n: 250, query: "?per_page=100&page=3", wantLen: 50, wantRels: map[string]int{"prev": 2, "first": 1}},
		{n: 250, query: "?per_page=100&page=9", wantLen: 0, wantRels: map[string]int{"prev": 3, "first": 1}},
		{n: 250, query: "?per_page=1000", wantLen: 100, wantRels: map[string]int{"next": 2, "last": 3}},
		{n: 3, query: "?per_page=x&page=-1", wantLen: 3, wantNoLinkHead: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d%s", tt.n, tt.query), func(t *testing.T) {
			t.Parallel()
			s := New(t)
			s.AddPR(PR{Number: 1, Author: "alice", HeadSHA: "h"})
			for range tt.n {
				s.AddReview(1, Review{User: "carol", State: "COMMENTED"})
			}
			r := do(t, s, "GET", "/api/v3/repos/acme/access/pulls/1/reviews"+tt.query, "")
			var items []any
			if err := json.Unmarshal(r.body, &items); err != nil {
				t.Fatal(err)
			}
			if len(items) != tt.wantLen {
				t.Errorf("got %d items, want %d", len(items), tt.wantLen)
			}
			link := r.header.Get("Link")
			if tt.wantNoLinkHead {
				if link != "" {
					t.Errorf("Link = %q, want none", link)
				}
				return
			}
			rels := map[string]int{}
			for _, part := range strings.Split(link, ", ") {
				m := linkRE.FindStringSubmatch(part)
				if m == nil {
					t.Fatalf("Link part %q is not <url>; rel=\"...\"", part)
				}
				if !strings.HasPrefix(m[1], s.URL()+"/api/v3/repos/acme/access/pulls/1/reviews?") {
					t.Errorf("Link URL %q does not keep the prefix and path", m[1])
				}
				p, err := strconv.Atoi(regexp.MustCompile(`[?&]page=(\d+)`).FindStringSubmatch(m[1])[1])
				if err != nil {
					t.Fatal(err)
				}
				rels[m[2]] = p
			}
			if diff := cmp.Diff(tt.wantRels, rels); diff != "" {
				t.Errorf("Link rels (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPaginationWithGoGithub walks every page the way callers do.
func TestPaginationWithGoGithub(t *testing.T) {
	t.Parallel()
	s := New(t)
	var commits []Commit
	for i := range 260 {
		commits = append(commits, Commit{SHA: fmt.Sprintf("c%03d", i), AuthorLogin: "alice"})
	}
	s.AddPR(PR{Number: 1, Author: "alice", HeadSHA: "c259", Commits: commits})
	c := s.Client()
	var got []string
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := c.PullRequests.ListCommits(context.Background(), "acme", "access", 1, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			got = append(got, c.GetSHA())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(got) != 250 || got[249] != "c249" {
		t.Errorf("got %d commits ending %q; GitHub lists at most 250", len(got), got[len(got)-1])
	}
	if n := s.CallCount(RoutePullCommits); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
}

func TestCommitPulls(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AddPR(PR{Number: 1, Author: "alice", HeadSHA: "x", State: "open"})
	s.AddPR(PR{Number: 2, Author: "bob", HeadSHA: "y", Merged: true, MergeCommitSHA: "x", BaseRef: "release"})
	s.AddPR(PR{Number: 3, Author: "bob", HeadSHA: "z"})
	s.AssociateCommit("X", 3, 1)
	s.LagCommitPulls(2)
	c := s.Client()
	for i, want := range [][]int{nil, nil, {1, 2, 3}, {1, 2, 3}} {
		prs, _, err := c.PullRequests.ListPullRequestsWithCommit(context.Background(), "acme", "access", "x", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, p := range prs {
			got = append(got, p.GetNumber())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("call %d (-want +got):\n%s", i+1, diff)
		}
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-time.Minute).Truncate(time.Second)
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, err error)
	}{
		{"500", Status(500), func(t *testing.T, err error) {
			var e *github.ErrorResponse
			if !errors.As(err, &e) || e.Response.StatusCode != 500 {
				t.Errorf("err = %v, want ErrorResponse 500", err)
			}
		}},
		{"502 non-JSON", Status(502), func(t *testing.T, err error) {
			var e *github.ErrorResponse
			if !errors.As(err, &e) || e.Response.StatusCode != 502 {
				t.Errorf("err = %v, want ErrorResponse 502", err)
			}
		}},
		{"403", Status(403), func(t *testing.T, err error) {
			var e *github.ErrorResponse
			if !errors.As(err, &e) || e.Response.StatusCode != 403 {
				t.Errorf("err = %v, want ErrorResponse 403", err)
			}
		}},
		{"primary 403", PrimaryLimit(403, past), func(t *testing.T, err error) {
			var e *github.RateLimitError
			if !errors.As(err, &e) || !e.Rate.Reset.Time.Equal(past) || e.Rate.Remaining != 0 {
				t.Errorf("err = %#v, want RateLimitError resetting at %v", err, past)
			}
		}},
		{"primary 429", PrimaryLimit(429, past), func(t *testing.T, err error) {
			// go-github v62 only recognises 403 as a rate limit.
			var e *github.ErrorResponse
			if !errors.As(err, &e) || e.Response.StatusCode != 429 || e.Response.Header.Get("X-RateLimit-Remaining") != "0" ||
				e.Response.Header.Get("X-RateLimit-Reset") != strconv.FormatInt(past.Unix(), 10) {
				t.Errorf("err = %v, want ErrorResponse 429 with rate-limit headers", err)
			}
		}},
		{"secondary 403", SecondaryLimit(403, 0), func(t *testing.T, err error) {
			var e *github.AbuseRateLimitError
			if !errors.As(err, &e) || e.RetryAfter == nil || *e.RetryAfter != 0 || !strings.Contains(e.Message, "secondary rate limit") {
				t.Errorf("err = %#v, want AbuseRateLimitError with Retry-After 0", err)
			}
		}},
		{"secondary 429", SecondaryLimit(429, 0), func(t *testing.T, err error) {
			var e *github.ErrorResponse
			if !errors.As(err, &e) || e.Response.StatusCode != 429 || e.Response.Header.Get("Retry-After") != "0" {
				t.Errorf("err = %v, want ErrorResponse 429 with Retry-After", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(t)
			s.AddPR(PR{Number: 1, Author: "alice", HeadSHA: "h"})
			s.Inject(RoutePull, 2, tt.fault)
			c := s.Client()
			for range 2 {
				_, _, err := c.PullRequests.Get(context.Background(), "acme", "access", 1)
				tt.check(t, err)
			}
			if _, _, err := c.PullRequests.Get(context.Background(), "acme", "access", 1); err != nil {
				t.Errorf("after the faults: %v", err)
			}
			if _, _, err := c.PullRequests.ListReviews(context.Background(), "acme", "access", 1, nil); err != nil {
				t.Errorf("other route: %v", err)
			}
			if n := s.CallCount(RoutePull); n != 3 {
				t.Errorf("%d calls reached the fake, want 3", n)
			}
		})
	}
}

// tbRecorder captures Errorf and Cleanup so the fake's own cleanup check
// can be tested.
type tbRecorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *tbRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *tbRecorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func TestUnservedFaultFailsTheTest(t *testing.T) {
	t.Parallel()
	rec := &tbRecorder{TB: t}
	s := New(rec)
	s.Inject(RouteReviews, 1, Status(500))
	for _, f := range rec.cleanups {
		f()
	}
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "never served") {
		t.Errorf("errors = %q, want one about the unserved fault", rec.errs)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AddPR(PR{Number: 1, Author: "alice", HeadSHA: "h"})
	s.SetToken("s3cret")
	if _, _, err := s.Client().PullRequests.Get(context.Background(), "acme", "access", 1); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	for _, h := range []string{"", "Bearer wrong"} {
		req, _ := http.NewRequest("GET", s.URL()+"/repos/acme/access/pulls/1", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", h, resp.StatusCode)
		}
	}
	var got []bool
	for _, c := range s.Calls() {
		got = append(got, c.Authorized)
	}
	if diff := cmp.Diff([]bool{true, false, true}, got); diff != "" {
		t.Errorf("Authorized (-want +got):\n%s", diff)
	}
}

func TestTeamMembership(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		deny       int
		login      string
		wantStatus int
		wantState  string
	}{
		{"active", 0, "carol", 200, "active"},
		{"pending", 0, "pat", 200, "pending"},
		{"not a member", 0, "bob", 404, ""},
		{"no Members:read, 403", 403, "carol", 403, ""},
		{"no Members:read, 404", 404, "carol", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(t)
			s.SetTeamMember("acme", "security", "carol", "active")
			s.SetTeamMember("acme", "security", "pat", "pending")
			s.DenyTeamMembership(tt.deny)
			m, resp, err := s.Client().Teams.GetTeamMembershipBySlug(context.Background(), "acme", "security", tt.login)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (err %v)", resp.StatusCode, tt.wantStatus, err)
			}
			if m.GetState() != tt.wantState {
				t.Errorf("state %q, want %q", m.GetState(), tt.wantState)
			}
		})
	}
}

func TestComments(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AddPR(PR{Number: 4, Author: "alice", HeadSHA: "h"})
	s.SetTokenUser("elevate[bot]")
	c := s.Client()
	ctx := context.Background()
	created, resp, err := c.Issues.CreateComment(ctx, "acme", "access", 4, &github.IssueComment{Body: github.String("first")})
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v", err)
	}
	if created.GetUser().GetLogin() != "elevate[bot]" || created.GetUser().GetType() != "Bot" {
		t.Errorf("created by %+v", created.GetUser())
	}
	edited, _, err := c.Issues.EditComment(ctx, "acme", "access", created.GetID(), &github.IssueComment{Body: github.String("second")})
	if err != nil || edited.GetBody() != "second" || !edited.GetUpdatedAt().After(edited.GetCreatedAt().Time) {
		t.Fatalf("edit = %+v, %v", edited, err)
	}
	list, _, err := c.Issues.ListComments(ctx, "acme", "access", 4, nil)
	if err != nil || len(list) != 1 || list[0].GetBody() != "second" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if _, _, err := c.Issues.CreateComment(ctx, "acme", "access", 5, &github.IssueComment{Body: github.String("x")}); err == nil {
		t.Error("comment on a missing PR: want 404")
	}
	got := s.Comments(4)
	if len(got) != 1 || got[0].Body != "second" || got[0].User != "elevate[bot]" {
		t.Errorf("Comments = %+v", got)
	}
	var bodies []string
	for _, call := range s.Calls() {
		if call.Route == RouteUpdateComment {
			bodies = append(bodies, string(bytes.TrimSpace(call.Body)))
		}
	}
	if diff := cmp.Diff([]string{`{"body":"second"}`}, bodies); diff != "" {
		t.Errorf("recorded bodies (-want +got):\n%s", diff)
	}
}

func TestCallsRecorded(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AddPR(PR{Number: 1, Author: "alice", HeadSHA: "h"})
	c := s.Client()
	_, _, _ = c.PullRequests.ListReviews(context.Background(), "acme", "access", 1, &github.ListOptions{PerPage: 100, Page: 2})
	do(t, s, "GET", "/nowhere", "")
	got := s.Calls()
	want := []Call{
		{Method: "GET", Path: "/repos/acme/access/pulls/1/reviews", Query: map[string][]string{"per_page": {"100"}, "page": {"2"}}, Body: []byte{}, Route: RouteReviews, Status: 200},
		{Method: "GET", Path: "/nowhere", Query: map[string][]string{}, Body: []byte{}, Status: 404},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[Route]int{RouteReviews: 1, "": 1}, s.CallCounts()); diff != "" {
		t.Errorf("CallCounts (-want +got):\n%s", diff)
	}
}

// FuzzLinkHeader checks that any per_page/page query gives a Link header
// go-github can follow and a page inside the list.
func FuzzLinkHeader(f *testing.F) {
	f.Add(250, "100", "2")
	f.Add(0, "", "")
	f.Add(31, "-3", "999999999999999999999")
	f.Fuzz(func(t *testing.T, n int, perPage, pageNum string) {
		if n < 0 || n > 5000 {
			t.Skip()
		}
		req, err := http.NewRequest("GET", "http://127.0.0.1/api/v3/x", nil)
		if err != nil {
			t.Skip()
		}
		q := req.URL.Query()
		q.Set("per_page", perPage)
		q.Set("page", pageNum)
		req.URL.RawQuery = q.Encode()
		req.RequestURI = req.URL.RequestURI()
		w := &headerWriter{h: http.Header{}}
		pg := paginate(w, req, n)
		if pg.start < 0 || pg.end > n || pg.start > pg.end || pg.end-pg.start > maxPerPage {
			t.Fatalf("page %+v of %d", pg, n)
		}
		link := w.h.Get("Link")
		if link == "" {
			return
		}
		for _, part := range strings.Split(link, ", ") {
			if !linkRE.MatchString(part) {
				t.Fatalf("bad Link part %q", part)
			}
		}
	})
}

type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}

// TestFaultBodiesConform checks injected errors against basic-error and the
// headers GitHub documents for each kind of limit.
func TestFaultBodiesConform(t *testing.T) {
	t.Parallel()
	sp := loadSpec(t)
	tests := []struct {
		fault      Fault
		wantHeader map[string]string
	}{
		{Status(403), nil},
		{Status(404), nil},
		{Status(500), nil},
		{PrimaryLimit(403, time.Unix(1_900_000_000, 0)), map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1900000000"}},
		{PrimaryLimit(429, time.Unix(1_900_000_000, 0)), map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1900000000"}},
		{SecondaryLimit(403, time.Minute), map[string]string{"Retry-After": "60"}},
		{SecondaryLimit(429, time.Minute), map[string]string{"Retry-After": "60"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.fault.Kind, tt.fault.Status), func(t *testing.T) {
			t.Parallel()
			s := New(t)
			s.AddPR(PR{Number: 1, Author: "alice", HeadSHA: "h"})
			s.Inject(RoutePull, 1, tt.fault)
			r := do(t, s, "GET", "/repos/acme/access/pulls/1", "")
			if r.status != tt.fault.Status {
				t.Fatalf("status %d, want %d", r.status, tt.fault.Status)
			}
			var v any
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			for _, e := range sp.check("$", map[string]any{"$ref": "#/components/schemas/basic-error"}, v) {
				t.Error(e)
			}
			for k, want := range tt.wantHeader {
				if got := r.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if tt.fault.Kind == SecondaryRateLimit && r.header.Get("X-RateLimit-Remaining") == "0" {
				t.Error("a secondary limit must not look like a primary one")
			}
		})
	}
}
