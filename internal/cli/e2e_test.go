package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

func TestMain(m *testing.M) { moto.Main(m) }

const sandboxAccount = "777788889999"

func sandboxRequest(requester, duration string) string {
	return "# yaml-language-server: $schema=../schema/request.schema.json\nrequester: " + requester +
		"\naccount: sandbox\npermissionSet: AdministratorAccess\nduration: " + duration + "\nreason: Try the new VPC set-up before the review\n"
}

// TestGrantThenRevoke is issue 3's end-to-end story a and b.
func TestGrantThenRevoke(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	merged := w.Merge(world.PR{Files: map[string]string{"requests/alice-sandbox.yaml": sandboxRequest("alice", "2h")}, Author: "alice", Approvers: []string{"carol"}})
	mergedAt := githubfake.Epoch
	_ = merged

	code, out, _ := w.Run(mergedAt.Add(time.Minute), "reconcile")
	if code != 0 {
		t.Fatalf("reconcile exit %d:\n%s", code, out)
	}
	if got := w.Assignments(sandboxAccount, "AdministratorAccess"); !cmp.Equal(got, []string{"alice@example.com"}) {
		t.Fatalf("assignments after grant = %v\n%s", got, out)
	}
	status := w.RemoteFile("status/alice-sandbox.yaml")
	for _, want := range []string{"state: active", "approvedBy:\n  - carol", "pullRequest: 1"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	log := w.RemoteLog()
	if len(log) == 0 || !strings.Contains(log[0], "Action: grant") || !strings.Contains(log[0], "Approved-By: carol") || !strings.Contains(log[0], "Request: alice-sandbox") {
		t.Fatalf("no grant commit with trailers on the remote: %q", log)
	}
	if w.RemoteFile("requests/alice-sandbox.yaml") != strings.TrimSpace(sandboxRequest("alice", "2h")) {
		t.Error("the request file changed")
	}

	// A second run at the same time changes nothing.
	calls := w.Faults.Calls("CreateAccountAssignment")
	code, out, _ = w.Run(mergedAt.Add(2*time.Minute), "reconcile")
	if code != 0 || len(w.RemoteLog()) != len(log) || w.Faults.Calls("CreateAccountAssignment") != calls {
		t.Fatalf("second run was not a no-op (exit %d):\n%s", code, out)
	}

	// Hours late: the grant is revoked and closed.
	code, out, _ = w.Run(mergedAt.Add(5*time.Hour), "reconcile")
	if code != 0 {
		t.Fatalf("revoke exit %d:\n%s", code, out)
	}
	if got := w.Assignments(sandboxAccount, "AdministratorAccess"); len(got) != 0 {
		t.Fatalf("assignment not revoked: %v", got)
	}
	if w.RemoteFile("requests/alice-sandbox.yaml") != "" || w.RemoteFile("status/alice-sandbox.yaml") != "" {
		t.Error("closed request still in the active set")
	}
	if w.RemoteFile("archive/alice-sandbox.yaml") != strings.TrimSpace(sandboxRequest("alice", "2h")) {
		t.Error("archived request is not byte-identical")
	}
	if st := w.RemoteFile("archive/alice-sandbox.status.yaml"); !strings.Contains(st, "state: expired") {
		t.Errorf("archive status: %s", st)
	}
	if log := w.RemoteLog(); !strings.Contains(log[0], "Action: revoke") || !strings.Contains(log[0], "State: expired") {
		t.Errorf("no revoke commit: %q", log[0])
	}
}

// TestDenied is issue 3's story c: each bad approval is denied with its reason
// and nothing is granted, while the good request in the same run is granted.
func TestDenied(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	w.Merge(world.PR{Files: map[string]string{"requests/alice-self.yaml": sandboxRequest("alice", "1h")}, Author: "alice", Approvers: []string{"alice"}})
	stale := w.Merge(world.PR{Files: map[string]string{"requests/bob-stale.yaml": sandboxRequest("bob", "1h")}, Author: "bob", ExtraCommitBy: "bob",
		Reviews: []githubfake.Review{}})
	w.GitHub.AddReview(stale.Number, githubfake.Review{User: "carol", State: "APPROVED", CommitID: stale.Heads[0]})
	w.Merge(world.PR{Files: map[string]string{"requests/frank-none.yaml": sandboxRequest("frank", "1h")}, Author: "frank"})
	w.Merge(world.PR{Files: map[string]string{"requests/frank-good.yaml": sandboxRequest("frank", "1h")}, Author: "frank", Approvers: []string{"grace"}})

	code, out, _ := w.Run(githubfake.Epoch.Add(time.Minute), "reconcile")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for id, reason := range map[string]string{"alice-self": "alice", "bob-stale": "stale", "frank-none": "has 0"} {
		st := w.RemoteFile("archive/" + id + ".status.yaml")
		if !strings.Contains(st, "state: denied") || !strings.Contains(st, reason) {
			t.Errorf("%s: want denied mentioning %q, got:\n%s", id, reason, st)
		}
	}
	if got := w.Assignments(sandboxAccount, "AdministratorAccess"); !cmp.Equal(got, []string{"frank@example.com"}) {
		t.Errorf("assignments = %v, want only the approved request\n%s", got, out)
	}
}

// TestCrashBeforePush is issue 3's story d: a run that made the AWS call and
// its commit but died before the push, then a rerun: one assignment, one record.
func TestCrashBeforePush(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	w.Merge(world.PR{Files: map[string]string{"requests/alice-crash.yaml": sandboxRequest("alice", "2h")}, Author: "alice", Approvers: []string{"carol"}})
	now := githubfake.Epoch.Add(time.Minute)
	if code, out, _ := w.Run(now, "reconcile", "--no-push"); code != 0 {
		t.Fatalf("first run exit %d:\n%s", code, out)
	}
	if w.RemoteFile("status/alice-crash.yaml") != "" {
		t.Fatal("nothing should have reached the remote")
	}
	code, out, _ := w.Run(now.Add(time.Minute), "reconcile")
	if code != 0 {
		t.Fatalf("rerun exit %d:\n%s", code, out)
	}
	if got := w.Assignments(sandboxAccount, "AdministratorAccess"); !cmp.Equal(got, []string{"alice@example.com"}) {
		t.Errorf("assignments = %v, want exactly one", got)
	}
	grants := 0
	for _, m := range w.RemoteLog() {
		if strings.Contains(m, "Request: alice-crash") {
			grants++
		}
	}
	if grants != 1 {
		t.Errorf("%d records of the grant, want 1", grants)
	}
	if n := w.Faults.Calls("CreateAccountAssignment"); n != 1 {
		t.Errorf("%d CreateAccountAssignment calls, want 1 (the rerun must find the existing one)", n)
	}
}

// TestOverlappingPoliciesEachNeedApproval: when two policies cover the same
// account and permission set, each one's approval rule must hold on its own.
func TestOverlappingPoliciesEachNeedApproval(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	w.Admin.Write("policies/sandbox-security.yaml", `version: 1
name: sandbox-security
accounts:
  - id: "777788889999"
permissionSets: [AdministratorAccess]
eligible:
  users: [alice, frank]
approvers:
  users: [dave]
approvals: 1
maxDuration: 1d
`)
	w.Admin.Commit("add an overlapping policy")
	w.Admin.Git("push", "-q", "origin", "main")
	w.Merge(world.PR{Files: map[string]string{"requests/alice-one.yaml": sandboxRequest("alice", "1h")}, Author: "alice", Approvers: []string{"carol"}})
	w.Merge(world.PR{Files: map[string]string{"requests/frank-both.yaml": sandboxRequest("frank", "1h")}, Author: "frank", Approvers: []string{"carol", "dave"}})
	code, out, _ := w.Run(githubfake.Epoch.Add(time.Minute), "reconcile")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if st := w.RemoteFile("archive/alice-one.status.yaml"); !strings.Contains(st, "state: denied") || !strings.Contains(st, "sandbox-security") {
		t.Errorf("approval under one policy only must be denied naming the other:\n%s", st)
	}
	if got := w.Assignments(sandboxAccount, "AdministratorAccess"); !cmp.Equal(got, []string{"frank@example.com"}) {
		t.Errorf("assignments = %v, want only the request approved under both policies\n%s", got, out)
	}
	if st := w.RemoteFile("status/frank-both.yaml"); !strings.Contains(st, "policy: sandbox-security, sandbox") || !strings.Contains(st, "- dave") {
		t.Errorf("status should name both policies and both approvers:\n%s", st)
	}
}

// TestStartTooFarIsDenied: an approval is not a time bomb; a start more than
// 30 days after the merge is denied at reconcile, whatever the PR check said.
func TestStartTooFarIsDenied(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	w.Merge(world.PR{Files: map[string]string{"requests/alice-later.yaml": sandboxRequest("alice", "1h") + "start: \"2026-06-01T00:00:00Z\"\n"}, Author: "alice", Approvers: []string{"carol"}})
	code, out, _ := w.Run(githubfake.Epoch.Add(time.Minute), "reconcile")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if st := w.RemoteFile("archive/alice-later.status.yaml"); !strings.Contains(st, "state: denied") || !strings.Contains(st, "after the merge") {
		t.Errorf("want denied for a far start:\n%s", st)
	}
}

// TestEndEarly: an operator ends a grant before its time (an incident, a
// compromised laptop); access is revoked at once and recorded `ended`.
func TestEndEarly(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	w.Merge(world.PR{Files: map[string]string{"requests/alice-stop.yaml": sandboxRequest("alice", "8h")}, Author: "alice", Approvers: []string{"carol"}})
	w.Merge(world.PR{Files: map[string]string{"requests/frank-keep.yaml": sandboxRequest("frank", "8h")}, Author: "frank", Approvers: []string{"grace"}})
	now := githubfake.Epoch.Add(time.Minute)
	if code, out, _ := w.Run(now, "reconcile"); code != 0 {
		t.Fatalf("grant exit %d:\n%s", code, out)
	}
	if code, out, _ := w.Run(now, "reconcile", "--end", "nobody-here", "--end-reason", "typo"); code != 2 || !strings.Contains(out, "no open") {
		t.Errorf("--end of an unknown id: exit %d, want 2:\n%s", code, out)
	}
	if code, out, _ := w.Run(now, "reconcile", "--end", "alice-stop"); code != 2 || !strings.Contains(out, "--end-reason") {
		t.Errorf("--end without a reason: exit %d, want 2:\n%s", code, out)
	}
	code, out, _ := w.Run(now.Add(time.Hour), "reconcile", "--end", "alice-stop", "--end-reason", "laptop reported stolen")
	if code != 0 {
		t.Fatalf("end exit %d:\n%s", code, out)
	}
	if got := w.Assignments(sandboxAccount, "AdministratorAccess"); !cmp.Equal(got, []string{"frank@example.com"}) {
		t.Errorf("assignments = %v, want only frank's", got)
	}
	st := w.RemoteFile("archive/alice-stop.status.yaml")
	if !strings.Contains(st, "state: ended") || !strings.Contains(st, "laptop reported stolen") {
		t.Errorf("archive status:\n%s", st)
	}
	if log := w.RemoteLog(); !strings.Contains(log[0], "State: ended") || !strings.Contains(log[0], "Request: alice-stop") {
		t.Errorf("no ended commit: %q", log[0])
	}
}
