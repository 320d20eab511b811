// Package githubfake is a stateful, in-process fake of the GitHub REST API
// for tests: an httptest server on 127.0.0.1 that serves the documented
// response shapes (checked against GitHub's OpenAPI description, see
// testdata/README.md) for the endpoints elevate uses, with GitHub's
// pagination, Link headers, rate-limit headers and error bodies.
//
// Tests build the state (pull requests, reviews, commits, files, team
// memberships, comments), inject faults per route, and assert on the
// recorded calls:
//
//	s := githubfake.New(t)
//	s.AddPR(githubfake.PR{Number: 7, Author: "alice", HeadSHA: "h1", Merged: true, MergeCommitSHA: "m1"})
//	s.AddReview(7, githubfake.Review{User: "carol", State: "APPROVED"})
//	s.Inject(githubfake.RouteReviews, 1, githubfake.Status(502))
//	client := s.Client() // a *github.Client pointed at s, GHE-style (/api/v3/)
//
// The server serves the same API at "/" and at "/api/v3/".
package githubfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
)

// Route names an endpoint by its method and OpenAPI path template.
type Route string

// The routes the fake serves. Each is "METHOD template" exactly as in
// GitHub's OpenAPI description.
const (
	RouteCommitPulls    Route = "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls"
	RoutePull           Route = "GET /repos/{owner}/{repo}/pulls/{pull_number}"
	RouteReviews        Route = "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
	RoutePullCommits    Route = "GET /repos/{owner}/{repo}/pulls/{pull_number}/commits"
	RoutePullFiles      Route = "GET /repos/{owner}/{repo}/pulls/{pull_number}/files"
	RouteTeamMembership Route = "GET /orgs/{org}/teams/{team_slug}/memberships/{username}"
	RouteListComments   Route = "GET /repos/{owner}/{repo}/issues/{issue_number}/comments"
	RouteCreateComment  Route = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"
	RouteUpdateComment  Route = "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"
)

// Routes lists every route the fake serves.
var Routes = []Route{
	RouteCommitPulls, RoutePull, RouteReviews, RoutePullCommits, RoutePullFiles,
	RouteTeamMembership, RouteListComments, RouteCreateComment, RouteUpdateComment,
}

// The repository a new Server serves; change it with SetRepo.
const (
	DefaultOwner = "acme"
	DefaultRepo  = "access"
)

// GitHub's caps on list endpoints.
const (
	maxPerPage      = 100
	defaultPerPage  = 30
	maxPullCommits  = 250
	maxPullFiles    = 3000
	rateLimitLimit  = 5000
	secondaryLimMsg = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
		"If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000."
	secondaryDocURL = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	primaryDocURL   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
)

// Epoch is the fake's clock at start. Every stored event (a review, a
// comment) advances the clock by one second, so timestamps are
// deterministic and ordered.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Call is one request the fake received.
type Call struct {
	Method string
	// Path is the request path without the "/api/v3" prefix.
	Path  string
	Query url.Values
	Body  []byte
	// Route is the matched route, empty when none matched.
	Route Route
	// Authorized reports whether an Authorization header was sent.
	Authorized bool
	// Status is the HTTP status the fake answered.
	Status int
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	t   testing.TB
	srv *httptest.Server
	mux *http.ServeMux

	mu          sync.Mutex
	owner, repo string
	token       string
	tokenUser   string
	clock       time.Time
	users       map[string]*user // by lower-case login
	nextUserID  int64
	prs         map[int]*pullRequest
	prOrder     []int
	assoc       map[string][]int // lower-case commit SHA -> PR numbers
	lag         int
	teams       map[string]map[string]string // "org/slug" -> lower login -> state
	teamStatus  int
	comments    []*Comment
	nextComment int64
	nextReview  int64
	faults      map[Route][]*fault
	calls       []Call
	git         gitData // refs, commits and files written through the API (writes.go)
}

type user struct {
	login string
	id    int64
	typ   string
}

type pullRequest struct {
	PR
	reviews []storedReview
	created time.Time
	merged  time.Time
}

type storedReview struct {
	Review
	id int64
}

