package action_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elevate-dev/elevate/internal/action"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

// token is the GitHub token the test server requires.
const token = "ghs_action-test-token-0123456789"

// runner plays a GitHub Actions runner: a real checkout with a base and a
// head commit, a GitHub test server, and the environment a runner gives a
// step (INPUT_*, GITHUB_EVENT_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY...).
type runner struct {
	t      *testing.T
	repo   *gittest.Repo
	gh     *githubfake.Server
	base   string
	head   string
	inputs map[string]string
	env    map[string]string
	// command, when set, stands in for the CLI in plan and reconcile.
	command func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error
}

// step is what one run of the Action left behind.
type step struct {
	res     *action.Result
	err     error
	stdout  string
	output  string
	summary string
}

const sandboxRequest = `# yaml-language-server: $schema=../schema/request.schema.json
requester: alice
account: sandbox
permissionSet: ReadOnlyAccess
duration: 2h
reason: Look at the sandbox billing alarms
`

// newRunner makes main with the sample policies and CODEOWNERS, and a PR
// branch checked out on top of it.
func newRunner(t *testing.T) *runner {
	t.Helper()
	r := &runner{t: t, repo: gittest.New(t), gh: githubfake.New(t)}
	r.gh.SetToken(token)
	r.repo.CopyDir(filepath.Join("..", "..", "policies"), "policies")
	r.repo.Write(".github/CODEOWNERS", "* @acme/platform\n/requests/ @acme/security\n")
	r.repo.Write("README.md", "access\n")
	r.base = r.repo.Commit("main")
	r.repo.Git("checkout", "-q", "-b", "request")
	r.inputs = map[string]string{"command": "validate", "token": token, "comment": "true", "branch": "main", "args": ""}
	r.env = map[string]string{
		"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": githubfake.DefaultOwner + "/" + githubfake.DefaultRepo,
		"GITHUB_REPOSITORY_OWNER": githubfake.DefaultOwner, "GITHUB_API_URL": r.gh.URL(), "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_WORKSPACE": r.repo.Dir, "GITHUB_RUN_ID": "4242", "GITHUB_RUN_NUMBER": "7", "GITHUB_RUN_ATTEMPT": "1",
		"GITHUB_WORKFLOW": "validate", "GITHUB_JOB": "validate", "GITHUB_ACTOR": "alice", "RUNNER_OS": "Linux", "RUNNER_TEMP": t.TempDir(),
	}
	return r
}

// commit commits the working tree on the PR branch and makes it the head.
func (r *runner) commit(msg string) string {
	r.t.Helper()
	r.head = r.repo.Commit(msg)
	return r.head
}

// pullRequest registers PR number by author on the server and writes the
// event payload file (a vendored real payload with its ids replaced).
func (r *runner) pullRequest(file string, number int, author string) {
	r.t.Helper()
	r.gh.AddPR(githubfake.PR{Number: number, Author: author, HeadSHA: r.head, BaseSHA: r.base})
	r.event(file, func(ev map[string]any) {
		pr := ev["pull_request"].(map[string]any)
		pr["number"] = number
		pr["user"].(map[string]any)["login"] = author
		pr["base"].(map[string]any)["sha"] = r.base
		pr["head"].(map[string]any)["sha"] = r.head
	})
	r.env["GITHUB_EVENT_NAME"] = strings.SplitN(file, ".", 2)[0]
	r.env["GITHUB_REF"] = fmt.Sprintf("refs/pull/%d/merge", number)
	r.env["GITHUB_SHA"] = r.head
	r.env["GITHUB_HEAD_REF"], r.env["GITHUB_BASE_REF"] = "request", "main"
}

// event writes testdata/events/file, changed by edit, as GITHUB_EVENT_PATH.
func (r *runner) event(file string, edit func(map[string]any)) {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "events", file))
	if err != nil {
		r.t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		r.t.Fatal(err)
	}
	if edit != nil {
		edit(ev)
	}
	out, err := json.Marshal(ev)
	if err != nil {
		r.t.Fatal(err)
	}
	path := filepath.Join(r.t.TempDir(), "event.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.env["GITHUB_EVENT_PATH"] = path
}

// run runs the Action once, as one step: fresh output and summary files,
// inputs as INPUT_<NAME> (upper case, spaces as _), as a runner sets them.
func (r *runner) run() step {
	r.t.Helper()
	dir := r.t.TempDir()
	env := map[string]string{}
	for k, v := range r.env {
		env[k] = v
	}
	env["GITHUB_OUTPUT"] = filepath.Join(dir, "output")
	env["GITHUB_STEP_SUMMARY"] = filepath.Join(dir, "summary")
	env["GITHUB_ENV"] = filepath.Join(dir, "env")
	for _, f := range []string{"output", "summary", "env"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			r.t.Fatal(err)
		}
	}
	for k, v := range r.inputs {
		env["INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))] = v
	}
	var stdout bytes.Buffer
	opts := action.Options{
		Getenv: func(k string) string { return env[k] },
		Stdout: &stdout,
		Dir:    r.repo.Dir,
	}
	opts.Command = r.command
	res, err := action.Run(context.Background(), opts)
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			r.t.Fatal(err)
		}
		return string(data)
	}
	return step{res: res, err: err, stdout: stdout.String(), output: read("output"), summary: read("summary")}
}

// outputs parses GITHUB_OUTPUT as the runner does (name<<delimiter blocks).
func outputs(t *testing.T, file string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(file, "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" {
			continue
		}
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			t.Fatalf("output line %q is not name<<delimiter", lines[i])
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("output %s: no closing delimiter", name)
		}
		if _, dup := out[name]; dup {
			t.Fatalf("output %s set twice", name)
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// commands returns the workflow commands on stdout, and fails the test for
// any line that is neither a command elevate issues nor its own log line.
func commands(t *testing.T, stdout string) []string {
	t.Helper()
	var cmds []string
	for _, line := range strings.Split(strings.TrimRight(stdout, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "::add-mask::"), strings.HasPrefix(line, "::error "), strings.HasPrefix(line, "::warning"):
			cmds = append(cmds, line)
		case strings.HasPrefix(line, "elevate: "):
		default:
			t.Errorf("unexpected stdout line %q", line)
		}
	}
	return cmds
}
