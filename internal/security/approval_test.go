package security

import (
	"testing"

	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// TestApprovalAttacks plays every approval attack (DESIGN.md invariant 3) at
// reconcile, in one run beside a valid request: each is denied, with the
// reviewer and why named in archive/<id>.status.yaml, and only the valid
// request is granted. internal/approval's TestVerify covers the same cases
// against the verifier alone.
func TestApprovalAttacks(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	// The production policy takes approvers from team acme/security too.
	w.GitHub.SetTeamMember("acme", "security", "henry", "pending")
	w.GitHub.SetTeamMember("acme", "security", "deploy-bot[bot]", "active")

	attacks := []struct {
		name, id string
		merge    func(id string)
		reason   []string
	}{
		{"requester approves through a second account that pushed a commit", "alice-second-account", func(id string) {
			// grace is an allowed approver, and alice's second account.
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("alice", "AdministratorAccess")}, Author: "alice",
				ExtraCommitBy: "grace", Approvers: []string{"grace"}})
		}, []string{"needs 1 approval", "has 0", "grace (authored commit"}},
		{"approver pushes a commit, then approves", "bob-approver-pushed", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("bob", "AdministratorAccess")}, Author: "bob",
				ExtraCommitBy: "carol", Approvers: []string{"carol"}})
		}, []string{"has 0", "carol (authored commit"}},
		{"approval on an older commit, then the duration and permission set change", "alice-stale", func(id string) {
			path := "requests/" + id + ".yaml"
			m := mergeRaw(t, w, rawPR{Number: 101, Author: "alice", Commits: []commit{
				{By: "alice", Change: write(path, req("alice", "sandbox", "ReadOnlyAccess", "30m"))},
				{By: "alice", Change: write(path, req("alice", "sandbox", "AdministratorAccess", "1d"))},
			}})
			w.GitHub.AddReview(101, githubfake.Review{User: "carol", State: "APPROVED", CommitID: m.Heads[0]})
		}, []string{"has 0", "carol (stale: approved commit"}},
		{"approved, then changes requested by the same reviewer", "bob-changes-requested", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("bob", "AdministratorAccess")}, Author: "bob",
				Reviews: []githubfake.Review{{User: "carol", State: "APPROVED"}, {User: "carol", State: "CHANGES_REQUESTED"}}})
		}, []string{"has 0", "carol (latest review is CHANGES_REQUESTED)"}},
		{"approved, then the approval dismissed", "bob-dismissed", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("bob", "AdministratorAccess")}, Author: "bob",
				Reviews: []githubfake.Review{{User: "grace", State: "APPROVED"}, {User: "grace", State: "DISMISSED"}}})
		}, []string{"has 0", "grace (latest review was dismissed)"}},
		{"changes requested, then a comment does not undo it", "alice-commented", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("alice", "AdministratorAccess")}, Author: "alice",
				Reviews: []githubfake.Review{{User: "carol", State: "APPROVED"}, {User: "carol", State: "CHANGES_REQUESTED"}, {User: "carol", State: "COMMENTED"}}})
		}, []string{"has 0", "carol (latest review is CHANGES_REQUESTED)"}},
		{"approval by a bot that is an active team member", "bob-bot", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": prodReq("bob", "PowerUserAccess")}, Author: "bob",
				Approvers: []string{"carol", "deploy-bot[bot]"}})
		}, []string{"needs 2 approvals", "has 1 (carol)", "deploy-bot[bot] (bot)"}},
		{"approval whose user is null (a deleted account)", "alice-null-user", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("alice", "AdministratorAccess")}, Author: "alice",
				Reviews: []githubfake.Review{{User: "", State: "APPROVED"}}})
		}, []string{"has 0", "(deleted user) (review", "has no user"}},
		{"approval by someone the policy does not allow", "bob-not-allowed", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("bob", "AdministratorAccess")}, Author: "bob",
				Approvers: []string{"frank"}})
		}, []string{"has 0", "frank (not allowed by the rule)"}},
		{"approval by a team member whose membership is pending", "alice-pending-member", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": prodReq("alice", "AdministratorAccess")}, Author: "alice",
				Approvers: []string{"carol", "henry"}})
		}, []string{"has 1 (carol)", "henry (not allowed by the rule (membership of acme/security is pending))"}},
		{"approval from the requester's own login in other case", "alice-self-other-case", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("alice", "AdministratorAccess")}, Author: "alice",
				Approvers: []string{"ALICE"}})
		}, []string{"has 0", "is the requester"}},
		{"fewer approvals than the policy requires", "bob-one-of-two", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": prodReq("bob", "AdministratorAccess")}, Author: "bob",
				Approvers: []string{"dave"}})
		}, []string{"needs 2 approvals from users [carol, dave, erin] or teams [acme/security], has 1 (dave)"}},
		{"two approvals from one person count once", "alice-same-twice", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": prodReq("alice", "PowerUserAccess")}, Author: "alice",
				Approvers: []string{"erin", "erin"}})
		}, []string{"needs 2 approvals", "has 1 (erin)"}},
	}
	for _, a := range attacks {
		a.merge(a.id)
	}
	// The valid request in the same run.
	w.Merge(world.PR{Files: map[string]string{"requests/frank-valid.yaml": sandboxReq("frank", "ReadOnlyAccess")}, Author: "frank", Approvers: []string{"grace"}})

	out := runReconcile(t, w, now)
	assertGranted(t, w, out, grant{"frank@example.com", sandbox, "ReadOnlyAccess"})
	assertActive(t, w, "frank-valid")
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) { assertDenied(t, w, a.id, a.reason...) })
	}
	assertCommitsClean(t, w)
}
