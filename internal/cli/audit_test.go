package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/audit"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

// auditNow is the fixed clock of the audit goldens: well after the quarter.
const auditNow = "2026-12-03T09:00:00Z"

// TestAuditGolden reads a quarter of real reconcile history in every format.
// The late revoke of alice-prod-oncall is the one gap, so the exit status is 1.
func TestAuditGolden(t *testing.T) {
	t.Parallel()
	w := quarter(t)
	_, _, checkout := w.Run(at(t, auditNow), "status")
	for _, format := range []string{"table", "csv", "json", "markdown"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := run{}.in(w, checkout, at(t, auditNow), "audit", "--format", format)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (one gap)\n%s%s", code, out, errOut)
			}
			golden(t, "audit."+format+".golden", normalize(checkout, out))
		})
	}
	t.Run("csv parses", func(t *testing.T) {
		_, out, _ := run{}.in(w, checkout, at(t, auditNow), "audit", "--format", "csv")
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 7 || strings.Join(rows[0], ",") != strings.Join(audit.CSVHeader, ",") {
			t.Fatalf("want a header and 6 rows, got %d rows: %q", len(rows), rows[0])
		}
	})
	t.Run("json parses", func(t *testing.T) {
		_, out, _ := run{}.in(w, checkout, at(t, auditNow), "audit", "--format", "json")
		var rep audit.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		states := map[string]string{}
		for _, r := range rep.Requests {
			states[r.ID] = string(r.State)
			if len(r.Steps) == 0 || r.Steps[0].Action != "merge" {
				t.Errorf("%s: the first step must be its merge: %+v", r.ID, r.Steps)
			}
		}
		want := map[string]string{"alice-prod-rollback": "expired", "frank-sandbox-vpc": "expired", "bob-orders-migration": "expired",
			"bob-prod-admin": "denied", "alice-prod-oncall": "expired", "frank-sandbox-cleanup": "expired"}
		for id, st := range want {
			if states[id] != st {
				t.Errorf("%s: state %q, want %q", id, states[id], st)
			}
		}
	})
}