// New starts a fake on 127.0.0.1 that is closed when the test ends. At
// cleanup it fails the test if an injected fault was never served.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:           t,
		owner:       DefaultOwner,
		repo:        DefaultRepo,
		tokenUser:   "github-actions[bot]",
		clock:       Epoch,
		users:       map[string]*user{},
		nextUserID:  1001,
		prs:         map[int]*pullRequest{},
		assoc:       map[string][]int{},
		teams:       map[string]map[string]string{},
		nextComment: 9001,
		nextReview:  5001,
		faults:      map[Route][]*fault{},
	}
	s.userLocked(s.owner).typ = "Organization"
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(string(RouteCommitPulls), s.handleCommitPulls)
	s.mux.HandleFunc(string(RoutePull), s.handlePull)
	s.mux.HandleFunc(string(RouteReviews), s.handleReviews)
	s.mux.HandleFunc(string(RoutePullCommits), s.handlePullCommits)
	s.mux.HandleFunc(string(RoutePullFiles), s.handlePullFiles)
	s.mux.HandleFunc(string(RouteTeamMembership), s.handleTeamMembership)
	s.mux.HandleFunc(string(RouteListComments), s.handleListComments)
	s.mux.HandleFunc(string(RouteCreateComment), s.handleCreateComment)
	s.mux.HandleFunc(string(RouteUpdateComment), s.handleUpdateComment)
	s.registerWrites()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for route, fs := range s.faults {
			for _, f := range fs {
				if f.served == 0 {
					t.Errorf("githubfake: fault %d on %s injected but never served", f.Status, route)
				}
			}
		}
	})
	return s
}

// URL is the server's base URL (http://127.0.0.1:port).
func (s *Server) URL() string { return s.srv.URL }

// Client returns a go-github client for the fake, using GitHub Enterprise
// style URLs (s.URL()+"/api/v3/") and the token set with SetToken.
func (s *Server) Client() *github.Client {
	c, err := github.NewClient(nil).WithEnterpriseURLs(s.srv.URL+"/", s.srv.URL+"/")
	if err != nil {
		s.t.Fatalf("githubfake: client: %v", err)
	}
	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	if token != "" {
		c = c.WithAuthToken(token)
	}
	return c
}

// SetRepo changes the repository the fake serves (default acme/access).
// Requests for any other repository get 404.
func (s *Server) SetRepo(owner, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owner, s.repo = owner, name
	s.userLocked(owner).typ = "Organization"
}

// SetClock sets the fake's clock: the next stored event (a pull request's
// creation and merge, a review) is one second after t. Tests that run the
// real binary, which reads the real clock, set it near time.Now.
func (s *Server) SetClock(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = t
}

// SetToken makes the fake require "Authorization: Bearer <token>" (or
// "token <token>") on every request; others get 401 Bad credentials.
// Client() sends it.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetTokenUser sets the login comments are created as (default
// "github-actions[bot]").
func (s *Server) SetTokenUser(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenUser = login
}

// AddUser registers a user with a type ("User", "Bot" or "Organization") and
// returns its id. Users named anywhere else are registered on first use with
// type "Bot" when the login ends in "[bot]" and "User" otherwise. Ids are
// stable for the life of the server and logins are case-insensitive, as on
// GitHub.
func (s *Server) AddUser(login, typ string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(login)
	if typ != "" {
		u.typ = typ
	}
	return u.id
}

// UserID returns the stable id of login, registering it if needed.
func (s *Server) UserID(login string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked(login).id
}

func (s *Server) userLocked(login string) *user {
	key := strings.ToLower(login)
	if u, ok := s.users[key]; ok {
		return u
	}
	typ := "User"
	if strings.HasSuffix(key, "[bot]") {
		typ = "Bot"
	}
	u := &user{login: login, id: s.nextUserID, typ: typ}
	s.nextUserID++
	s.users[key] = u
	return u
}

func (s *Server) tickLocked() time.Time {
	s.clock = s.clock.Add(time.Second)
	return s.clock
}

