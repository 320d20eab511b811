package security

import (
	"strings"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// TestTamperingAttacks plays identity and policy tampering (DESIGN.md
// invariants 1, 2 and 5) at reconcile. Every PR here is approved by an
// allowed approver and merged (as an admin would, over a failing PR check):
// reconcile must still deny it, judging the request by the policies of the
// commit before the merge and refusing any PR that does more than add
// request files. internal/validate's TestPR covers the same changes in the
// PR check.
func TestTamperingAttacks(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	ids := w.RemoteFile("policies/identities.yaml") + "\n"
	sandboxPolicy := w.RemoteFile("policies/sandbox.yaml") + "\n"

	attacks := []struct {
		name, id string
		author   string
		files    map[string]string
		reason   []string
	}{
		{"requester is not the PR author", "alice-by-bob", "bob",
			map[string]string{"requests/alice-by-bob.yaml": sandboxReq("alice", "AdministratorAccess")},
			[]string{"the requester alice is not the PR author bob"}},
		{"a PR by alice that also asks for bob", "bob-by-alice", "alice",
			map[string]string{"requests/bob-by-alice.yaml": sandboxReq("bob", "AdministratorAccess")},
			[]string{"the requester bob is not the PR author alice"}},
		{"PR that adds its author to the identities", "mallory-new", "mallory",
			map[string]string{"requests/mallory-new.yaml": sandboxReq("mallory", "AdministratorAccess"), "policies/identities.yaml": ids + "  mallory: alice@example.com\n"},
			[]string{`requester "mallory" is not in policies/identities.yaml`}},
		{"PR that maps its author to another user's identity", "frank-as-carol", "frank",
			map[string]string{"requests/frank-as-carol.yaml": sandboxReq("frank", "AdministratorAccess"), "policies/identities.yaml": strings.Replace(ids, "frank: frank@example.com", "frank: carol@example.com", 1)},
			[]string{"also changes policies/identities.yaml (modified)"}},
		{"PR that raises the policy's maxDuration for its own request", "bob-long", "bob",
			map[string]string{"requests/bob-long.yaml": req("bob", "sandbox", "AdministratorAccess", "10d"), "policies/sandbox.yaml": strings.Replace(sandboxPolicy, "maxDuration: 1d", "maxDuration: 30d", 1)},
			[]string{"duration 10d is longer than policy sandbox allows (maxDuration 1d)"}},
		{"PR that makes its author eligible", "erin-eligible", "erin",
			map[string]string{"requests/erin-eligible.yaml": sandboxReq("erin", "AdministratorAccess"), "policies/sandbox.yaml": strings.Replace(sandboxPolicy, "users: [alice, bob, frank]", "users: [alice, bob, frank, erin]", 1)},
			[]string{`requester "erin" is not eligible under policy sandbox`}},
		{"PR that also changes CODEOWNERS", "alice-codeowners", "alice",
			map[string]string{"requests/alice-codeowners.yaml": sandboxReq("alice", "AdministratorAccess"), ".github/CODEOWNERS": "* @alice\n"},
			[]string{"also changes .github/CODEOWNERS (added)"}},
		{"PR that also changes a workflow", "bob-workflow", "bob",
			map[string]string{"requests/bob-workflow.yaml": sandboxReq("bob", "AdministratorAccess"), ".github/workflows/elevate.yml": "on: pull_request_target\n"},
			[]string{"also changes .github/workflows/elevate.yml (added)"}},
		{"PR that also changes the action", "alice-action", "alice",
			map[string]string{"requests/alice-action.yaml": sandboxReq("alice", "AdministratorAccess"), "action/action.yml": "runs: {using: composite, steps: []}\n"},
			[]string{"also changes action/action.yml (added)"}},
		{"PR that also changes the tool's code", "bob-code", "bob",
			map[string]string{"requests/bob-code.yaml": sandboxReq("bob", "AdministratorAccess"), "internal/approval/approval.go": "package approval\n"},
			[]string{"also changes internal/approval/approval.go (added)"}},
		{"PR that also writes a closed record", "alice-archive", "alice",
			map[string]string{"requests/alice-archive.yaml": sandboxReq("alice", "AdministratorAccess"), "archive/bob-future.status.yaml": "state: expired\n"},
			[]string{"also changes archive/bob-future.status.yaml (added)"}},
	}
	// The valid request and one to extend later are merged first: once
	// merged, a PR's policy and identity changes are main's policies, and
	// they judge every request merged after them.
	w.Merge(world.PR{Files: map[string]string{"requests/bob-extend.yaml": sandboxReq("bob", "AdministratorAccess")}, Author: "bob", Approvers: []string{"grace"}})
	w.Merge(world.PR{Files: map[string]string{"requests/frank-valid.yaml": sandboxReq("frank", "ReadOnlyAccess")}, Author: "frank", Approvers: []string{"grace"}})
	for i, a := range attacks {
		mergeRaw(t, w, rawPR{Number: 300 + i, Author: a.author, Approvers: []string{"carol"}, Commits: []commit{{By: a.author, Change: edit(a.files)}}})
	}

	out := runReconcile(t, w, now)
	assertGranted(t, w, out, grant{"bob@example.com", sandbox, "AdministratorAccess"}, grant{"frank@example.com", sandbox, "ReadOnlyAccess"})
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) { assertDenied(t, w, a.id, a.reason...) })
	}
	if t.Failed() {
		return
	}

	// A later PR, approved and merged, edits the merged request to extend it.
	mergeRaw(t, w, rawPR{Number: 399, Author: "bob", Approvers: []string{"carol"}, Commits: []commit{{By: "bob",
		Change: write("requests/bob-extend.yaml", req("bob", "sandbox", "AdministratorAccess", "1d"))}}})
	// An approved PR reuses the id of a request denied above.
	w.Merge(world.PR{Files: map[string]string{"requests/alice-codeowners.yaml": sandboxReq("alice", "AdministratorAccess")}, Author: "alice", Approvers: []string{"carol"}})
	// The valid request of this run: identities now map frank to carol
	// (an admin merged that), so alice asks.
	w.Merge(world.PR{Files: map[string]string{"requests/alice-valid.yaml": sandboxReq("alice", "ReadOnlyAccess")}, Author: "alice", Approvers: []string{"carol"}})
	out = runReconcile(t, w, now.Add(5*time.Minute))
	assertGranted(t, w, out, grant{"alice@example.com", sandbox, "ReadOnlyAccess"}, grant{"frank@example.com", sandbox, "ReadOnlyAccess"})
	t.Run("PR that edits a merged request to extend it", func(t *testing.T) {
		assertClosed(t, w, "bob-extend", ledger.Ended, "requests/bob-extend.yaml was changed after it was merged", "an extension is a new request")
	})
	t.Run("approved PR that reuses a closed request's id", func(t *testing.T) {
		log := strings.Join(w.RemoteLog(), "\n")
		if !strings.Contains(log, `request id "alice-codeowners" was already used by a closed request (archive/alice-codeowners.yaml)`) {
			t.Errorf("no denial of the reused id:\n%s", log)
		}
		if st := w.RemoteFile("archive/alice-codeowners.status.yaml"); !strings.Contains(st, "CODEOWNERS") {
			t.Errorf("the first record of the id was overwritten:\n%s", st)
		}
	})
	assertCommitsClean(t, w)
}