// TestAuditQuarter answers the README's question: who had admin in
// production last quarter.
func TestAuditQuarter(t *testing.T) {
	t.Parallel()
	w := quarter(t)
	_, _, checkout := w.Run(at(t, auditNow), "status")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"admin in production", []string{"--since", "2026-07-01", "--until", "2026-10-01", "--account", "prod,prod-data", "--permission-set", "AdministratorAccess", "--granted"},
			[]string{"alice-prod-rollback", "alice-prod-oncall"}},
		{"everything in production, denials too", []string{"--since", "2026-07-01", "--until", "2026-10-01", "--policy", "production"},
			[]string{"alice-prod-rollback", "bob-orders-migration", "bob-prod-admin", "alice-prod-oncall"}},
		{"an account id matches its alias", []string{"--account", "111122223333"}, []string{"alice-prod-rollback", "bob-prod-admin", "alice-prod-oncall"}},
		{"an alias matches a request that named the id", []string{"--account", "prod-data"}, []string{"bob-orders-migration"}},
		{"requester ignores case", []string{"--requester", "FRANK"}, []string{"frank-sandbox-vpc", "frank-sandbox-cleanup"}},
		{"since is inclusive of overlap", []string{"--since", "2026-10-01T01:00:00Z", "--granted"}, []string{"alice-prod-oncall", "frank-sandbox-cleanup"}},
		{"until is exclusive", []string{"--until", "2026-08-14T09:00:00Z", "--granted"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out, errOut := run{}.in(w, checkout, at(t, auditNow), append([]string{"audit", "--format", "json"}, tt.args...)...)
			var rep audit.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s%s", err, out, errOut)
			}
			var got []string
			for _, r := range rep.Requests {
				got = append(got, r.ID)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("golden", func(t *testing.T) {
		_, out, _ := run{}.in(w, checkout, at(t, auditNow), "audit", "--since", "2026-07-01", "--until", "2026-10-01",
			"--account", "prod,prod-data", "--permission-set", "AdministratorAccess", "--granted")
		golden(t, "audit-quarter.table.golden", normalize(checkout, out))
	})
}

// TestAuditGapsInRealHistory makes the gaps an auditor must see on a history
// the real reconcile wrote: a grant left open past its end, state pushed by
// hand, and main rewritten.
func TestAuditGapsInRealHistory(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	w.GitHub.SetClock(time.Date(2026, 8, 14, 8, 0, 0, 0, time.UTC))
	w.Merge(world.PR{Files: map[string]string{"requests/alice-sandbox.yaml": requestFile("alice", "sandbox", "AdministratorAccess", "2h",
		"Try the new VPC set-up before the review", "", "2026-08-14T09:00:00Z")}, Author: "alice", Approvers: []string{"carol"}})
	w.Merge(world.PR{Files: map[string]string{"requests/frank-sandbox.yaml": requestFile("frank", "sandbox", "ReadOnlyAccess", "1d",
		"Read the flow logs of the test VPC", "", "2026-08-14T09:00:00Z")}, Author: "frank", Approvers: []string{"grace"}})
	reconcileAt(t, w, "2026-08-14T09:01:00Z")
	gaps := func(t *testing.T, now string) map[string]bool {
		t.Helper()
		code, out, _ := w.Run(at(t, now), "audit", "--format", "json")
		var rep audit.Report
		if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); err != nil {
			t.Fatalf("exit %d: %v\n%s", code, err, out)
		}
		got := map[string]bool{}
		for _, g := range rep.Gaps {
			got[g.Request+":"+g.Rule] = true
		}
		if len(got) > 0 && code != 1 {
			t.Errorf("exit %d with gaps, want 1", code)
		}
		return got
	}
	if got := gaps(t, "2026-08-14T10:00:00Z"); len(got) != 0 {
		t.Fatalf("gaps in a clean history: %v", got)
	}
	if got := gaps(t, "2026-08-14T12:00:00Z"); !got["alice-sandbox:"+audit.RuleClosureMissing] || got["frank-sandbox:"+audit.RuleClosureMissing] {
		t.Errorf("want closure-missing for alice only (frank has a day): %v", got)
	}

	// Someone with push access extends frank's grant by hand.
	w.SyncAdmin()
	status := strings.Replace(w.RemoteFile("status/frank-sandbox.yaml"), "end: \"2026-08-15T09:00:00Z\"", "end: \"2026-08-25T09:00:00Z\"", 1)
	w.Admin.Write("status/frank-sandbox.yaml", status+"\n")
	w.Admin.CommitAs("mallory", "mallory@example.com", "extend frank")
	w.Admin.Git("push", "-q", "origin", "main")
	got := gaps(t, "2026-08-14T10:00:00Z")
	for _, want := range []string{"frank-sandbox:" + audit.RuleStateTrailer, "frank-sandbox:" + audit.RuleStateIdentity} {
		if !got[want] {
			t.Errorf("no %s after a hand edit of the status: %v", want, got)
		}
	}

	// Main is rewritten (every commit gets a new id): the merge commits the
	// state recorded are no longer in the history.
	rewrite := exec.Command("git", "filter-branch", "-f", "--env-filter", "GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'; export GIT_COMMITTER_DATE", "main")
	rewrite.Dir = w.Admin.Dir
	rewrite.Env = append(append(os.Environ(), gittest.Env()...), "FILTER_BRANCH_SQUELCH_WARNING=1")
	if out, err := rewrite.CombinedOutput(); err != nil {
		t.Fatalf("filter-branch: %v\n%s", err, out)
	}
	w.Admin.Git("push", "-q", "-f", "origin", "main")
	got = gaps(t, "2026-08-14T10:00:00Z")
	for _, want := range []string{"alice-sandbox:" + audit.RuleMergeRewritten, "frank-sandbox:" + audit.RuleMergeRewritten} {
		if !got[want] {
			t.Errorf("no %s after main was rewritten: %v", want, got)
		}
	}
}
