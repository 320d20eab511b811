// Package approval verifies through the GitHub REST API that a merge to the
// base branch was legitimately approved (DESIGN.md, invariants 2-4).
//
// FindMergedPR maps a pushed commit to the pull request that was merged as
// that commit; a push that came from no such PR is ErrNoPullRequest, which
// the caller records as denied. Verify then checks the PR: its author is the
// requester, and enough approvals count under a Rule. An approval counts
// only if it is the reviewer's latest opinion, on the final head commit, by
// a user (not a bot, not a deleted account) the rule allows, who is not the
// requester and authored or committed no commit of the PR. Everything that
// cannot be checked (too many commits, reviews or files) fails closed.
//
// GitHub answers that are not verdicts (transport errors, 5xx, rate limits
// that outlast the wait bound) are returned as errors, so the caller can try
// again on its next run.
package approval

import (
	"context"
	"time"

	"github.com/google/go-github/v62/github"
)

// PullRequestsAPI is the part of go-github's PullRequestsService the
// verifier uses; *github.PullRequestsService satisfies it.
type PullRequestsAPI interface {
	ListPullRequestsWithCommit(ctx context.Context, owner, repo, sha string, opts *github.ListOptions) ([]*github.PullRequest, *github.Response, error)
	Get(ctx context.Context, owner string, repo string, number int) (*github.PullRequest, *github.Response, error)
	ListReviews(ctx context.Context, owner, repo string, number int, opts *github.ListOptions) ([]*github.PullRequestReview, *github.Response, error)
	ListCommits(ctx context.Context, owner string, repo string, number int, opts *github.ListOptions) ([]*github.RepositoryCommit, *github.Response, error)
	ListFiles(ctx context.Context, owner string, repo string, number int, opts *github.ListOptions) ([]*github.CommitFile, *github.Response, error)
}

// TeamsAPI is the part of go-github's TeamsService the verifier uses;
// *github.TeamsService satisfies it. Reading team membership needs a token
// with Members: read (a GitHub App token or a PAT, not the default
// GITHUB_TOKEN).
type TeamsAPI interface {
	GetTeamMembershipBySlug(ctx context.Context, org, slug, user string) (*github.Membership, *github.Response, error)
}

// Rule says who may approve and how many distinct approvals are needed.
type Rule struct {
	// Users are GitHub logins, compared case-insensitively.
	Users []string
	// Teams are "org/slug"; only active members count.
	Teams []string
	// Required is the number of distinct counted approvers, at least 1.
	Required int
}

// Verdict is the outcome of Verify for one pull request.
type Verdict struct {
	PR             int
	Author         string
	HeadSHA        string
	BaseRef        string
	BaseSHA        string
	MergeCommitSHA string
	MergedBy       string
	// Approved is true only when the author is the requester and at least
	// Required distinct approvals count.
	Approved bool
	// Required is the rule's number of approvals.
	Required int
	// Approvers are the logins of the counted approvals, sorted.
	Approvers []string
	// Reason says, when not Approved, exactly why, naming the reviewers:
	// "needs 2 approvals from users [carol] or teams [acme/security], has 1
	// (carol); not counted: bob (authored commit 1a2b3c4)". Empty when
	// Approved.
	Reason string
	// Ignored lists every reviewer whose latest opinion was not counted,
	// and every review without a user, with why, sorted by login.
	Ignored []Ignored
	// Files are the PR's changed files, so that the caller can check that
	// the merged content is what was reviewed.
	Files []File
}

// Ignored is a reviewer whose review did not count.
type Ignored struct {
	// Login is the reviewer's login; empty for a deleted account.
	Login string
	// Why is human readable: "stale: approved commit abc1234, head is
	// def5678", "bot", "authored commit 1a2b3c4"...
	Why string
}

// File is one file the PR changed.
type File struct {
	Name string
	// Status is GitHub's: added, removed, modified, renamed, copied,
	// changed, unchanged.
	Status string
	// BlobSHA is the file's blob at the PR head; empty when GitHub gives
	// none (a removed file).
	BlobSHA string
	// PreviousName is the old name of a renamed or copied file.
	PreviousName string
}

// Options tune a Verifier. The zero value gives the defaults.
type Options struct {
	// LookupAttempts bounds how many times FindMergedPR asks GitHub for the
	// commit's pull requests while the answer has no match (GitHub lags
	// right after a push). Default 6.
	LookupAttempts int
	// Backoff is the wait before lookup attempt n+1 (n starts at 1).
	// Default 1s, 2s, 4s, 8s, 16s: about 30 s in all.
	Backoff func(n int) time.Duration
	// RateLimitRetries bounds the retries of one API call after a rate
	// limit. Default 3; negative means none.
	RateLimitRetries int
	// MaxRateLimitWait is the longest the verifier waits for a rate limit
	// to lift; a longer limit is returned as an error. Default 2 minutes.
	MaxRateLimitWait time.Duration
	// MaxReviewPages bounds the review pages read (100 reviews each); a PR
	// with more reviews fails closed. Default 10.
	MaxReviewPages int
	// Sleep waits d or until ctx is done. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used to compute rate-limit waits. Default time.Now.
	Now func() time.Time
}

// GitHub's documented caps and page size.
const (
	perPage = 100
	// maxPRCommits is the most commits PullRequests.ListCommits lists.
	maxPRCommits = 250
	// maxPRFiles is the most files PullRequests.ListFiles lists.
	maxPRFiles = 3000
	// maxCommitPRPages bounds the pages of PRs listed for one commit.
	maxCommitPRPages = 3
)

// Verifier checks merges and approvals against GitHub.
type Verifier struct {
	prs   PullRequestsAPI
	teams TeamsAPI
	opts  Options
}

// New returns a Verifier. teams may be nil when no rule names a team; a
// rule with teams then makes Verify return an error.
func New(prs PullRequestsAPI, teams TeamsAPI, opts Options) *Verifier {
	if opts.LookupAttempts < 1 {
		opts.LookupAttempts = 6
	}
	if opts.Backoff == nil {
		opts.Backoff = func(n int) time.Duration { return time.Second << min(n-1, 4) }
	}
	if opts.RateLimitRetries == 0 {
		opts.RateLimitRetries = 3
	}
	if opts.RateLimitRetries < 0 {
		opts.RateLimitRetries = 0
	}
	if opts.MaxRateLimitWait <= 0 {
		opts.MaxRateLimitWait = 2 * time.Minute
	}
	if opts.MaxReviewPages < 1 {
		opts.MaxReviewPages = 10
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Verifier{prs: prs, teams: teams, opts: opts}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
