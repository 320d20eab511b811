package policy_test

import (
	"strings"
	"testing"

	"github.com/elevate-dev/elevate/internal/policy"
)

const base = `version: 1
name: sandbox
accounts:
  - id: "777788889999"
permissionSets: [AdministratorAccess]
eligible:
  users: [alice]
approvers:
  users: [carol]
approvals: 1
maxDuration: 1d
`

func TestRemoveUnexplained(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		extra   string
		want    bool
		finding string
	}{
		{"absent", "", false, ""},
		{"true", "removeUnexplained: true\n", true, ""},
		{"false", "removeUnexplained: false\n", false, ""},
		{"not a boolean", "removeUnexplained: \"yes\"\n", false, "removeUnexplained"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, fs := policy.Parse("policies/sandbox.yaml", []byte(base+tt.extra))
			if tt.finding != "" {
				if len(fs) == 0 || !strings.Contains(fs[0].Text(), tt.finding) {
					t.Fatalf("findings %v, want one about %s", fs, tt.finding)
				}
				return
			}
			if len(fs) > 0 {
				t.Fatalf("findings: %v", fs)
			}
			if p.RemoveUnexplained != tt.want {
				t.Errorf("RemoveUnexplained = %v, want %v", p.RemoveUnexplained, tt.want)
			}
		})
	}
}
