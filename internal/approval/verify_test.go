package approval_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-github/v62/github"

	"github.com/elevate-dev/elevate/internal/approval"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
)

// 40-character SHAs whose abbreviations read well in reasons.
var (
	headSHA  = sha("def5678")
	oldSHA   = sha("abc1234")
	baseSHA  = sha("ba5e000")
	mergeSHA = sha("3e26e00")
	c1       = sha("1a2b3c4")
	c2       = sha("2b3c4d5")
)

func sha(prefix string) string { return prefix + strings.Repeat("0", 40-len(prefix)) }

// sleeper records the waits the verifier asks for, without waiting.
type sleeper struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeper) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func newVerifier(s *githubfake.Server, opts approval.Options) (*approval.Verifier, *sleeper) {
	sl := &sleeper{}
	if opts.Sleep == nil {
		opts.Sleep = sl.sleep
	}
	c := s.Client()
	return approval.New(c.PullRequests, c.Teams, opts), sl
}

// basePR is PR #7 by alice, merged into main by carol, with one commit
// alice authored and committed.
func basePR() githubfake.PR {
	return githubfake.PR{
		Number: 7, Author: "alice", HeadSHA: headSHA, BaseSHA: baseSHA,
		Merged: true, MergedBy: "carol", MergeCommitSHA: mergeSHA,
		Commits: []githubfake.Commit{{SHA: c1, AuthorLogin: "alice", CommitterLogin: "alice"}},
		Files:   []githubfake.File{{Name: "requests/r1.yaml", Status: "added", SHA: sha("b10b")}},
	}
}

// baseRule allows carol, dave, the bots named in the cases and the team
// acme/security; one approval.
func baseRule() approval.Rule {
	return approval.Rule{
		Users:    []string{"carol", "dave", "alice", "alice-alt", "bob", "dependabot[bot]", "renovate"},
		Teams:    []string{"acme/security"},
		Required: 1,
	}
}

const who = "users [carol, dave, alice, alice-alt, bob, dependabot[bot], renovate] or teams [acme/security]"

func approve(user string) githubfake.Review { return githubfake.Review{User: user, State: "APPROVED"} }

func TestVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		pr        func(*githubfake.PR)
		reviews   []githubfake.Review
		setup     func(*githubfake.Server)
		requester string
		rule      func(*approval.Rule)
		want      approval.Verdict
	}{
		{
			name:    "approved by a listed user",
			reviews: []githubfake.Review{approve("carol")},
			want:    approval.Verdict{Approved: true, Approvers: []string{"carol"}},
		},
		{
			name:    "self-approval",
			reviews: []githubfake.Review{approve("alice")},
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Login: "alice", Why: "is the requester; authored commit 1a2b3c4"}},
				Reason:  "needs 1 approval from " + who + ", has 0; not counted: alice (is the requester; authored commit 1a2b3c4)",
			},
		},
		{
			name: "second account of the author that also pushed a commit",
			pr: func(p *githubfake.PR) {
				p.Commits = append(p.Commits, githubfake.Commit{SHA: c2, AuthorLogin: "alice-alt", CommitterLogin: "alice-alt"})
			},
			reviews: []githubfake.Review{approve("alice-alt")},
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Login: "alice-alt", Why: "authored commit 2b3c4d5"}},
				Reason:  "needs 1 approval from " + who + ", has 0; not counted: alice-alt (authored commit 2b3c4d5)",
			},
		},
		{
			name: "approver committed a commit then approved",
			pr: func(p *githubfake.PR) {
				p.Commits = append(p.Commits, githubfake.Commit{SHA: c2, AuthorLogin: "alice", CommitterLogin: "bob"})
			},
			reviews: []githubfake.Review{approve("bob"), approve("carol")},
			want: approval.Verdict{
				Approved:  true,
				Approvers: []string{"carol"},
				Ignored:   []approval.Ignored{{Login: "bob", Why: "committed commit 2b3c4d5"}},
			},
		},
		{
			name:    "stale approval on an older commit",
			reviews: []githubfake.Review{{User: "carol", State: "APPROVED", CommitID: oldSHA}},
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Login: "carol", Why: "stale: approved commit abc1234, head is def5678"}},
				Reason:  "needs 1 approval from " + who + ", has 0; not counted: carol (stale: approved commit abc1234, head is def5678)",
			},
		},
		{
			name:    "approved then changes requested",
			reviews: []githubfake.Review{approve("carol"), {User: "carol", State: "CHANGES_REQUESTED"}},
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Login: "carol", Why: "latest review is CHANGES_REQUESTED"}},
				Reason:  "needs 1 approval from " + who + ", has 0; not counted: carol (latest review is CHANGES_REQUESTED)",
			},
		},
		{
			name:    "approved then dismissed",
			reviews: []githubfake.Review{approve("carol"), {User: "carol", State: "DISMISSED"}},
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Login: "carol", Why: "latest review was dismissed"}},
				Reason:  "needs 1 approval from " + who + ", has 0; not counted: carol (latest review was dismissed)",
			},
		},
		{
			name:    "changes requested then commented is still blocked",
			reviews: []githubfake.Review{{User: "carol", State: "CHANGES_REQUESTED"}, {User: "carol", State: "COMMENTED"}},
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Login: "carol", Why: "latest review is CHANGES_REQUESTED"}},
				Reason:  "needs 1 approval from " + who + ", has 0; not counted: carol (latest review is CHANGES_REQUESTED)",
			},
		},
		{
			name:    "changes requested then approved",
			reviews: []githubfake.Review{{User: "carol", State: "CHANGES_REQUESTED"}, approve("carol")},
			want:    approval.Verdict{Approved: true, Approvers: []string{"carol"}},
		},
		{
			name:    "approved then commented and pending keep the approval",
			reviews: []githubfake.Review{approve("carol"), {User: "carol", State: "COMMENTED"}, {User: "carol", State: "PENDING"}},
			want:    approval.Verdict{Approved: true, Approvers: []string{"carol"}},
		},
		{
			name:    "bots",
			reviews: []githubfake.Review{approve("dependabot[bot]"), {User: "renovate", UserType: "Bot", State: "APPROVED"}},
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Login: "dependabot[bot]", Why: "bot"}, {Login: "renovate", Why: "bot"}},
				Reason:  "needs 1 approval from " + who + ", has 0; not counted: dependabot[bot] (bot), renovate (bot)",
			},
		},
		{
			name:    "null user",
			reviews: []githubfake.Review{{State: "APPROVED"}},
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Why: "review 5001 has no user (a deleted account)"}},
				Reason:  "needs 1 approval from " + who + ", has 0; not counted: (deleted user) (review 5001 has no user (a deleted account))",
			},
		},
		{
			name:    "not allowed by the rule",
			reviews: []githubfake.Review{approve("erin")},
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Login: "erin", Why: "not allowed by the rule"}},
				Reason: "needs 1 approval from " + who + ", has 0; not counted: erin (not allowed by the rule); " +
					"a team lookup answered 404, which means not a member, or a token without Members: read",
			},
		},
		{
			name:    "pending team member",
			reviews: []githubfake.Review{approve("pat")},
			setup:   func(s *githubfake.Server) { s.SetTeamMember("acme", "security", "pat", "pending") },
			want: approval.Verdict{
				Ignored: []approval.Ignored{{Login: "pat", Why: "not allowed by the rule (membership of acme/security is pending)"}},
				Reason:  "needs 1 approval from " + who + ", has 0; not counted: pat (not allowed by the rule (membership of acme/security is pending))",
			},
		},
		{
			name:    "active team member counts",
			reviews: []githubfake.Review{approve("sam")},
			setup:   func(s *githubfake.Server) { s.SetTeamMember("acme", "security", "sam", "active") },
			want:    approval.Verdict{Approved: true, Approvers: []string{"sam"}},
		},
		{
			name:    "second listed team",
			reviews: []githubfake.Review{approve("sam")},
			setup:   func(s *githubfake.Server) { s.SetTeamMember("acme", "sre", "sam", "active") },
			rule:    func(r *approval.Rule) { r.Teams = []string{"acme/security", "acme/sre"} },
			want:    approval.Verdict{Approved: true, Approvers: []string{"sam"}},
		},
		{
			name:      "requester's login in another case",
			requester: "ALICE",
			reviews:   []githubfake.Review{approve("Carol"), approve("alice")},
			want: approval.Verdict{
				Approved: true, Approvers: []string{"carol"},
				Ignored: []approval.Ignored{{Login: "alice", Why: "is the requester; authored commit 1a2b3c4"}},
			},
		},
		{
			name:      "requester is not the author",
			requester: "mallory",
			reviews:   []githubfake.Review{approve("carol")},
			want: approval.Verdict{
				Approvers: []string{"carol"},
				Reason:    "the requester mallory is not the PR author alice",
			},
		},
		{
			name:      "no requester",
			requester: "-",
			reviews:   []githubfake.Review{approve("carol")},
			want: approval.Verdict{
				Approvers: []string{"carol"},
				Reason:    "the requester (none) is not the PR author alice",
			},
		},
		{
			name:    "too few approvals",
			reviews: []githubfake.Review{approve("carol"), {User: "dave", State: "COMMENTED"}},
			rule:    func(r *approval.Rule) { r.Required = 2 },
			want: approval.Verdict{
				Approvers: []string{"carol"},
				Reason:    "needs 2 approvals from " + who + ", has 1 (carol)",
			},
		},
		{
			name:    "two approvals from the same person count once",
			reviews: []githubfake.Review{approve("carol"), approve("CAROL")},
			rule:    func(r *approval.Rule) { r.Required = 2 },
			want: approval.Verdict{
				Approvers: []string{"carol"},
				Reason:    "needs 2 approvals from " + who + ", has 1 (carol)",
			},
		},
		{
			name:    "two distinct approvals",
			reviews: []githubfake.Review{approve("carol"), approve("dave")},
			rule:    func(r *approval.Rule) { r.Required = 2 },
			want:    approval.Verdict{Approved: true, Approvers: []string{"carol", "dave"}},
		},
		{
			name: "more than 250 commits fails closed",
			pr: func(p *githubfake.PR) {
				for i := range 251 {
					p.Commits = append(p.Commits, githubfake.Commit{SHA: sha(fmt.Sprintf("c%03d", i)), AuthorLogin: "alice", CommitterLogin: "alice"})
				}
			},
			reviews: []githubfake.Review{approve("carol")},
			want: approval.Verdict{
				Approvers: []string{"carol"},
				Reason:    "the PR has 252 commits, more than the 250 GitHub lists, so who pushed cannot be checked",
			},
		},
		{
			name: "exactly 250 commits is fine",
			pr: func(p *githubfake.PR) {
				for i := range 249 {
					p.Commits = append(p.Commits, githubfake.Commit{SHA: sha(fmt.Sprintf("c%03d", i)), AuthorLogin: "alice", CommitterLogin: "alice"})
				}
				p.Commits[200].CommitterLogin = "dave"
			},
			reviews: []githubfake.Review{approve("carol"), approve("dave")},
			want: approval.Verdict{
				Approved: true, Approvers: []string{"carol"},
				Ignored: []approval.Ignored{{Login: "dave", Why: "committed commit c199000"}},
			},
		},
		{
			name: "more than 3000 files fails closed",
			pr: func(p *githubfake.PR) {
				p.Files = nil
				for i := range 3001 {
					p.Files = append(p.Files, githubfake.File{Name: fmt.Sprintf("f%d", i), SHA: "b"})
				}
			},
			reviews: []githubfake.Review{approve("carol")},
			want: approval.Verdict{
				Approvers: []string{"carol"},
				Reason:    "the PR changes 3001 files, more than the 3000 GitHub lists",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := githubfake.New(t)
			pr := basePR()
			if tt.pr != nil {
				tt.pr(&pr)
			}
			s.AddPR(pr)
			for _, r := range tt.reviews {
				s.AddReview(pr.Number, r)
			}
			if tt.setup != nil {
				tt.setup(s)
			}
			rule := baseRule()
			if tt.rule != nil {
				tt.rule(&rule)
			}
			requester := "alice"
			switch tt.requester {
			case "":
			case "-":
				requester = ""
			default:
				requester = tt.requester
			}
			v, _ := newVerifier(s, approval.Options{})
			got := verify(t, s, v, requester, rule)
			want := tt.want
			want.PR, want.Author, want.HeadSHA, want.BaseRef, want.BaseSHA = 7, "alice", headSHA, "main", baseSHA
			want.MergeCommitSHA, want.MergedBy, want.Required = mergeSHA, "carol", rule.Required
			got.Files = nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verdict (-want +got):\n%s", diff)
			}
		})
	}
}

