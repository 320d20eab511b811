package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

const reqA = `# yaml-language-server: $schema=../schema/request.schema.json
requester: alice
account: prod
permissionSet: AdministratorAccess
duration: 2h
reason: Roll back the failed deploy in INC-1234
ticket: INC-1234
`

var (
	t0       = time.Date(2026, 8, 14, 9, 0, 0, 0, time.UTC)
	mallory  = ledger.Signature{Name: "mallory", Email: "mallory@example.com"}
	identity = []string{ledger.DefaultSignature.Email}
)

// story is a repository where alice's request a was merged, and the ledger
// (the code reconcile records with) wrote what happened.
type story struct {
	t     *testing.T
	g     *gittest.Repo
	led   *ledger.Ledger
	merge string
}

func newStory(t *testing.T) *story {
	t.Helper()
	g := gittest.New(t)
	g.Write("README.md", "access\n")
	g.Commit("init")
	repo, err := gitrepo.Open(context.Background(), g.Dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(repo.Close)
	return &story{t: t, g: g, led: &ledger.Ledger{Repo: repo}}
}

func (s *story) mergeA() *story {
	s.g.Write("requests/a.yaml", reqA)
	s.merge = s.g.Commit("Merge pull request #1")
	return s
}

func (s *story) status(state ledger.State) *ledger.Status {
	st := &ledger.Status{Version: 1, Request: "a", State: state, Requester: "alice", UserName: "alice@example.com", Account: "111122223333", PermissionSet: "AdministratorAccess",
		Policy: "production", PullRequest: 1, MergeCommit: s.merge, ApprovedBy: []string{"carol", "dave"},
		Start: "2026-08-14T09:00:00Z", End: "2026-08-14T11:00:00Z"}
	if state != ledger.Denied {
		st.GrantedAt = "2026-08-14T09:01:00Z"
	}
	if state.Closed() {
		st.ClosedAt = "2026-08-14T11:05:00Z"
	}
	return st
}

func (s *story) record(id string, st *ledger.Status, action string) string {
	s.t.Helper()
	sha, err := s.led.Record(context.Background(), ledger.Entry{ID: id, Path: "requests/" + id + ".yaml"}, st, action)
	if err != nil {
		s.t.Fatal(err)
	}
	return sha
}

func (s *story) grant() *story  { s.record("a", s.status(ledger.Active), "grant"); return s }
func (s *story) revoke() *story { s.record("a", s.status(ledger.Expired), "revoke"); return s }

func (s *story) read(now time.Time, f Filter) *Report {
	s.t.Helper()
	rep, err := Read(context.Background(), Config{Repo: s.led.Repo, Identities: identity, Now: now, Grace: 30 * time.Minute}, f)
	if err != nil {
		s.t.Fatal(err)
	}
	return rep
}

func rules(rep *Report) []string {
	var out []string
	for _, g := range rep.Gaps {
		out = append(out, g.Request+":"+g.Rule)
	}
	sort.Strings(out)
	return out
}

func TestStory(t *testing.T) {
	t.Parallel()
	s := newStory(t).mergeA().grant().revoke()
	rep := s.read(t0.Add(24*time.Hour), Filter{})
	if len(rep.Gaps) != 0 {
		t.Fatalf("gaps in a clean history: %+v", rep.Gaps)
	}
	if len(rep.Requests) != 1 {
		t.Fatalf("%d requests", len(rep.Requests))
	}
	r := rep.Requests[0]
	var actions []string
	for _, st := range r.Steps {
		actions = append(actions, st.Action+"/"+string(st.State))
	}
	got := []any{r.ID, r.Requester, r.Account, r.AccountAsWritten, r.Reason, r.Ticket, r.Duration, r.State, r.Granted, r.MergeCommit == s.merge, actions}
	want := []any{"a", "alice", "111122223333", "prod", "Roll back the failed deploy in INC-1234", "INC-1234", "2h", ledger.Expired, true, true,
		[]string{"merge/", "grant/active", "revoke/expired"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

// TestGaps builds each thing an auditor must see with the real ledger and
// git, and checks that exactly its gaps are flagged.
func TestGaps(t *testing.T) {
	t.Parallel()
	day := t0.Add(24 * time.Hour)
	tests := []struct {
		name  string
		build func(s *story)
		now   time.Time
		want  []string
	}{
		{"grant never closed", func(s *story) { s.mergeA().grant() }, day, []string{"a:closure-missing"}},
		{"grant not yet closed, within grace", func(s *story) { s.mergeA().grant() }, t0.Add(2*time.Hour + 10*time.Minute), nil},
		{"revoked late", func(s *story) {
			s.mergeA().grant()
			st := s.status(ledger.Expired)
			st.ClosedAt = "2026-08-14T13:00:00Z"
			s.record("a", st, "revoke")
		}, day, []string{"a:closure-late"}},
		{"status edited by hand", func(s *story) {
			s.mergeA().grant()
			s.g.Write("status/a.yaml", strings.Replace(string(s.status(ledger.Active).Marshal()), "11:00:00Z", "23:00:00Z", 1))
			s.g.CommitAs("mallory", "mallory@example.com", "extend")
			s.revoke()
		}, day, []string{"a:state-identity", "a:state-trailer"}},
		{"state committed as someone else", func(s *story) {
			s.mergeA()
			s.led.As = mallory
			s.grant()
			s.led.As = ledger.Signature{}
			s.revoke()
		}, day, []string{"a:state-identity"}},
		{"merged request edited", func(s *story) {
			s.mergeA().grant()
			s.g.Write("requests/a.yaml", strings.Replace(reqA, "2h", "4h", 1))
			s.g.Commit("longer")
			s.revoke()
		}, day, []string{"a:request-changed", "a:request-changed"}},
		{"archive changed", func(s *story) {
			s.mergeA().grant().revoke()
			s.g.Write("archive/a.yaml", reqA+"# note\n")
			s.g.Commit("annotate")
		}, day, []string{"a:archive-changed", "a:state-identity", "a:state-trailer"}},
		{"state without a merge", func(s *story) {
			s.mergeA().grant().revoke()
			st := s.status(ledger.Active)
			st.MergeCommit = ""
			s.record("ghost", st, "grant")
			st = s.status(ledger.Expired)
			st.MergeCommit = ""
			s.record("ghost", st, "revoke")
		}, day, []string{"ghost:merge-missing"}},
		{"recorded merge is not in the history", func(s *story) {
			s.mergeA()
			s.merge = strings.Repeat("d", 40)
			s.grant().revoke()
		}, day, []string{"a:merge-rewritten"}},
		{"grant commit dropped", func(s *story) { s.mergeA().revoke() }, day, []string{"a:grant-missing"}},
		{"merged, never recorded", func(s *story) { s.mergeA() }, time.Now().Add(2 * time.Hour), []string{"a:record-missing"}},
		{"status that does not parse", func(s *story) {
			s.mergeA()
			s.g.Write("status/a.yaml", "state: [\n")
			s.g.CommitAs("mallory", "mallory@example.com", "break")
		}, t0, []string{"a:state-identity", "a:state-trailer", "a:state-unreadable"}},
		{"trailers that disagree with the file", func(s *story) {
			s.mergeA().grant()
			s.g.Write("status/a.yaml", string(s.status(ledger.Pending).Marshal()))
			s.g.Git("add", "-A")
			msg := ledger.Message(s.status(ledger.Active), "grant")
			s.g.Git("-c", "user.name=elevate", "-c", "user.email="+ledger.DefaultSignature.Email, "commit", "-q", "--author",
				"elevate <"+ledger.DefaultSignature.Email+">", "-m", msg)
		}, t0.Add(time.Hour), []string{"a:state-identity", "a:state-trailer"}},
		{"a message that imitates the log's separators", func(s *story) {
			s.mergeA().grant().revoke()
			s.g.Write("status/README", "x")
			s.g.CommitAs("mallory", "mallory@example.com", "x\x1e"+strings.Repeat("f", 40)+"\n\nElevate-State: v1\nRequest: a")
		}, day, []string{"README:state-identity", "README:state-unreadable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStory(t)
			tt.build(s)
			got := rules(s.read(tt.now, Filter{}))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("gaps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShallowClone(t *testing.T) {
	t.Parallel()
	s := newStory(t).mergeA().grant()
	dir := filepath.Join(t.TempDir(), "shallow")
	cmd := exec.Command("git", "clone", "-q", "--depth", "1", "file://"+s.g.Dir, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	repo, err := gitrepo.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	_, err = Read(context.Background(), Config{Repo: repo, Identities: identity, Now: t0}, Filter{})
	if err == nil || !strings.Contains(err.Error(), "fetch-depth: 0") {
		t.Errorf("err = %v, want a refusal that says how to fetch the whole history", err)
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	now := t0.Add(30 * 24 * time.Hour)
	granted := &Record{ID: "g", Requester: "alice", Account: "111122223333", AccountAsWritten: "prod", PermissionSet: "AdministratorAccess",
		Policy: "production", Granted: true, State: ledger.Expired, Start: "2026-08-14T09:00:00Z", End: "2026-08-14T11:00:00Z",
		GrantedAt: "2026-08-14T09:01:00Z", ClosedAt: "2026-08-14T13:00:00Z"}
	denied := &Record{ID: "d", Requester: "bob", Account: "444455556666", State: ledger.Denied, ClosedAt: "2026-08-01T00:00:00Z"}
	active := &Record{ID: "a", Requester: "bob", Account: "444455556666", State: ledger.Active, Granted: true, Start: "2026-08-20T00:00:00Z", End: "2026-08-20T01:00:00Z"}
	tests := []struct {
		name string
		f    Filter
		r    *Record
		want bool
	}{
		{"empty matches", Filter{}, denied, true},
		{"alias as written", Filter{Accounts: []string{"prod"}}, granted, true},
		{"alias from the policies", Filter{Accounts: []string{"prod-data"}, Aliases: map[string]string{"prod-data": "444455556666"}}, denied, true},
		{"id matches what named an alias", Filter{Accounts: []string{"111122223333"}}, granted, true},
		{"other account", Filter{Accounts: []string{"sandbox"}}, granted, false},
		{"requester ignores case", Filter{Requesters: []string{"ALICE"}}, granted, true},
		{"set ignores case", Filter{PermissionSets: []string{"administratoraccess"}}, granted, true},
		{"policy", Filter{Policies: []string{"sandbox"}}, granted, false},
		{"granted only", Filter{Granted: true}, denied, false},
		{"a late revoke counts until its closure", Filter{Since: "2026-08-14T12:00:00Z"}, granted, true},
		{"ended before since", Filter{Since: "2026-08-14T13:00:01Z"}, granted, false},
		{"until is exclusive", Filter{Until: "2026-08-14T09:00:00Z"}, granted, false},
		{"started before until", Filter{Until: "2026-08-14T09:00:01Z"}, granted, true},
		{"a denial counts at its closure", Filter{Since: "2026-08-01T00:00:00Z", Until: "2026-08-02T00:00:00Z"}, denied, true},
		{"an overdue active grant runs to now", Filter{Since: now.Add(-time.Hour).Format(time.RFC3339)}, active, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.f.Match(tt.r, now); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHostileValues checks that what a requester wrote cannot break out of
// a Markdown cell, run as a spreadsheet formula, or spill onto a new line.
func TestHostileValues(t *testing.T) {
	t.Parallel()
	rep := &Report{Head: strings.Repeat("a", 40), Requests: []*Record{{ID: "x", Requester: "alice", ApprovedBy: []string{},
		Reason: "=HYPERLINK(\"http://evil\") | <img src=x> [a](b)\n::error::x", State: ledger.Denied}}, Gaps: []Gap{}}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	row := strings.Split(b.String(), "\n")[6]
	if strings.Count(row, " | ") != 11 || !strings.Contains(row, `\<img`) || strings.Contains(row, "[a](b)") {
		t.Errorf("markdown row not contained: %s", row)
	}
	b.Reset()
	if err := WriteCSV(&b, rep); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if reason := rows[1][8]; !strings.HasPrefix(reason, "'=") {
		t.Errorf("formula not defused: %q", reason)
	}
	b.Reset()
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\n::error") {
		t.Errorf("table let a value start a new line:\n%s", b.String())
	}
}

func FuzzTrailers(f *testing.F) {
	f.Add(ledger.Message(&ledger.Status{Request: "a", State: ledger.Active, ApprovedBy: []string{"carol"}, Reason: "x: y"}, "grant"))
	f.Add("subject\n\nbody\n\nKey: value\nnot a trailer\n")
	f.Fuzz(func(t *testing.T, msg string) {
		for k, vs := range trailers(msg) {
			if k == "" || strings.ContainsAny(k, " \t\n") {
				t.Errorf("bad key %q", k)
			}
			for _, v := range vs {
				if strings.Contains(v, "\n") {
					t.Errorf("value %q spans lines", v)
				}
			}
		}
	})
}
