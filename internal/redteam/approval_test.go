package redteam

import (
	"context"
	"strings"
	"testing"

	"github.com/elevate-dev/elevate/internal/approval"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
)

func sha(prefix string) string { return prefix + strings.Repeat("0", 40-len(prefix)) }

var (
	headSHA  = sha("def5678")
	baseSHA  = sha("ba5e000")
	mergeSHA = sha("3e26e00")
	c1       = sha("1a2b3c4")
	c2       = sha("2b3c4d5")
)

func verifyPR(t *testing.T, pr githubfake.PR, reviews []githubfake.Review, requester string, rule approval.Rule) approval.Verdict {
	t.Helper()
	s := githubfake.New(t)
	s.AddPR(pr)
	for _, r := range reviews {
		s.AddReview(pr.Number, r)
	}
	c := s.Client()
	v := approval.New(c.PullRequests, c.Teams, approval.Options{})
	got, _, err := c.PullRequests.Get(context.Background(), githubfake.DefaultOwner, githubfake.DefaultRepo, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	vd, err := v.Verify(context.Background(), githubfake.DefaultOwner, githubfake.DefaultRepo, got, requester, rule)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return vd
}

// Invariant 3: an approval counts only from an approver "who authored no
// commit in the PR". Who pushed a commit is known only through the commit's
// author and committer as GitHub links them to accounts. A commit whose
// author and committer e-mails belong to no account (GitHub serves
// "author": null, "committer": null) cannot be attributed to anyone, so it
// may be the approver's own push: carol pushes such a commit (changing the
// request, say) to alice's PR and then approves the head. Unattributable
// commits must fail closed, like every other answer elevate cannot check.
func TestApprovalAfterUnattributableCommit(t *testing.T) {
	pr := githubfake.PR{
		Number: 7, Author: "alice", HeadSHA: headSHA, BaseSHA: baseSHA,
		Merged: true, MergedBy: "carol", MergeCommitSHA: mergeSHA,
		Commits: []githubfake.Commit{
			{SHA: c1, AuthorLogin: "alice", CommitterLogin: "alice"},
			{SHA: c2}, // author and committer: null (e-mails linked to no account)
		},
		Files: []githubfake.File{{Name: "requests/r1.yaml", Status: "added", SHA: sha("b10b")}},
	}
	rule := approval.Rule{Users: []string{"carol"}, Required: 1}
	vd := verifyPR(t, pr, []githubfake.Review{{User: "carol", State: "APPROVED"}}, "alice", rule)
	if vd.Approved {
		t.Errorf("approved by %v although commit %s of the PR cannot be attributed to any account "+
			"(it may be carol's own push): invariant 3 (approver authored no commit in the PR) cannot be checked, so it must fail closed", vd.Approvers, c2[:7])
	}
	if !strings.Contains(vd.Reason, c2[:7]) {
		t.Errorf("reason %q does not name the unattributable commit %s", vd.Reason, c2[:7])
	}
}

// Only the committer is unlinked (a commit made with an e-mail no account
// owns, authored as alice): same rule.
func TestApprovalAfterCommitWithUnattributableCommitter(t *testing.T) {
	pr := githubfake.PR{
		Number: 7, Author: "alice", HeadSHA: headSHA, BaseSHA: baseSHA,
		Merged: true, MergedBy: "carol", MergeCommitSHA: mergeSHA,
		Commits: []githubfake.Commit{
			{SHA: c1, AuthorLogin: "alice", CommitterLogin: "alice"},
			{SHA: c2, AuthorLogin: "alice"},
		},
		Files: []githubfake.File{{Name: "requests/r1.yaml", Status: "added", SHA: sha("b10b")}},
	}
	rule := approval.Rule{Users: []string{"carol"}, Required: 1}
	vd := verifyPR(t, pr, []githubfake.Review{{User: "carol", State: "APPROVED"}}, "alice", rule)
	if vd.Approved {
		t.Errorf("approved by %v although the committer of commit %s is linked to no account", vd.Approvers, c2[:7])
	}
}