// verify reads PR #7 and verifies it.
func verify(t *testing.T, s *githubfake.Server, v *approval.Verifier, requester string, rule approval.Rule) approval.Verdict {
	t.Helper()
	pr, _, err := s.Client().PullRequests.Get(context.Background(), githubfake.DefaultOwner, githubfake.DefaultRepo, 7)
	if err != nil {
		t.Fatal(err)
	}
	s.ResetCalls()
	got, err := v.Verify(context.Background(), githubfake.DefaultOwner, githubfake.DefaultRepo, pr, requester, rule)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return got
}

func TestVerifyPaginatesReviews(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		first string
		last  string
		want  bool
	}{
		{"changes requested on page 2 wins", "APPROVED", "CHANGES_REQUESTED", false},
		{"approval on page 2 wins", "CHANGES_REQUESTED", "APPROVED", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := githubfake.New(t)
			s.AddPR(basePR())
			s.AddReview(7, githubfake.Review{User: "carol", State: tt.first})
			for range 120 {
				s.AddReview(7, githubfake.Review{User: "erin", State: "COMMENTED"})
			}
			s.AddReview(7, githubfake.Review{User: "carol", State: tt.last})
			v, _ := newVerifier(s, approval.Options{})
			got := verify(t, s, v, "alice", baseRule())
			if got.Approved != tt.want {
				t.Errorf("Approved = %v, want %v (%s)", got.Approved, tt.want, got.Reason)
			}
			if n := s.CallCount(githubfake.RouteReviews); n != 2 {
				t.Errorf("%d review pages read, want 2", n)
			}
			for _, c := range s.Calls() {
				if c.Route == githubfake.RouteReviews && c.Query.Get("per_page") != "100" {
					t.Errorf("reviews read with per_page %q, want 100", c.Query.Get("per_page"))
				}
			}
		})
	}
}