// AddPR adds a pull request, or replaces the one with the same number
// (keeping its reviews and comments). Its author, merger and commit users
// are registered.
func (s *Server) AddPR(pr PR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr.BaseRef == "" {
		pr.BaseRef = "main"
	}
	if pr.HeadRef == "" {
		pr.HeadRef = fmt.Sprintf("request-%d", pr.Number)
	}
	if pr.Title == "" {
		pr.Title = fmt.Sprintf("PR %d", pr.Number)
	}
	if pr.State == "" {
		pr.State = "open"
		if pr.Merged {
			pr.State = "closed"
		}
	}
	pr.Commits = append([]Commit(nil), pr.Commits...)
	pr.Files = append([]File(nil), pr.Files...)
	for _, login := range []string{pr.Author, pr.MergedBy} {
		if login != "" {
			s.userLocked(login)
		}
	}
	for _, c := range pr.Commits {
		for _, login := range []string{c.AuthorLogin, c.CommitterLogin} {
			if login != "" {
				s.userLocked(login)
			}
		}
	}
	if old, ok := s.prs[pr.Number]; ok {
		old.PR = pr
		if pr.Merged && old.merged.IsZero() {
			old.merged = s.tickLocked()
		}
		return
	}
	p := &pullRequest{PR: pr, created: s.tickLocked()}
	if pr.Merged {
		p.merged = s.tickLocked()
	}
	s.prs[pr.Number] = p
	s.prOrder = append(s.prOrder, pr.Number)
}

// AddReview appends a review to PR number (reviews are listed in the order
// added, as GitHub lists them chronologically) and returns its id.
func (s *Server) AddReview(number int, r Review) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.prs[number]
	if !ok {
		s.t.Fatalf("githubfake: AddReview: no PR #%d", number)
	}
	if r.User != "" {
		u := s.userLocked(r.User)
		if r.UserType != "" {
			u.typ = r.UserType
		}
	}
	if r.CommitID == "" {
		r.CommitID = p.HeadSHA
	}
	if r.SubmittedAt.IsZero() && r.State != "PENDING" {
		r.SubmittedAt = s.tickLocked()
	}
	id := s.nextReview
	s.nextReview++
	p.reviews = append(p.reviews, storedReview{Review: r, id: id})
	return id
}

// AssociateCommit makes the commits/{sha}/pulls endpoint list the given PRs
// for sha, in addition to the PRs associated automatically (those whose
// merge commit, head or commits include sha). The fake lists every
// associated PR, open or merged, into any base; GitHub lists only the merged
// PR once the commit is on the default branch, so the fake is the harder
// case.
func (s *Server) AssociateCommit(sha string, numbers ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(sha)
	s.assoc[key] = append(s.assoc[key], numbers...)
}

// LagCommitPulls makes the next n calls to the commits/{sha}/pulls endpoint
// answer [] (GitHub's association lag right after a push).
func (s *Server) LagCommitPulls(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = n
}

// SetTeamMember records login's membership of team org/slug with state
// "active" or "pending". An empty state removes it.
func (s *Server) SetTeamMember(org, slug, login, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userLocked(login)
	key := strings.ToLower(org + "/" + slug)
	if s.teams[key] == nil {
		s.teams[key] = map[string]string{}
	}
	if state == "" {
		delete(s.teams[key], strings.ToLower(login))
		return
	}
	s.teams[key][strings.ToLower(login)] = state
}

// DenyTeamMembership makes every team membership lookup answer status (403
// or 404), as GitHub does for a token without Members: read. 0 restores
// normal answers.
func (s *Server) DenyTeamMembership(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.teamStatus = status
}

// AddComment stores an issue comment on PR number as login and returns its
// id.
func (s *Server) AddComment(number int, login, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addCommentLocked(number, login, body).ID
}

func (s *Server) addCommentLocked(number int, login, body string) *Comment {
	s.userLocked(login)
	now := s.tickLocked()
	c := &Comment{ID: s.nextComment, Issue: number, User: login, Body: body, CreatedAt: now, UpdatedAt: now}
	s.nextComment++
	s.comments = append(s.comments, c)
	return c
}

// Comments returns copies of the comments on PR number, oldest first.
func (s *Server) Comments(number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Issue == number {
			out = append(out, *c)
		}
	}
	return out
}

// Calls returns a copy of every request received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallCount returns how many requests matched route.
func (s *Server) CallCount(route Route) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Route == route {
			n++
		}
	}
	return n
}

