package redteam

import (
	"strings"
	"testing"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/policy"
	"github.com/elevate-dev/elevate/internal/request"
)

// Invariant 6: bad input fails closed with a clear message (file:line,
// what is allowed). YAML numbers JSON cannot carry (.inf, .nan, -.Inf, an
// integer past int64) used to reach the schema validator and fail the whole
// file with "cannot validate: json: unsupported value: NaN" at line 1,
// naming neither the field nor what is allowed.
func TestNonFiniteNumbersGetAClearFinding(t *testing.T) {
	const base = "requester: alice\naccount: \"111122223333\"\npermissionSet: AdministratorAccess\nreason: Roll back the failed deploy\n"
	for _, tc := range []struct{ name, text string }{
		{"duration .inf", base + "duration: .inf\n"},
		{"duration .nan", base + "duration: .NaN\n"},
		{"version -.Inf", base + "duration: 2h\nversion: -.Inf\n"},
		{"version past int64", base + "duration: 2h\nversion: 99999999999999999999\n"},
		{"version float past float64", base + "duration: 2h\nversion: 1e400\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, fs := request.Parse("requests/x.yaml", []byte(tc.text))
			if r != nil {
				t.Fatalf("accepted: %+v", r)
			}
			checkClear(t, fs, strings.Count(tc.text, "\n"))
		})
	}
	t.Run("policy approvals past int64", func(t *testing.T) {
		text := "version: 1\nname: p\naccounts:\n  - id: \"111122223333\"\npermissionSets: [A]\neligible:\n  users: [alice]\napprovers:\n  users: [carol]\napprovals: 99999999999999999999\nmaxDuration: 1h\n"
		p, fs := policy.Parse("policies/p.yaml", []byte(text))
		if p != nil {
			t.Fatalf("accepted: %+v", p)
		}
		checkClear(t, fs, 10)
	})
}

func checkClear(t *testing.T, fs []finding.Finding, line int) {
	t.Helper()
	if len(fs) == 0 {
		t.Fatal("no finding")
	}
	for _, f := range fs {
		if strings.Contains(f.Message, "cannot validate") || strings.Contains(f.Message, "unsupported value") {
			t.Errorf("unclear finding (invariant 6): %s:%d:%d %s [%s]", f.File, f.Line, f.Col, f.Message, f.Rule)
		}
	}
	found := false
	for _, f := range fs {
		if f.Line == line {
			found = true
		}
	}
	if !found {
		t.Errorf("no finding on line %d, the offending value: %+v", line, fs)
	}
}
