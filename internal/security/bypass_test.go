package security

import (
	"strings"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// elevateID is the identity elevate's state commits are made as.
var elevateID = ledger.DefaultSignature.Name + " <" + ledger.DefaultSignature.Email + ">"

// forgedStatus is a status file claiming an approved, granted request.
func forgedStatus(id, user, account, permissionSet string) string {
	return "# Written by elevate; do not edit.\nversion: 1\nrequest: " + id + "\nstate: active\nrequester: " + strings.TrimSuffix(user, "@example.com") +
		"\nuserName: " + user + "\naccount: \"" + account + "\"\npermissionSet: " + permissionSet +
		"\npolicy: sandbox\npullRequest: 1\napprovedBy:\n  - carol\nstart: \"2026-01-01T00:00:00Z\"\nend: \"2099-01-01T00:00:00Z\"\ngrantedAt: \"2026-01-01T00:00:00Z\"\n"
}

// TestBypassAttacks plays every way around the PR (DESIGN.md invariant 4)
// at reconcile: requests that reached main without a verified, approved PR,
// and state or requests changed on main after the fact. Phase one merges
// the attacks that need no history and two requests to attack later; phase
// two attacks those. A valid request is granted in each run.
func TestBypassAttacks(t *testing.T) {
	t.Parallel()
	w := world.New(t)

	// Phase one.
	phase1 := []struct {
		name, id string
		merge    func(id string)
		reason   []string
	}{
		{"direct push with no PR", "alice-direct-push", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("alice", "AdministratorAccess")}, Author: "alice", NoPR: true})
		}, []string{"did not come from a merged pull request into main", "asked GitHub 6 times", "GitHub lists no pull request for the commit"}},
		{"PR merged by an admin without approvals", "bob-admin-merge", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("bob", "AdministratorAccess")}, Author: "bob"})
		}, []string{"needs 1 approval from users [carol, grace], has 0"}},
		{"direct push whose commit GitHub lists with other PRs, one open, one merged elsewhere", "alice-other-prs", func(id string) {
			m := mergeRaw(t, w, rawPR{Author: "alice", NoPR: true, Commits: []commit{{By: "alice", Change: write("requests/"+id+".yaml", sandboxReq("alice", "AdministratorAccess"))}}})
			w.GitHub.AddPR(githubfake.PR{Number: 201, Author: "alice", HeadSHA: m.MergeCommit, Commits: []githubfake.Commit{{SHA: m.MergeCommit, AuthorLogin: "alice", CommitterLogin: "alice"}}})
			w.GitHub.AddReview(201, githubfake.Review{User: "carol", State: "APPROVED"})
			w.GitHub.AddPR(githubfake.PR{Number: 202, Author: "alice", BaseRef: "release", HeadSHA: m.MergeCommit, Merged: true, MergeCommitSHA: strings.Repeat("e", 40)})
			w.GitHub.AddReview(202, githubfake.Review{User: "carol", State: "APPROVED"})
			w.GitHub.AssociateCommit(m.MergeCommit, 201, 202)
		}, []string{"PR #201 is open", "PR #202 was merged into release"}},
		{"merge commit claimed by two PRs merged into main", "bob-ambiguous", func(id string) {
			m := w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("bob", "AdministratorAccess")}, Author: "bob", Approvers: []string{"carol"}})
			w.GitHub.AddPR(githubfake.PR{Number: 203, Author: "bob", HeadSHA: strings.Repeat("d", 40), Merged: true, MergeCommitSHA: m.MergeCommit})
			w.GitHub.AssociateCommit(m.MergeCommit, 203)
		}, []string{"all claim the commit: ambiguous"}},
		{"edit of a merged request pushed directly before the grant", "bob-edited-early", func(id string) {
			path := "requests/" + id + ".yaml"
			w.Merge(world.PR{Files: map[string]string{path: sandboxReq("bob", "ReadOnlyAccess")}, Author: "bob", Approvers: []string{"carol"}})
			pushAs(t, w, "bob <bob@example.com>", "bob <bob@example.com>", "longer", write(path, sandboxReq("bob", "AdministratorAccess")))
		}, []string{"requests/bob-edited-early.yaml on main is not the file approved in PR"}},
		{"status file added by an approved PR", "alice-forged-in-pr", func(id string) {
			w.Merge(world.PR{Author: "alice", Approvers: []string{"carol"}, Files: map[string]string{
				"requests/" + id + ".yaml": sandboxReq("alice", "AdministratorAccess"),
				ledger.StatusPath(id):      forgedStatus(id, "alice@example.com", sandbox, "AdministratorAccess"),
			}})
		}, []string{"status/alice-forged-in-pr.yaml was not written by elevate", "also changes status/alice-forged-in-pr.yaml (added)"}},
		{"status file pushed with elevate as its author but GitHub as committer (a rebase merge)", "bob-forged-author", func(id string) {
			pushAs(t, w, elevateID, "GitHub <noreply@github.com>", "elevate: grant "+id+"\n\nRequest: "+id+"\nAction: grant\nState: active\nElevate-State: v1\n",
				edit(map[string]string{
					"requests/" + id + ".yaml": sandboxReq("bob", "AdministratorAccess"),
					ledger.StatusPath(id):      forgedStatus(id, "bob@example.com", sandbox, "AdministratorAccess"),
				}))
		}, []string{"status/bob-forged-author.yaml was not written by elevate", "did not come from a merged pull request"}},
		{"a denied request to reuse later", "alice-reused", func(id string) {
			w.Merge(world.PR{Files: map[string]string{"requests/" + id + ".yaml": sandboxReq("alice", "ReadOnlyAccess")}, Author: "alice"})
		}, []string{"has 0"}},
		{"PR that also changes a policy, merged by an admin", "alice-with-policy", func(id string) {
			pol := w.RemoteFile("policies/sandbox.yaml")
			mergeRaw(t, w, rawPR{Number: 204, Author: "alice", Approvers: []string{"carol"}, Commits: []commit{{By: "alice", Change: edit(map[string]string{
				"requests/" + id + ".yaml": sandboxReq("alice", "AdministratorAccess"),
				"policies/sandbox.yaml":    strings.Replace(pol, "users: [carol, grace]", "users: [carol, grace, alice]", 1) + "\n",
			})}}})
		}, []string{"also changes policies/sandbox.yaml (modified)", "a request PR may only add request files"}},
	}
	for _, a := range phase1 {
		a.merge(a.id)
	}
	// Two legitimate grants, to attack in phase two, and the valid request.
	w.Merge(world.PR{Files: map[string]string{"requests/alice-granted.yaml": sandboxReq("alice", "AdministratorAccess")}, Author: "alice", Approvers: []string{"carol"}})
	w.Merge(world.PR{Files: map[string]string{"requests/bob-granted.yaml": req("bob", "sandbox", "ReadOnlyAccess", "1h")}, Author: "bob", Approvers: []string{"grace"}})
	w.Merge(world.PR{Files: map[string]string{"requests/frank-valid.yaml": sandboxReq("frank", "ReadOnlyAccess")}, Author: "frank", Approvers: []string{"grace"}})
	w.SyncAdmin()

	out := runReconcile(t, w, now)
	assertGranted(t, w, out,
		grant{"alice@example.com", sandbox, "AdministratorAccess"},
		grant{"bob@example.com", sandbox, "ReadOnlyAccess"},
		grant{"frank@example.com", sandbox, "ReadOnlyAccess"})
	for _, a := range phase1 {
		t.Run(a.name, func(t *testing.T) { assertDenied(t, w, a.id, a.reason...) })
	}
	if t.Failed() {
		return
	}

	// Phase two.
	later := now.Add(10 * time.Minute)
	pushAs(t, w, "alice <alice@example.com>", "alice <alice@example.com>", "extend", write("requests/alice-granted.yaml", req("alice", "sandbox", "AdministratorAccess", "1d")))
	pushAs(t, w, "bob <bob@example.com>", "bob <bob@example.com>", "extend", func(r *gittest.Repo) {
		st := w.RemoteFile(ledger.StatusPath("bob-granted"))
		end := strings.SplitN(strings.SplitN(st, "end: ", 2)[1], "\n", 2)[0]
		r.Write(ledger.StatusPath("bob-granted"), strings.Replace(st, "end: "+end, `end: "2099-01-01T00:00:00Z"`, 1)+"\n")
	})
	pushAs(t, w, "alice <alice@example.com>", "alice <alice@example.com>", "again", write("requests/alice-reused.yaml", sandboxReq("alice", "ReadOnlyAccess")))
	pushAs(t, w, "frank <frank@example.com>", "frank <frank@example.com>", "forge", edit(map[string]string{
		"requests/frank-forged.yaml":      sandboxReq("frank", "AdministratorAccess"),
		ledger.StatusPath("frank-forged"): forgedStatus("frank-forged", "frank@example.com", sandbox, "AdministratorAccess"),
	}))
	pushAs(t, w, "frank <frank@example.com>", "frank <frank@example.com>", "garbage", edit(map[string]string{
		"requests/frank-garbage.yaml":      sandboxReq("frank", "AdministratorAccess"),
		ledger.StatusPath("frank-garbage"): "state: [\n",
	}))
	w.Merge(world.PR{Files: map[string]string{"requests/alice-valid-2.yaml": req("alice", "prod-data", "PowerUserAccess", "1h", "ticket: INC-7")}, Author: "alice", Approvers: []string{"carol", "dave"}})
	out = runReconcile(t, w, later)
	assertGranted(t, w, out,
		grant{"frank@example.com", sandbox, "ReadOnlyAccess"},
		grant{"alice@example.com", prodData, "PowerUserAccess"})
	assertActive(t, w, "alice-valid-2")
	t.Run("edit of a granted request pushed directly", func(t *testing.T) {
		assertClosed(t, w, "alice-granted", ledger.Ended, "requests/alice-granted.yaml was changed after it was merged", "the grant is ended")
	})
	t.Run("status file changed directly to extend the grant", func(t *testing.T) {
		assertClosed(t, w, "bob-granted", ledger.Ended, "status/bob-granted.yaml was changed outside elevate (by commit", "the grant elevate recorded is ended")
		if st := w.RemoteFile("archive/bob-granted.status.yaml"); strings.Contains(st, "2099") {
			t.Errorf("the forged end was recorded:\n%s", st)
		}
	})
	t.Run("request reusing a closed request's id, pushed directly", func(t *testing.T) {
		if log := strings.Join(w.RemoteLog(), "\n"); !strings.Contains(log, `request id "alice-reused" was already used by a closed request (archive/alice-reused.yaml)`) {
			t.Errorf("no denial of the reused id in the log:\n%s", log)
		}
		if w.RemoteFile("requests/alice-reused.yaml") != "" {
			t.Error("the reused id is still in requests/")
		}
		if st := w.RemoteFile("archive/alice-reused.status.yaml"); !strings.Contains(st, "has 0") {
			t.Errorf("the first record of the id was overwritten:\n%s", st)
		}
	})
	t.Run("status file pushed directly", func(t *testing.T) {
		assertDenied(t, w, "frank-forged", "status/frank-forged.yaml was not written by elevate", "did not come from a merged pull request")
	})
	t.Run("status file that does not parse, pushed directly", func(t *testing.T) {
		assertDenied(t, w, "frank-garbage", "status/frank-garbage.yaml is not a valid status file", "did not come from a merged pull request")
	})
	assertCommitsClean(t, w)
}

// TestLookupLag: GitHub lists no PR for a merge commit for a while after the
// push. The verifier asks again with backoff and grants once GitHub answers;
// a commit GitHub never associates is denied after the bounded attempts
// (the direct-push case in TestBypassAttacks).
func TestLookupLag(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	w.Merge(world.PR{Files: map[string]string{"requests/alice-lagged.yaml": sandboxReq("alice", "ReadOnlyAccess")}, Author: "alice", Approvers: []string{"carol"}})
	w.GitHub.LagCommitPulls(5)
	out := runReconcile(t, w, now)
	assertGranted(t, w, out, grant{"alice@example.com", sandbox, "ReadOnlyAccess"})
	assertActive(t, w, "alice-lagged")
	if n := w.GitHub.CallCount(githubfake.RouteCommitPulls); n != 6 {
		t.Errorf("asked GitHub %d times for the commit's PRs, want 6 (5 empty answers, then the PR)", n)
	}
}