// CallCounts returns the number of requests per route; unmatched requests
// count under "".
func (s *Server) CallCounts() map[Route]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Route]int{}
	for _, c := range s.calls {
		out[c.Route]++
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if p, ok := strings.CutPrefix(r.URL.Path, "/api/v3/"); ok {
		r.URL.Path = "/" + p
		r.URL.RawPath = ""
	}
	_, pattern := s.mux.Handler(r)
	route := Route(pattern)
	if !isRoute(route) {
		route = ""
	}
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls = append(s.calls, Call{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body,
			Route: route, Authorized: r.Header.Get("Authorization") != "", Status: rec.status,
		})
	}()

	s.mu.Lock()
	token := s.token
	calls := len(s.calls)
	f := s.takeFaultLocked(route)
	s.mu.Unlock()

	h := rec.Header()
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-RateLimit-Limit", strconv.Itoa(rateLimitLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(rateLimitLimit-1-calls, 1)))
	h.Set("X-RateLimit-Used", strconv.Itoa(min(calls+1, rateLimitLimit-1)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")

	if token != "" {
		got := r.Header.Get("Authorization")
		if got != "Bearer "+token && got != "token "+token {
			writeError(rec, http.StatusUnauthorized, "Bad credentials")
			return
		}
	}
	if route == "" {
		writeError(rec, http.StatusNotFound, "Not Found")
		return
	}
	if f != nil && f.Kind == Slow {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		f = nil
	}
	if f != nil {
		f.write(rec)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

func isRoute(r Route) bool {
	for _, x := range append(Routes[:len(Routes):len(Routes)], WriteRoutes...) {
		if x == r {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeInvalid answers 422 with a validation-error body (which, unlike
// basic-error, has no "status" field).
func writeInvalid(w http.ResponseWriter, message string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           message,
		"documentation_url": "https://docs.github.com/rest",
	})
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{
		"message":           message,
		"documentation_url": "https://docs.github.com/rest",
		"status":            strconv.Itoa(status),
	})
}

// page is the slice [start, end) of a list of n items a request asks for.
type page struct{ start, end int }

// paginate reads per_page and page as GitHub does (per_page defaults to 30
// and is capped at 100; a page past the end is empty), sets the Link header
// and returns the slice to serve.
func paginate(w http.ResponseWriter, r *http.Request, n int) page {
	q := r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage < 1 {
		perPage = defaultPerPage
	}
	perPage = min(perPage, maxPerPage)
	num, err := strconv.Atoi(q.Get("page"))
	if err != nil || num < 1 {
		num = 1
	}
	last := max((n+perPage-1)/perPage, 1)
	if link := linkHeader(r, num, last); link != "" {
		w.Header().Set("Link", link)
	}
	if num > last {
		// Past the end (also keeps (num-1)*perPage from overflowing).
		return page{start: n, end: n}
	}
	start := (num - 1) * perPage
	return page{start: start, end: min(start+perPage, n)}
}

// linkHeader builds GitHub's Link header: prev, next, last, first, each
// present only when it makes sense, none at all for a single page.
func linkHeader(r *http.Request, num, last int) string {
	if last <= 1 {
		return ""
	}
	ref := func(p int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		if strings.HasPrefix(r.RequestURI, "/api/v3/") {
			u.Path = "/api/v3" + r.URL.Path
		}
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if num > 1 {
		links = append(links, ref(min(num-1, last), "prev"))
	}
	if num < last {
		links = append(links, ref(num+1, "next"), ref(last, "last"))
	}
	if num > 1 {
		links = append(links, ref(1, "first"))
	}
	return strings.Join(links, ", ")
}

// repoLocked reports whether the request names the served repository
// (owner and name compare case-insensitively, as on GitHub).
func (s *Server) repoLocked(r *http.Request) bool {
	return strings.EqualFold(r.PathValue("owner"), s.owner) && strings.EqualFold(r.PathValue("repo"), s.repo)
}

func (s *Server) prLocked(r *http.Request) *pullRequest {
	if !s.repoLocked(r) {
		return nil
	}
	n, err := strconv.Atoi(r.PathValue("pull_number"))
	if err != nil {
		return nil
	}
	return s.prs[n]
}

func (s *Server) handleCommitPulls(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.repoLocked(r) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	items := []any{}
	if s.lag > 0 {
		s.lag--
		writeJSON(w, http.StatusOK, items)
		return
	}
	sha := strings.ToLower(r.PathValue("commit_sha"))
	seen := map[int]bool{}
	var numbers []int
	add := func(n int) {
		if _, ok := s.prs[n]; ok && !seen[n] {
			seen[n] = true
			numbers = append(numbers, n)
		}
	}
	for _, n := range s.prOrder {
		p := s.prs[n]
		if strings.EqualFold(p.MergeCommitSHA, sha) || strings.EqualFold(p.HeadSHA, sha) {
			add(n)
			continue
		}
		for _, c := range p.Commits {
			if strings.EqualFold(c.SHA, sha) {
				add(n)
				break
			}
		}
	}
	for _, n := range s.assoc[sha] {
		add(n)
	}
	pg := paginate(w, r, len(numbers))
	for _, n := range numbers[pg.start:pg.end] {
		items = append(items, s.pullJSONLocked(s.prs[n], false))
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) handlePull(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prLocked(r)
	if p == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.pullJSONLocked(p, true))
}

func (s *Server) handleReviews(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prLocked(r)
	if p == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	pg := paginate(w, r, len(p.reviews))
	items := []any{}
	for _, rv := range p.reviews[pg.start:pg.end] {
		items = append(items, s.reviewJSONLocked(p, rv))
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) handlePullCommits(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prLocked(r)
	if p == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	commits := p.Commits[:min(len(p.Commits), maxPullCommits)]
	pg := paginate(w, r, len(commits))
	items := []any{}
	for i := pg.start; i < pg.end; i++ {
		parent := p.BaseSHA
		if i > 0 {
			parent = commits[i-1].SHA
		}
		items = append(items, s.commitJSONLocked(commits[i], parent))
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) handlePullFiles(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prLocked(r)
	if p == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	files := p.Files[:min(len(p.Files), maxPullFiles)]
	pg := paginate(w, r, len(files))
	items := []any{}
	for _, f := range files[pg.start:pg.end] {
		items = append(items, s.fileJSONLocked(p, f))
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) handleTeamMembership(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.teamStatus {
	case 0:
	case http.StatusForbidden:
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	default:
		writeError(w, s.teamStatus, http.StatusText(s.teamStatus))
		return
	}
	org, slug, login := r.PathValue("org"), r.PathValue("team_slug"), r.PathValue("username")
	state, ok := s.teams[strings.ToLower(org+"/"+slug)][strings.ToLower(login)]
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"url":   fmt.Sprintf("%s/organizations/1/team/%d/memberships/%s", apiBase, teamID(org, slug), url.PathEscape(s.userLocked(login).login)),
		"role":  "member",
		"state": state,
	})
}

func (s *Server) issueLocked(r *http.Request) (int, bool) {
	if !s.repoLocked(r) {
		return 0, false
	}
	n, err := strconv.Atoi(r.PathValue("issue_number"))
	if err != nil {
		return 0, false
	}
	_, ok := s.prs[n]
	return n, ok
}

func (s *Server) handleListComments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.issueLocked(r)
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeInvalid(w, "Invalid request.\n\nInvalid value for \"since\".")
			return
		}
		since = t
	}
	var list []*Comment
	for _, c := range s.comments {
		if c.Issue == n && !c.UpdatedAt.Before(since) {
			list = append(list, c)
		}
	}
	pg := paginate(w, r, len(list))
	items := []any{}
	for _, c := range list[pg.start:pg.end] {
		items = append(items, s.commentJSONLocked(c))
	}
	writeJSON(w, http.StatusOK, items)
}

// commentBody decodes the {"body": "..."} request of create and update.
func commentBody(b []byte) (string, bool) {
	var req struct {
		Body *string `json:"body"`
	}
	if err := json.Unmarshal(b, &req); err != nil || req.Body == nil {
		return "", false
	}
	return *req.Body, true
}

func (s *Server) handleCreateComment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.issueLocked(r)
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	b, _ := io.ReadAll(r.Body)
	body, ok := commentBody(b)
	if !ok {
		writeInvalid(w, "Invalid request.\n\n\"body\" wasn't supplied.")
		return
	}
	c := s.addCommentLocked(n, s.tokenUser, body)
	w.Header().Set("Location", fmt.Sprintf("%s/repos/%s/%s/issues/comments/%d", apiBase, s.owner, s.repo, c.ID))
	writeJSON(w, http.StatusCreated, s.commentJSONLocked(c))
}

func (s *Server) handleUpdateComment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := strconv.ParseInt(r.PathValue("comment_id"), 10, 64)
	if !s.repoLocked(r) || err != nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	i := sort.Search(len(s.comments), func(i int) bool { return s.comments[i].ID >= id })
	if i == len(s.comments) || s.comments[i].ID != id {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	b, _ := io.ReadAll(r.Body)
	body, ok := commentBody(b)
	if !ok {
		writeInvalid(w, "Invalid request.\n\n\"body\" wasn't supplied.")
		return
	}
	c := s.comments[i]
	c.Body = body
	c.UpdatedAt = s.tickLocked()
	writeJSON(w, http.StatusOK, s.commentJSONLocked(c))
}
