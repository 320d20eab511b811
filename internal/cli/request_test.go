package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elevate-dev/elevate/internal/request"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

const requestNow = "2026-12-03T09:00:00Z"

func readFile(t *testing.T, c *gittest.Repo, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir, filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(c *gittest.Repo, path string) bool {
	_, err := os.Lstat(filepath.Join(c.Dir, filepath.FromSlash(path)))
	return err == nil
}

func TestRequest(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	now := at(t, requestNow)
	alice := run{vars: map[string]string{"GITHUB_ACTOR": "alice"}}
	prodAdmin := []string{"request", "--account", "prod", "--permission-set", "AdministratorAccess", "--duration", "2h",
		"--reason", "Roll back the failed deploy in INC-1234", "--ticket", "INC-1234"}

	t.Run("flags", func(t *testing.T) {
		c := gittest.Clone(t, w.Remote)
		code, out, errOut := alice.in(w, c, now, prodAdmin...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "request.stdout.golden", out)
		golden(t, "request.file.golden", readFile(t, c, "requests/alice-prod-20261203-0900.yaml"))
		if code, out, _ := alice.in(w, c, now, "validate"); code != 0 {
			t.Errorf("the written file does not validate:\n%s", out)
		}
		// The same again a minute later gets its own id.
		code, out, _ = alice.in(w, c, now, prodAdmin...)
		if code != 0 || !strings.Contains(out, "wrote requests/alice-prod-20261203-0900-2.yaml") {
			t.Errorf("exit %d: %s", code, out)
		}
	})

	t.Run("interactive", func(t *testing.T) {
		c := gittest.Clone(t, w.Remote)
		answers := strings.Join([]string{"sandbox", "AdministratorAccess", "2d", "4h", "short", "Try the new VPC set-up before the review", "", ""}, "\n")
		r := run{vars: map[string]string{"GITHUB_ACTOR": "frank"}, stdin: answers, interactive: true}
		code, out, errOut := r.in(w, c, now, "new")
		if code != 0 {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		golden(t, "request.prompts.golden", errOut)
		file := readFile(t, c, "requests/frank-sandbox-20261203-0900.yaml")
		for _, want := range []string{"requester: frank\n", "account: sandbox\n", "duration: 4h\n", "reason: Try the new VPC set-up before the review\n"} {
			if !strings.Contains(file, want) {
				t.Errorf("file lacks %q:\n%s", want, file)
			}
		}
	})

	tests := []struct {
		name     string
		r        run
		args     []string
		wantCode int
		want     []string
	}{
		{"policy refuses a long duration", alice, []string{"request", "--account", "prod", "--permission-set", "AdministratorAccess", "--duration", "5h",
			"--reason", "Roll back the failed deploy in INC-1234", "--ticket", "INC-1234"}, 1,
			[]string{`--duration: duration 5h is longer than policy production allows (maxDuration 4h); ask for 4h or less [duration-max]`}},
		{"not eligible", run{vars: map[string]string{"GITHUB_ACTOR": "frank"}}, []string{"request", "--account", "prod", "--permission-set", "PowerUserAccess",
			"--duration", "1h", "--reason", "Look at the production dashboards", "--ticket", "INC-9"}, 1,
			[]string{`--requester: requester "frank" is not eligible under policy production; policy production allows users alice, bob; teams acme/sre [eligible]`}},
		{"permission set not covered", run{vars: map[string]string{"GITHUB_ACTOR": "frank"}}, []string{"request", "--account", "prod", "--permission-set", "ReadOnlyAccess",
			"--duration", "1h", "--reason", "Look at the production dashboards"}, 1,
			[]string{`--permission-set: no policy covers permission set "ReadOnlyAccess" on account 111122223333; use one of: AdministratorAccess, PowerUserAccess [permission-set-not-covered]`}},
		{"ticket required", alice, []string{"request", "--account", "prod", "--permission-set", "PowerUserAccess", "--duration", "1h",
			"--reason", "Deploy the payments hotfix by hand"}, 1, []string{"--ticket: policy production requires a ticket matching ^INC-[0-9]+$"}},
		{"unknown account", alice, []string{"request", "--account", "staging", "--permission-set", "ReadOnlyAccess", "--duration", "1h",
			"--reason", "Look at the staging dashboards"}, 1, []string{`--account: no policy covers account "staging"; use one of: prod (111122223333)`}},
		{"bad start", alice, []string{"request", "--account", "sandbox", "--permission-set", "ReadOnlyAccess", "--duration", "1h",
			"--reason", "Look at the sandbox dashboards", "--start", "2026-12-04 09:00"}, 1, []string{"--start:"}},
		{"missing flags", alice, []string{"request", "--account", "prod"}, 2, []string{"missing --permission-set, --duration, --reason"}},
		{"no requester", run{vars: map[string]string{"GITHUB_TOKEN": ""}}, []string{"request", "--account", "prod", "--permission-set", "AdministratorAccess",
			"--duration", "1h", "--reason", "Roll back the failed deploy", "--ticket", "INC-1"}, 2, []string{"missing --requester"}},
		{"id taken", alice, []string{"request", "--id", "taken", "--account", "sandbox", "--permission-set", "ReadOnlyAccess", "--duration", "1h",
			"--reason", "Look at the sandbox dashboards"}, 1, []string{`request id "taken" is taken (archive/taken.yaml exists)`}},
		{"bad id", alice, []string{"request", "--id", "Not_An_ID", "--account", "sandbox", "--permission-set", "ReadOnlyAccess", "--duration", "1h",
			"--reason", "Look at the sandbox dashboards"}, 1, []string{"[request-id]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gittest.Clone(t, w.Remote)
			c.Git("config", "github.user", "")
			c.Write("archive/taken.yaml", "x")
			code, out, errOut := tt.r.in(w, c, now, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.wantCode, out, errOut)
			}
			for _, s := range tt.want {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if entries, _ := os.ReadDir(filepath.Join(c.Dir, "requests")); len(entries) != 0 {
				t.Errorf("a refused request wrote %d files", len(entries))
			}
		})
	}

	t.Run("values YAML would misread are quoted", func(t *testing.T) {
		c := gittest.Clone(t, w.Remote)
		reason := `- fix: the #1 outage [now] & "quotes"`
		code, out, errOut := alice.in(w, c, now, "request", "--dry-run", "--account", "777788889999", "--permission-set", "ReadOnlyAccess",
			"--duration", "1h", "--reason", reason, "--start", "2026-12-04T09:00:00+01:00")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		r, fs := request.Parse("requests/x.yaml", []byte(out))
		if r == nil {
			t.Fatalf("the file does not parse: %v\n%s", fs, out)
		}
		if r.Reason != reason || r.Account != "777788889999" || r.Start.Hour() != 8 {
			t.Errorf("read back %+v from:\n%s", r, out)
		}
		if entries, _ := os.ReadDir(filepath.Join(c.Dir, "requests")); len(entries) != 0 {
			t.Error("--dry-run wrote a file")
		}
	})

	t.Run("open-pr", func(t *testing.T) {
		c := gittest.Clone(t, w.Remote)
		w.GitHub.SetRef("heads/main", c.Git("rev-parse", "HEAD"))
		w.GitHub.SetTokenUser("alice")
		defer w.GitHub.SetTokenUser("github-actions[bot]")
		noActor := run{}
		code, out, errOut := noActor.in(w, c, now, append(prodAdmin, "--dry-run")...)
		if code != 0 {
			t.Fatalf("dry run: exit %d: %s", code, errOut)
		}
		want := out
		code, out, errOut = noActor.in(w, c, now, append(prodAdmin, "--open-pr")...)
		if code != 0 {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		golden(t, "request.open-pr.golden", strings.ReplaceAll(out, w.GitHub.URL(), "http://github.test"))
		got, ok := w.GitHub.File("heads/elevate/alice-prod-20261203-0900", "requests/alice-prod-20261203-0900.yaml")
		if !ok || string(got) != want {
			t.Errorf("branch file = %q, want %q", got, want)
		}
		pr, ok := w.GitHub.PullRequest(1)
		if !ok || pr.Author != "alice" || pr.HeadRef != "elevate/alice-prod-20261203-0900" || pr.BaseRef != "main" || len(pr.Files) != 1 || pr.Files[0].Status != "added" {
			t.Errorf("pull request = %+v", pr)
		}
		if !strings.Contains(pr.Body, "2 approvals needed from users carol, dave, erin; teams acme/security") {
			t.Errorf("PR body does not say who approves:\n%s", pr.Body)
		}
		if exists(c, "requests/alice-prod-20261203-0900.yaml") {
			t.Error("--open-pr left the file in the checkout (a later pull of main would conflict)")
		}

		w.GitHub.SetTokenUser("bob")
		code, _, errOut = alice.in(w, c, now, append(prodAdmin, "--open-pr", "--id", "alice-other")...)
		if code != 3 || !strings.Contains(errOut, "GITHUB_TOKEN belongs to bob but the requester is alice") {
			t.Errorf("someone else's token: exit %d: %s", code, errOut)
		}
		if _, ok := w.GitHub.Ref("heads/elevate/alice-other"); ok {
			t.Error("a branch was created with someone else's token")
		}
		code, _, errOut = run{vars: map[string]string{"GITHUB_ACTOR": "alice", "GITHUB_TOKEN": ""}}.in(w, c, now, append(prodAdmin, "--open-pr", "--id", "alice-third")...)
		if code != 3 || !strings.Contains(errOut, "--open-pr needs GITHUB_TOKEN") {
			t.Errorf("no token: exit %d: %s", code, errOut)
		}
	})
}
