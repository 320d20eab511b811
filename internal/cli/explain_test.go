package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// strictSandbox is a second policy covering sandbox admin with more
// approvals, so two policies cover the same request.
const strictSandbox = `# yaml-language-server: $schema=../schema/policy.schema.json
version: 1
name: sandbox-admin
description: Admin on the sandbox needs two approvals.
accounts:
  - id: "777788889999"
    alias: sandbox
permissionSets:
  - AdministratorAccess
eligible:
  users: [alice, frank]
approvers:
  users: [carol, grace]
approvals: 2
maxDuration: 8h
`

func TestExplain(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	w.Admin.Write("policies/sandbox-admin.yaml", strictSandbox)
	w.Admin.Commit("policies: sandbox admin needs two approvals")
	w.Admin.Git("push", "-q", "origin", "main")
	w.GitHub.SetTeamMember("acme", "sre", "dave", "active")
	w.Merge(world.PR{Files: map[string]string{"requests/alice-prod-rollback.yaml": requestFile("alice", "prod", "AdministratorAccess", "2h",
		"Roll back the failed deploy in INC-1234", "INC-1234", "")}, Author: "alice", Approvers: []string{"carol", "dave"}})
	w.Merge(world.PR{Files: map[string]string{"requests/frank-ro.yaml": requestFile("frank", "sandbox", "ReadOnlyAccess", "1h",
		"Read the flow logs of the test VPC", "", "")}, Author: "frank", Approvers: []string{"grace"}})
	now := githubfake.Epoch.Add(time.Minute)
	// frank's hour is over at the second run; alice's two hours are not.
	reconcileAt(t, w, now.Format(time.RFC3339), now.Add(65*time.Minute).Format(time.RFC3339))
	now = now.Add(70 * time.Minute)
	_, _, checkout := w.Run(now, "version")
	checkout.Write("drafts/frank-sandbox-admin.yaml", requestFile("frank", "sandbox", "AdministratorAccess", "4h", "Rebuild the sandbox VPC from scratch", "", ""))
	checkout.Write("drafts/dave-prod.yaml", requestFile("dave", "prod", "PowerUserAccess", "6h", "Drain the old queue workers", "", "2026-12-04T09:00:00Z"))

	tests := []struct {
		name     string
		args     []string
		wantCode int
		golden   string
		contains []string
	}{
		{"open request by id", []string{"alice-prod-rollback"}, 0, "explain.open.golden", []string{
			"policy production (policies/production.yaml) applies", "alice is listed under eligible.users", "approvals needed: 2", "recorded by elevate: active"}},
		{"archived request by id", []string{"frank-ro"}, 0, "", []string{"archive/frank-ro.yaml", "it is the only policy", "recorded by elevate: expired"}},
		{"two policies cover it", []string{"drafts/frank-sandbox-admin.yaml"}, 0, "explain.overlap.golden", []string{
			"policy sandbox-admin (policies/sandbox-admin.yaml) applies", "a request must satisfy every one of them"}},
		{"not allowed, eligible through a team", []string{"drafts/dave-prod.yaml"}, 1, "explain.denied.golden", []string{
			"dave is an active member of team acme/sre", "duration 6h is longer than policy production allows", "ticket-required"}},
		{"no such request", []string{"nobody-here"}, 2, "", []string{`no request "nobody-here"`}},
		{"no argument", nil, 2, "", []string{"explain needs a request id or file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run{}.in(w, checkout, now, append([]string{"explain"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.wantCode, out, errOut)
			}
			for _, s := range tt.contains {
				if !strings.Contains(out+errOut, s) {
					t.Errorf("output lacks %q:\n%s%s", s, out, errOut)
				}
			}
			if tt.golden != "" {
				golden(t, tt.golden, out)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		code, out, errOut := run{}.in(w, checkout, now, "explain", "--format", "json", "drafts/frank-sandbox-admin.yaml")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "explain.json.golden", out)
		var ex struct {
			Policy       struct{ Name string }
			AlsoCovering []string
			Allowed      bool
		}
		if err := json.Unmarshal([]byte(out), &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Policy.Name != "sandbox-admin" || strings.Join(ex.AlsoCovering, ",") != "sandbox" || !ex.Allowed {
			t.Errorf("got %+v", ex)
		}
	})
	t.Run("without GitHub a team cannot be shown", func(t *testing.T) {
		code, out, _ := run{vars: map[string]string{"GITHUB_TOKEN": ""}}.in(w, checkout, now, "explain", "drafts/dave-prod.yaml")
		if code != 1 || !strings.Contains(out, "cannot be checked without GITHUB_TOKEN") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}
