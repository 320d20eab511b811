package approval

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v62/github"
)

// ErrNoPullRequest means that no pull request was merged into the base
// branch as the commit: a direct push, or a commit GitHub still does not
// associate with its PR after the bounded retries. The caller records the
// request as denied (fail closed). errors.As gives the details as a
// *NoPullRequestError.
var ErrNoPullRequest = errors.New("no pull request was merged as this commit")

// NoPullRequestError is ErrNoPullRequest with what GitHub answered.
type NoPullRequestError struct {
	Commit   string
	Base     string
	Attempts int
	// Seen says what GitHub listed on the last attempt and why each PR did
	// not match, e.g. "PR #7 is open", "PR #9 was merged into release".
	Seen []string
}

func (e *NoPullRequestError) Error() string {
	msg := fmt.Sprintf("no pull request was merged into %s as commit %s (asked GitHub %d times)", e.Base, e.Commit, e.Attempts)
	if len(e.Seen) == 0 {
		return msg + ": GitHub lists no pull request for the commit (a direct push?)"
	}
	return msg + ": " + strings.Join(e.Seen, "; ")
}

// Is makes errors.Is(err, ErrNoPullRequest) hold.
func (e *NoPullRequestError) Is(target error) bool { return target == ErrNoPullRequest }

// FindMergedPR returns the pull request merged into baseBranch ("main" or
// "refs/heads/main") as commitSHA: for a merge commit the merge, for a
// squash the squashed commit, for a rebase the last rebased commit. GitHub
// may list several PRs for a commit; the one taken is merged into
// baseBranch with merge_commit_sha equal to commitSHA, re-read with
// PullRequests.Get to confirm. While none matches (GitHub lags right after
// a push) it asks again, Options.LookupAttempts times in all with
// Options.Backoff between, then returns a *NoPullRequestError
// (ErrNoPullRequest). API failures are returned as other errors.
func (v *Verifier) FindMergedPR(ctx context.Context, owner, repo, commitSHA, baseBranch string) (*github.PullRequest, error) {
	base := strings.TrimPrefix(baseBranch, "refs/heads/")
	if commitSHA == "" || base == "" {
		return nil, errors.New("find merged PR: need a commit SHA and a base branch")
	}
	for attempt := 1; ; attempt++ {
		listed, err := v.pullsForCommit(ctx, owner, repo, commitSHA)
		if err != nil {
			return nil, err
		}
		matches, seen := matchMerged(listed, commitSHA, base)
		switch len(matches) {
		case 0:
		case 1:
			pr, why, err := v.confirmMerged(ctx, owner, repo, matches[0], commitSHA, base)
			if err != nil || why == "" {
				return pr, err
			}
			seen = append(seen, why)
		default:
			var nums []string
			for _, n := range matches {
				nums = append(nums, fmt.Sprintf("#%d", n))
			}
			return nil, &NoPullRequestError{Commit: commitSHA, Base: base, Attempts: attempt,
				Seen: []string{fmt.Sprintf("PRs %s all claim the commit: ambiguous", strings.Join(nums, ", "))}}
		}
		if attempt >= v.opts.LookupAttempts {
			return nil, &NoPullRequestError{Commit: commitSHA, Base: base, Attempts: attempt, Seen: seen}
		}
		if err := v.opts.Sleep(ctx, v.opts.Backoff(attempt)); err != nil {
			return nil, fmt.Errorf("find merged PR for %s: %w", short(commitSHA), err)
		}
	}
}

// pullsForCommit lists the PRs GitHub associates with sha, a few pages at
// most: the PR a merge came from is among the first.
func (v *Verifier) pullsForCommit(ctx context.Context, owner, repo, sha string) ([]*github.PullRequest, error) {
	var all []*github.PullRequest
	opts := &github.ListOptions{PerPage: perPage}
	for range maxCommitPRPages {
		page, resp, err := call(ctx, v, "list pull requests for commit "+short(sha), func() ([]*github.PullRequest, *github.Response, error) {
			return v.prs.ListPullRequestsWithCommit(ctx, owner, repo, sha, opts)
		})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return all, nil
}

// matchMerged returns the numbers of the listed PRs merged into base as sha,
// and why each other one does not match. It reads merged_at, not merged:
// the list endpoint serves pull-request-simple, which has no merged field.
func matchMerged(listed []*github.PullRequest, sha, base string) ([]int, []string) {
	var matches []int
	var seen []string
	for _, p := range listed {
		n := p.GetNumber()
		switch {
		case p.MergedAt == nil && p.GetState() == "open":
			seen = append(seen, fmt.Sprintf("PR #%d is open", n))
		case p.MergedAt == nil:
			seen = append(seen, fmt.Sprintf("PR #%d was closed without merging", n))
		case p.GetBase().GetRef() != base:
			seen = append(seen, fmt.Sprintf("PR #%d was merged into %s", n, p.GetBase().GetRef()))
		case !strings.EqualFold(p.GetMergeCommitSHA(), sha):
			seen = append(seen, fmt.Sprintf("PR #%d was merged into %s as %s, not %s", n, base, short(p.GetMergeCommitSHA()), short(sha)))
		default:
			matches = append(matches, n)
		}
	}
	return matches, seen
}

// confirmMerged re-reads PR n and checks it again, with the full object's
// merged flag. A non-empty why means it does not match (yet).
func (v *Verifier) confirmMerged(ctx context.Context, owner, repo string, n int, sha, base string) (*github.PullRequest, string, error) {
	pr, _, err := call(ctx, v, fmt.Sprintf("get PR %d", n), func() (*github.PullRequest, *github.Response, error) {
		return v.prs.Get(ctx, owner, repo, n)
	})
	if err != nil {
		return nil, "", err
	}
	switch {
	case !pr.GetMerged():
		return nil, fmt.Sprintf("PR #%d is not merged when read again", n), nil
	case pr.GetBase().GetRef() != base:
		return nil, fmt.Sprintf("PR #%d targets %s when read again", n, pr.GetBase().GetRef()), nil
	case !strings.EqualFold(pr.GetMergeCommitSHA(), sha):
		return nil, fmt.Sprintf("PR #%d was merged as %s when read again", n, short(pr.GetMergeCommitSHA())), nil
	}
	return pr, "", nil
}

// short abbreviates a commit SHA as git does.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