func TestVerifyReviewPageBound(t *testing.T) {
	t.Parallel()
	s := githubfake.New(t)
	s.AddPR(basePR())
	s.AddReview(7, approve("carol"))
	for range 250 {
		s.AddReview(7, githubfake.Review{User: "erin", State: "COMMENTED"})
	}
	v, _ := newVerifier(s, approval.Options{MaxReviewPages: 2})
	got := verify(t, s, v, "alice", baseRule())
	if got.Approved || got.Reason != "the PR has more than 200 reviews, more than elevate reads" {
		t.Errorf("Verdict = %v, %q; want not approved, too many reviews", got.Approved, got.Reason)
	}
	if n := s.CallCount(githubfake.RouteReviews); n != 2 {
		t.Errorf("%d review pages read, want the bound, 2", n)
	}
}

func TestVerifyFiles(t *testing.T) {
	t.Parallel()
	s := githubfake.New(t)
	pr := basePR()
	pr.Files = []githubfake.File{
		{Name: "requests/r1.yaml", Status: "added", SHA: sha("b1")},
		{Name: "requests/r0.yaml", Status: "removed"},
		{Name: "requests/r2.yaml", Status: "renamed", PreviousName: "requests/r9.yaml", SHA: sha("b2")},
	}
	for i := range 150 {
		pr.Files = append(pr.Files, githubfake.File{Name: fmt.Sprintf("docs/%03d.md", i), SHA: sha("d")})
	}
	s.AddPR(pr)
	s.AddReview(7, approve("carol"))
	v, _ := newVerifier(s, approval.Options{})
	got := verify(t, s, v, "alice", baseRule())
	if !got.Approved || len(got.Files) != 153 {
		t.Fatalf("Approved %v with %d files (%s)", got.Approved, len(got.Files), got.Reason)
	}
	want := []approval.File{
		{Name: "requests/r1.yaml", Status: "added", BlobSHA: sha("b1")},
		{Name: "requests/r0.yaml", Status: "removed"},
		{Name: "requests/r2.yaml", Status: "renamed", BlobSHA: sha("b2"), PreviousName: "requests/r9.yaml"},
	}
	if diff := cmp.Diff(want, got.Files[:3]); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	if n := s.CallCount(githubfake.RoutePullFiles); n != 2 {
		t.Errorf("%d file pages read, want 2", n)
	}
}

