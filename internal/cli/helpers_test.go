package cli_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/cli"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

var committedAtRE = regexp.MustCompile(`("committedAt": )"[^"]*"`)

// normalize replaces what differs from run to run: commit ids (they hash
// wall-clock commit dates) become <commit NN>, numbered in order of first
// appearance, whether written in full or as 12 characters; commit dates
// become <date>.
func normalize(checkout *gittest.Repo, out string) string {
	ids := strings.Fields(checkout.Git("rev-list", "--all"))
	type hit struct {
		at   int
		full string
	}
	var hits []hit
	for _, id := range ids {
		if i := strings.Index(out, id[:12]); i >= 0 {
			hits = append(hits, hit{i, id})
		}
	}
	for i := range hits {
		for j := i + 1; j < len(hits); j++ {
			if hits[j].at < hits[i].at {
				hits[i], hits[j] = hits[j], hits[i]
			}
		}
	}
	for n, h := range hits {
		label := fmt.Sprintf("<commit %02d>", n+1)
		out = strings.ReplaceAll(out, h.full, label)
		out = strings.ReplaceAll(out, h.full[:12], label)
	}
	return committedAtRE.ReplaceAllString(out, `$1"<date>"`)
}

// run is world.RunIn with more of the environment under the test's control:
// extra variables, stdin, and whether stdin is a terminal. Stdout and stderr
// are returned apart.
type run struct {
	vars        map[string]string
	stdin       string
	interactive bool
}

func (r run) in(w *world.World, checkout *gittest.Repo, now time.Time, args ...string) (int, string, string) {
	w.T.Helper()
	vars := map[string]string{
		"GITHUB_TOKEN":      world.Token,
		"GITHUB_REPOSITORY": githubfake.DefaultOwner + "/" + githubfake.DefaultRepo,
		"GITHUB_API_URL":    w.GitHub.URL() + "/api/v3",
	}
	for _, kv := range gittest.Env() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	for k, v := range r.vars {
		vars[k] = v
	}
	var stdout, stderr bytes.Buffer
	env := cli.Env{
		Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(r.stdin),
		Getenv:      func(k string) string { return vars[k] },
		Dir:         checkout.Dir,
		Now:         func() time.Time { return now },
		AWSConfig:   func(context.Context) (aws.Config, error) { return w.AWS, nil },
		Interactive: r.interactive,
	}
	code := cli.Run(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

// at parses an RFC 3339 time for test tables.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// requestFile writes a request the way a person would.
func requestFile(requester, account, set, duration, reason, ticket, start string) string {
	var b strings.Builder
	b.WriteString("# yaml-language-server: $schema=../schema/request.schema.json\n")
	fmt.Fprintf(&b, "requester: %s\naccount: %s\npermissionSet: %s\nduration: %s\nreason: %s\n", requester, account, set, duration, reason)
	if ticket != "" {
		fmt.Fprintf(&b, "ticket: %s\n", ticket)
	}
	if start != "" {
		fmt.Fprintf(&b, "start: %q\n", start)
	}
	return b.String()
}

// reconcileAt runs the real reconcile at each time, failing the test on a
// non-zero exit.
func reconcileAt(t *testing.T, w *world.World, times ...string) {
	t.Helper()
	for _, s := range times {
		if code, out, _ := w.Run(at(t, s), "reconcile"); code != 0 {
			t.Fatalf("reconcile at %s: exit %d\n%s", s, code, out)
		}
	}
}

// quarter builds the history the golden files and the README show: a
// quarter of grants, one denial, one late revoke, all through the real
// reconcile against moto and the GitHub test server.
func quarter(t *testing.T) *world.World {
	t.Helper()
	w := world.New(t)
	prs := []struct {
		id, body  string
		author    string
		approvers []string
	}{
		{"alice-prod-rollback", requestFile("alice", "prod", "AdministratorAccess", "2h", "Roll back the failed deploy in INC-1234", "INC-1234", "2026-08-14T09:00:00Z"), "alice", []string{"carol", "dave"}},
		{"frank-sandbox-vpc", requestFile("frank", "sandbox", "AdministratorAccess", "8h", "Try the new VPC lattice set-up before the design review", "", "2026-08-20T08:00:00Z"), "frank", []string{"grace"}},
		{"bob-orders-migration", requestFile("bob", "\"444455556666\"", "PowerUserAccess", "1h30m", "Run the approved schema migration for the orders table", "INC-1301", "2026-09-02T13:00:00Z"), "bob", []string{"carol", "erin"}},
		{"bob-prod-admin", requestFile("bob", "prod", "AdministratorAccess", "4h", "Rotate the KMS keys of the payments service", "INC-1399", "2026-09-29T22:00:00Z"), "bob", []string{"dave"}},
		{"alice-prod-oncall", requestFile("alice", "prod", "AdministratorAccess", "4h", "On-call cover for the database failover drill", "INC-1410", "2026-09-30T22:00:00Z"), "alice", []string{"carol", "erin"}},
		{"frank-sandbox-cleanup", requestFile("frank", "sandbox", "ReadOnlyAccess", "1d", "Find the resources the VPC experiment left behind", "", "2026-10-12T09:00:00Z"), "frank", []string{"carol"}},
	}
	// Each PR is merged the day before its start (a start may be at most 30
	// days after its merge), recorded as pending, granted and revoked.
	runs := map[string][]string{
		"alice-prod-rollback":   {"2026-08-14T09:01:00Z", "2026-08-14T11:05:00Z"},
		"frank-sandbox-vpc":     {"2026-08-20T08:01:00Z", "2026-08-20T16:03:00Z"},
		"bob-orders-migration":  {"2026-09-02T13:01:00Z", "2026-09-02T14:35:00Z"},
		"alice-prod-oncall":     {"2026-09-30T22:01:00Z", "2026-10-01T03:10:00Z"},
		"frank-sandbox-cleanup": {"2026-10-12T09:02:00Z", "2026-10-13T09:04:00Z"},
	}
	for _, pr := range prs {
		start := startOf(t, pr.body).Add(-24 * time.Hour)
		w.GitHub.SetClock(start)
		w.Merge(world.PR{Files: map[string]string{"requests/" + pr.id + ".yaml": pr.body}, Author: pr.author, Approvers: pr.approvers})
		reconcileAt(t, w, append([]string{start.Add(time.Minute).Format(time.RFC3339)}, runs[pr.id]...)...)
	}
	return w
}

// startOf reads the start: line of a request file.
func startOf(t *testing.T, body string) time.Time {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "start: "); ok {
			ts, err := time.Parse(time.RFC3339, strings.Trim(v, "\""))
			if err != nil {
				t.Fatal(err)
			}
			return ts
		}
	}
	t.Fatal("request has no start")
	return time.Time{}
}
