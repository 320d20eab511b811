package redteam

import (
	"context"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/policy"
	"github.com/elevate-dev/elevate/internal/request"
)

func mustPolicy(t *testing.T, file, text string) *policy.Policy {
	t.Helper()
	p, fs := policy.Parse(file, []byte(text))
	if p == nil {
		t.Fatalf("%s: %v", file, fs)
	}
	return p
}

// An overlapping policy must not loosen another: once "the strictest
// applies" was decided by approvals alone, a second policy covering the same
// pair with one more approval, but from the requester's own teammates, a
// 90-day maxDuration and no ticket, decided alone and allowed a 30-day
// request with no ticket. Now every covering policy must hold.
func TestStrictestWinsCanBeGamedByOverlap(t *testing.T) {
	prod := mustPolicy(t, "policies/production.yaml", `version: 1
name: production
accounts:
  - id: "111122223333"
    alias: prod
permissionSets: [AdministratorAccess]
eligible:
  users: [alice]
approvers:
  users: [carol, dave]
approvals: 2
maxDuration: 4h
ticket:
  pattern: "^INC-[0-9]+$"
`)
	lax := mustPolicy(t, "policies/team-ops.yaml", `version: 1
name: team-ops
accounts:
  - id: "111122223333"
permissionSets: [AdministratorAccess, ReadOnlyAccess]
eligible:
  users: [alice, bob, frank, gina]
approvers:
  users: [bob, frank, gina]
approvals: 3
maxDuration: 90d
`)
	set, fs := policy.NewSet([]*policy.Policy{prod, lax}, policy.NewIdentities(policy.IdentitiesFile, map[string]string{"alice": "alice@example.com"}))
	if len(fs) > 0 {
		t.Fatalf("set: %v", fs)
	}
	r, rfs := request.Parse("requests/x.yaml", []byte("requester: alice\naccount: prod\npermissionSet: AdministratorAccess\nduration: 30d\nreason: Long running admin work\n"))
	if r == nil {
		t.Fatal(rfs)
	}
	d := set.Evaluate(context.Background(), r, nil)
	if len(d.Findings) == 0 {
		t.Errorf("allowed under policy %s: %s for %v without a ticket, although policy production also covers %s on %s and allows at most 4h with a ticket; "+
			"the strictest-wins rule let the laxer policy (approved by the requester's teammates) decide", d.Policy.Name, r.DurationText, time.Duration(r.Duration), r.PermissionSet, d.AccountID)
	}
}