// TestVerifyErrors: failures to ask GitHub are errors, never verdicts.
func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(*githubfake.Server)
		rule    func(*approval.Rule)
		wantErr string
	}{
		{
			name:    "500 on reviews",
			setup:   func(s *githubfake.Server) { s.Inject(githubfake.RouteReviews, 1, githubfake.Status(500)) },
			wantErr: "list reviews for PR 7",
		},
		{
			name:    "502 on commits",
			setup:   func(s *githubfake.Server) { s.Inject(githubfake.RoutePullCommits, 1, githubfake.Status(502)) },
			wantErr: "list commits for PR 7",
		},
		{
			name:    "404 on files",
			setup:   func(s *githubfake.Server) { s.Inject(githubfake.RoutePullFiles, 1, githubfake.Status(404)) },
			wantErr: "list files for PR 7",
		},
		{
			name:    "team lookup without Members: read (403)",
			setup:   func(s *githubfake.Server) { s.DenyTeamMembership(403) },
			wantErr: "needs a token with Members: read",
		},
		{
			name:    "team lookup 500",
			setup:   func(s *githubfake.Server) { s.Inject(githubfake.RouteTeamMembership, 1, githubfake.Status(500)) },
			wantErr: "get membership of erin in team acme/security",
		},
		{
			name:    "rule needs no approvals",
			rule:    func(r *approval.Rule) { r.Required = 0 },
			wantErr: "invalid approval rule: needs at least 1 approval, has 0",
		},
		{
			name:    "rule names nobody",
			rule:    func(r *approval.Rule) { r.Users, r.Teams = nil, nil },
			wantErr: "invalid approval rule: names no users or teams",
		},
		{
			name:    "bad team",
			rule:    func(r *approval.Rule) { r.Teams = []string{"security"} },
			wantErr: `invalid approval rule: team "security" is not org/slug`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := githubfake.New(t)
			s.AddPR(basePR())
			s.AddReview(7, approve("erin"))
			if tt.setup != nil {
				tt.setup(s)
			}
			rule := baseRule()
			if tt.rule != nil {
				tt.rule(&rule)
			}
			v, sl := newVerifier(s, approval.Options{})
			pr, _, err := s.Client().PullRequests.Get(context.Background(), "acme", "access", 7)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(context.Background(), "acme", "access", pr, "alice", rule)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Verify = %+v, %v; want an error containing %q", got, err, tt.wantErr)
			}
			if got.Approved {
				t.Error("approved alongside an error")
			}
			if w := sl.waits(); len(w) != 0 {
				t.Errorf("waited %v: plain errors are not retried", w)
			}
		})
	}
}

func TestVerifyWithoutTeamsClient(t *testing.T) {
	t.Parallel()
	s := githubfake.New(t)
	s.AddPR(basePR())
	s.AddReview(7, approve("carol"))
	v := approval.New(s.Client().PullRequests, nil, approval.Options{})
	pr, _, err := s.Client().PullRequests.Get(context.Background(), "acme", "access", 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), "acme", "access", pr, "alice", baseRule()); err == nil {
		t.Error("a rule with teams and no Teams client must be an error")
	}
	got, err := v.Verify(context.Background(), "acme", "access", pr, "alice", approval.Rule{Users: []string{"carol"}, Required: 1})
	if err != nil || !got.Approved {
		t.Errorf("users-only rule: %+v, %v", got, err)
	}
}

