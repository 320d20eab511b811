package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

const statusNow = "2026-12-03T09:00:00Z"

// openSet builds main with two active grants, one overdue, one closed and
// one merged but not yet recorded (it starts tomorrow).
func openSet(t *testing.T) (*world.World, *gittest.Repo) {
	t.Helper()
	w := world.New(t)
	// Merges happen the morning the requests start: a start may be at most 30 days after its merge.
	w.GitHub.SetClock(time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC))
	for _, pr := range []struct {
		id, body, author string
		approvers        []string
	}{
		{"alice-sandbox", requestFile("alice", "sandbox", "AdministratorAccess", "2h", "Try the new VPC set-up before the review", "", "2026-12-03T08:00:00Z"), "alice", []string{"carol"}},
		{"bob-prod", requestFile("bob", "prod", "PowerUserAccess", "4h", "Deploy the payments hotfix by hand", "INC-77", "2026-12-03T07:00:00Z"), "bob", []string{"carol", "dave"}},
		{"frank-old", requestFile("frank", "sandbox", "ReadOnlyAccess", "1h", "Read the flow logs of the test VPC", "", "2026-12-03T06:00:00Z"), "frank", []string{"grace"}},
		{"frank-overdue", requestFile("frank", "sandbox", "AdministratorAccess", "30m", "Delete the stacks the test left behind", "", "2026-12-03T08:00:00Z"), "frank", []string{"grace"}},
		{"alice-prod-tomorrow", requestFile("alice", "prod", "AdministratorAccess", "2h", "Database failover drill with the DBA team", "INC-78", "2026-12-04T09:00:00Z"), "alice", []string{"carol", "erin"}},
	} {
		w.Merge(world.PR{Files: map[string]string{"requests/" + pr.id + ".yaml": pr.body}, Author: pr.author, Approvers: pr.approvers})
	}
	reconcileAt(t, w, "2026-12-03T06:01:00Z", "2026-12-03T07:01:00Z", "2026-12-03T07:05:00Z", "2026-12-03T08:01:00Z")
	_, _, checkout := w.Run(at(t, statusNow), "version")
	return w, checkout
}

func TestStatus(t *testing.T) {
	t.Parallel()
	w, checkout := openSet(t)
	now := at(t, statusNow)
	t.Run("table", func(t *testing.T) {
		code, out, errOut := run{}.in(w, checkout, now, "status")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "status.table.golden", out)
	})
	t.Run("json", func(t *testing.T) {
		code, out, errOut := run{}.in(w, checkout, now, "status", "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "status.json.golden", out)
		var got struct {
			Requests []struct {
				ID          string
				State       string
				SecondsLeft *int64
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		for _, r := range got.Requests {
			if r.ID == "frank-old" {
				t.Error("a closed request is listed")
			}
			if r.ID == "alice-sandbox" && (r.SecondsLeft == nil || *r.SecondsLeft != 3600) {
				t.Errorf("alice-sandbox: secondsLeft %v, want 3600", r.SecondsLeft)
			}
		}
	})
	tests := []struct {
		name    string
		r       run
		gitUser string
		want    []string
	}{
		{"mine from GITHUB_ACTOR", run{vars: map[string]string{"GITHUB_ACTOR": "alice"}}, "", []string{"alice-sandbox", "alice-prod-tomorrow"}},
		{"mine from git config github.user", run{}, "frank", []string{"frank-overdue"}},
		{"mine ignores case", run{vars: map[string]string{"GITHUB_ACTOR": "BOB"}}, "", []string{"bob-prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := checkout
			if tt.gitUser != "" {
				c = gittest.Clone(t, w.Remote)
				c.Git("config", "github.user", tt.gitUser)
			}
			code, out, errOut := tt.r.in(w, c, now, "status", "--mine", "--format", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got struct{ Requests []struct{ ID string } }
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got.Requests {
				ids = append(ids, r.ID)
			}
			if strings.Join(ids, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", ids, tt.want)
			}
		})
	}
	t.Run("mine without a login", func(t *testing.T) {
		c := gittest.Clone(t, w.Remote)
		c.Git("config", "github.user", "") // whatever the machine's global config says
		code, _, errOut := run{vars: map[string]string{"GITHUB_TOKEN": ""}}.in(w, c, now, "status", "--mine")
		if code != 2 || !strings.Contains(errOut, "GITHUB_ACTOR") {
			t.Errorf("exit %d, want 2 with a hint: %s", code, errOut)
		}
	})
	t.Run("nothing open", func(t *testing.T) {
		code, out, _ := run{vars: map[string]string{"GITHUB_ACTOR": "grace"}}.in(w, checkout, now, "status", "--mine")
		if code != 0 || out != "grace has no active or pending requests\n" {
			t.Errorf("exit %d: %q", code, out)
		}
	})
}