// TestRateLimits: a rate limit is waited out (bounded) and the call
// retried; one that outlasts the bounds is an error.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	// go-github refuses to send requests until a reset it has seen has
	// passed by the wall clock, so the fake's reset is the current second
	// and the verifier's injected clock stands 30 s earlier.
	reset := time.Now().Truncate(time.Second)
	early := func() time.Time { return reset.Add(-30 * time.Second) }
	tests := []struct {
		name      string
		route     githubfake.Route
		times     int
		fault     githubfake.Fault
		opts      approval.Options
		wantWaits []time.Duration
		wantErr   string
	}{
		{
			name: "primary 403", route: githubfake.RouteReviews, times: 1,
			fault: githubfake.PrimaryLimit(403, reset), opts: approval.Options{Now: early},
			wantWaits: []time.Duration{31 * time.Second},
		},
		{
			name: "primary 429", route: githubfake.RoutePullCommits, times: 2,
			fault: githubfake.PrimaryLimit(429, reset), opts: approval.Options{Now: early},
			wantWaits: []time.Duration{31 * time.Second, 31 * time.Second},
		},
		{
			name: "secondary 403", route: githubfake.RoutePullFiles, times: 1,
			fault:     githubfake.SecondaryLimit(403, 0),
			wantWaits: []time.Duration{time.Second},
		},
		{
			name: "secondary 429", route: githubfake.RouteTeamMembership, times: 1,
			fault:     githubfake.SecondaryLimit(429, 0),
			wantWaits: []time.Duration{time.Second},
		},
		{
			name: "more often than the retries", route: githubfake.RouteReviews, times: 4,
			fault: githubfake.SecondaryLimit(403, 0), opts: approval.Options{RateLimitRetries: 2},
			wantWaits: []time.Duration{time.Second, time.Second},
			wantErr:   "list reviews for PR 7",
		},
		{
			name: "longer than the wait bound", route: githubfake.RouteReviews, times: 1,
			fault: githubfake.PrimaryLimit(403, reset), opts: approval.Options{Now: early, MaxRateLimitWait: 10 * time.Second},
			wantErr: "rate limited for 31s, longer than the 10s the verifier waits",
		},
		{
			name: "Retry-After is honoured", route: githubfake.RouteReviews, times: 1,
			fault: githubfake.SecondaryLimit(429, 45*time.Second),
			// A 429 is not typed by go-github, so it does not block the retry
			// locally the way a 403 secondary limit would.
			wantWaits: []time.Duration{45 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := githubfake.New(t)
			s.AddPR(basePR())
			s.AddReview(7, approve("sam"))
			s.SetTeamMember("acme", "security", "sam", "active")
			s.Inject(tt.route, tt.times, tt.fault)
			v, sl := newVerifier(s, tt.opts)
			pr, _, err := s.Client().PullRequests.Get(context.Background(), "acme", "access", 7)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(context.Background(), "acme", "access", pr, "alice", baseRule())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
				}
			} else if err != nil || !got.Approved {
				t.Errorf("Verify = %+v, %v; want approved", got, err)
			}
			if diff := cmp.Diff(tt.wantWaits, sl.waits()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFindMergedPR(t *testing.T) {
	t.Parallel()
	type pr = githubfake.PR
	tests := []struct {
		name      string
		prs       []pr
		setup     func(*githubfake.Server)
		base      string
		wantPR    int
		wantSeen  []string // nil: want no NoPullRequestError
		wantErr   string   // an error that is not ErrNoPullRequest
		wantLists int
		wantWaits []time.Duration
		// wantAttempts is the NoPullRequestError's count; 0 means 6.
		wantAttempts int
	}{
		{
			name:      "merge commit",
			prs:       []pr{basePR()},
			wantPR:    7,
			wantLists: 1,
		},
		{
			name:      "base given as a ref",
			prs:       []pr{basePR()},
			base:      "refs/heads/main",
			wantPR:    7,
			wantLists: 1,
		},
		{
			name:      "association lag: empty twice, then found",
			prs:       []pr{basePR()},
			setup:     func(s *githubfake.Server) { s.LagCommitPulls(2) },
			wantPR:    7,
			wantLists: 3,
			wantWaits: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name: "several PRs: picks the one merged into main as the commit",
			prs: []pr{
				{Number: 5, Author: "bob", HeadSHA: sha("b0b"), Commits: []githubfake.Commit{{SHA: mergeSHA}}},
				{Number: 9, Author: "bob", HeadSHA: sha("b0c"), BaseRef: "release", Merged: true, MergeCommitSHA: mergeSHA},
				basePR(),
			},
			wantPR:    7,
			wantLists: 1,
		},
		{
			name: "several PRs, none merged into main as the commit: fails closed",
			prs: []pr{
				{Number: 5, Author: "bob", HeadSHA: sha("b0b"), Commits: []githubfake.Commit{{SHA: mergeSHA}}},
				{Number: 9, Author: "bob", HeadSHA: sha("b0c"), BaseRef: "release", Merged: true, MergeCommitSHA: mergeSHA},
				{Number: 4, Author: "bob", HeadSHA: mergeSHA, State: "closed"},
				{Number: 3, Author: "bob", HeadSHA: sha("b0d"), Merged: true, MergeCommitSHA: sha("0ther")},
			},
			setup: func(s *githubfake.Server) { s.AssociateCommit(mergeSHA, 3) },
			wantSeen: []string{
				"PR #5 is open", "PR #9 was merged into release", "PR #4 was closed without merging",
				"PR #3 was merged into main as 0ther00, not 3e26e00",
			},
			wantLists: 6,
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second},
		},
		{
			name: "two PRs merged into main as the commit: ambiguous, fails closed",
			prs: []pr{basePR(), func() pr {
				p := basePR()
				p.Number = 8
				return p
			}()},
			wantSeen:     []string{"PRs #7, #8 all claim the commit: ambiguous"},
			wantLists:    1,
			wantAttempts: 1,
		},
		{
			name:      "direct push: no PR ever",
			wantSeen:  []string{},
			wantLists: 6,
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second},
		},
		{
			name: "rate limited, then found",
			prs:  []pr{basePR()},
			setup: func(s *githubfake.Server) {
				s.Inject(githubfake.RouteCommitPulls, 1, githubfake.SecondaryLimit(403, 0))
				s.Inject(githubfake.RoutePull, 1, githubfake.PrimaryLimit(429, time.Now()))
			},
			wantPR:    7,
			wantLists: 2,
			wantWaits: []time.Duration{time.Second, time.Second},
		},
		{
			name:      "500 is an error, not a verdict",
			prs:       []pr{basePR()},
			setup:     func(s *githubfake.Server) { s.Inject(githubfake.RouteCommitPulls, 1, githubfake.Status(500)) },
			wantErr:   "list pull requests for commit 3e26e00",
			wantLists: 1,
		},
		{
			name:      "502 on the re-read is an error",
			prs:       []pr{basePR()},
			setup:     func(s *githubfake.Server) { s.Inject(githubfake.RoutePull, 1, githubfake.Status(502)) },
			wantErr:   "get PR 7",
			wantLists: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := githubfake.New(t)
			for _, p := range tt.prs {
				s.AddPR(p)
			}
			if tt.setup != nil {
				tt.setup(s)
			}
			v, sl := newVerifier(s, approval.Options{})
			base := tt.base
			if base == "" {
				base = "main"
			}
			got, err := v.FindMergedPR(context.Background(), "acme", "access", mergeSHA, base)
			var noPR *approval.NoPullRequestError
			switch {
			case tt.wantErr != "":
				if err == nil || errors.Is(err, approval.ErrNoPullRequest) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want a non-verdict error containing %q", err, tt.wantErr)
				}
			case tt.wantSeen != nil:
				if !errors.Is(err, approval.ErrNoPullRequest) || !errors.As(err, &noPR) {
					t.Fatalf("err = %v, want ErrNoPullRequest", err)
				}
				if diff := cmp.Diff(tt.wantSeen, noPR.Seen, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Seen (-want +got):\n%s", diff)
				}
				want := 6
				if tt.wantAttempts != 0 {
					want = tt.wantAttempts
				}
				if noPR.Attempts != want {
					t.Errorf("Attempts = %d, want %d", noPR.Attempts, want)
				}
			default:
				if err != nil {
					t.Fatalf("FindMergedPR: %v", err)
				}
				if got.GetNumber() != tt.wantPR || !got.GetMerged() {
					t.Errorf("got PR #%d (merged %v), want #%d", got.GetNumber(), got.GetMerged(), tt.wantPR)
				}
			}
			if n := s.CallCount(githubfake.RouteCommitPulls); n != tt.wantLists {
				t.Errorf("%d lookups, want %d", n, tt.wantLists)
			}
			if diff := cmp.Diff(tt.wantWaits, sl.waits()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

// disagreeingPRs lists a PR as merged that reads as not merged: GitHub's
// endpoints are not updated at the same instant.
type disagreeingPRs struct {
	approval.PullRequestsAPI
	gets int
}

func (d *disagreeingPRs) ListPullRequestsWithCommit(context.Context, string, string, string, *github.ListOptions) ([]*github.PullRequest, *github.Response, error) {
	now := github.Timestamp{Time: time.Now()}
	return []*github.PullRequest{{
		Number: github.Int(7), State: github.String("closed"), MergedAt: &now,
		MergeCommitSHA: github.String(mergeSHA), Base: &github.PullRequestBranch{Ref: github.String("main")},
	}}, &github.Response{}, nil
}

func (d *disagreeingPRs) Get(context.Context, string, string, int) (*github.PullRequest, *github.Response, error) {
	d.gets++
	return &github.PullRequest{
		Number: github.Int(7), Merged: github.Bool(false), MergeCommitSHA: github.String(mergeSHA),
		Base: &github.PullRequestBranch{Ref: github.String("main")},
	}, &github.Response{}, nil
}

func TestFindMergedPRConfirmsWithGet(t *testing.T) {
	t.Parallel()
	d := &disagreeingPRs{}
	sl := &sleeper{}
	v := approval.New(d, nil, approval.Options{LookupAttempts: 3, Sleep: sl.sleep})
	_, err := v.FindMergedPR(context.Background(), "acme", "access", mergeSHA, "main")
	var noPR *approval.NoPullRequestError
	if !errors.As(err, &noPR) {
		t.Fatalf("err = %v, want NoPullRequestError", err)
	}
	if diff := cmp.Diff([]string{"PR #7 is not merged when read again"}, noPR.Seen); diff != "" {
		t.Errorf("Seen (-want +got):\n%s", diff)
	}
	if d.gets != 3 || len(sl.waits()) != 2 {
		t.Errorf("%d re-reads and %d waits, want 3 and 2", d.gets, len(sl.waits()))
	}
}

func TestNoPullRequestErrorMessage(t *testing.T) {
	t.Parallel()
	s := githubfake.New(t)
	v, _ := newVerifier(s, approval.Options{LookupAttempts: 2})
	_, err := v.FindMergedPR(context.Background(), "acme", "access", mergeSHA, "main")
	want := "no pull request was merged into main as commit " + mergeSHA + " (asked GitHub 2 times): GitHub lists no pull request for the commit (a direct push?)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant   %s", err, want)
	}
}

// TestCallsPerPR counts the GitHub calls for one merged PR, the figure the
// reconcile benchmark cites: 2 to find the PR, 3 to verify it (reviews,
// commits, files: one page each up to 100), plus one team lookup per
// reviewer who is approved only through a team.
func TestCallsPerPR(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rule  approval.Rule
		setup func(*githubfake.Server)
		want  map[githubfake.Route]int
	}{
		{
			name: "users-only rule",
			rule: approval.Rule{Users: []string{"carol", "dave"}, Required: 2},
			want: map[githubfake.Route]int{
				githubfake.RouteCommitPulls: 1, githubfake.RoutePull: 1,
				githubfake.RouteReviews: 1, githubfake.RoutePullCommits: 1, githubfake.RoutePullFiles: 1,
			},
		},
		{
			name: "one approver through a team",
			rule: approval.Rule{Users: []string{"carol"}, Teams: []string{"acme/security"}, Required: 2},
			want: map[githubfake.Route]int{
				githubfake.RouteCommitPulls: 1, githubfake.RoutePull: 1,
				githubfake.RouteReviews: 1, githubfake.RoutePullCommits: 1, githubfake.RoutePullFiles: 1,
				githubfake.RouteTeamMembership: 1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := githubfake.New(t)
			s.AddPR(basePR())
			s.AddReview(7, approve("carol"))
			s.AddReview(7, githubfake.Review{User: "dave", State: "COMMENTED"})
			s.AddReview(7, approve("dave"))
			s.AddReview(7, githubfake.Review{User: "alice", State: "COMMENTED"})
			s.SetTeamMember("acme", "security", "dave", "active")
			v, _ := newVerifier(s, approval.Options{})
			pr, err := v.FindMergedPR(context.Background(), "acme", "access", mergeSHA, "main")
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(context.Background(), "acme", "access", pr, "alice", tt.rule)
			if err != nil || !got.Approved {
				t.Fatalf("Verify = %+v, %v", got, err)
			}
			if diff := cmp.Diff(tt.want, s.CallCounts()); diff != "" {
				t.Errorf("calls per route (-want +got):\n%s", diff)
			}
		})
	}
}

// The real go-github services satisfy the consumer interfaces.
var (
	_ approval.PullRequestsAPI = (*github.PullRequestsService)(nil)
	_ approval.TeamsAPI        = (*github.TeamsService)(nil)
)
