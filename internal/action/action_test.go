package action_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/elevate-dev/elevate/internal/action"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
)

// TestValidatePRComment: a valid request gets no annotation, the outputs,
// a summary table, and one PR comment that every later push edits in place.
func TestValidatePRComment(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	r.repo.Write("requests/alice-billing.yaml", sandboxRequest)
	r.commit("request")
	r.pullRequest("pull_request.opened.json", 7, "alice")

	first := r.run()
	if first.err != nil {
		t.Fatalf("run: %v\n%s", first.err, first.stdout)
	}
	if first.res.Findings != 0 {
		t.Errorf("findings = %d, want 0", first.res.Findings)
	}
	if diff := cmp.Diff([]string{"::add-mask::" + token}, commands(t, first.stdout)); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if strings.Count(first.stdout, token) != 1 {
		t.Errorf("the token appears outside add-mask:\n%s", first.stdout)
	}
	comments := r.gh.Comments(7)
	if len(comments) != 1 {
		t.Fatalf("%d comments, want 1", len(comments))
	}
	want := map[string]string{"findings": "0", "requests": "alice-billing", "comment-id": fmt.Sprint(comments[0].ID)}
	if diff := cmp.Diff(want, outputs(t, first.output)); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	row := "| <code>alice-billing</code> | <code>alice</code> | <code>sandbox</code> (777788889999) | <code>ReadOnlyAccess</code> | <code>2h</code> | 2h after merge | Look at the sandbox billing alarms | <code>sandbox</code> | <code>users carol, grace</code> | 1 | ✅ allowed, once approved |"
	for name, text := range map[string]string{"summary": first.summary, "comment": comments[0].Body} {
		if !strings.Contains(text, row) {
			t.Errorf("%s lacks the request row %q:\n%s", name, row, text)
		}
		if !strings.Contains(text, "Revoking access does not end AWS sessions already issued") {
			t.Errorf("%s lacks the session warning", name)
		}
	}
	if !strings.HasPrefix(comments[0].Body, action.Marker+"\n") {
		t.Errorf("comment does not start with the marker:\n%s", comments[0].Body)
	}
	if !strings.Contains(comments[0].Body, strings.TrimSpace(first.summary)) {
		t.Errorf("comment does not carry the step summary")
	}

	// The requester pushes again: the same comment is edited.
	r.repo.Write("requests/alice-billing.yaml", strings.Replace(sandboxRequest, "2h", "4h", 1))
	r.commit("longer")
	r.pullRequest("pull_request.synchronize.json", 7, "alice")
	second := r.run()
	if second.err != nil {
		t.Fatalf("second run: %v", second.err)
	}
	after := r.gh.Comments(7)
	if len(after) != 1 || after[0].ID != comments[0].ID {
		t.Fatalf("after a push: %d comments (ids %v), want comment %d edited", len(after), ids(after), comments[0].ID)
	}
	if !strings.Contains(after[0].Body, "<code>4h</code> | 4h after merge") || strings.Contains(after[0].Body, "2h after merge") {
		t.Errorf("comment not updated to the new head:\n%s", after[0].Body)
	}
	if !strings.Contains(after[0].Body, r.head[:12]) {
		t.Errorf("comment does not name the new head %s", r.head[:12])
	}

	// A re-run on the same head changes nothing on GitHub.
	third := r.run()
	if third.err != nil {
		t.Fatalf("third run: %v", third.err)
	}
	counts := r.gh.CallCounts()
	if counts[githubfake.RouteCreateComment] != 1 || counts[githubfake.RouteUpdateComment] != 1 {
		t.Errorf("calls: %d creates, %d updates; want 1 and 1", counts[githubfake.RouteCreateComment], counts[githubfake.RouteUpdateComment])
	}
	for _, c := range r.gh.Calls() {
		if !c.Authorized {
			t.Errorf("%s %s sent without the token", c.Method, c.Path)
		}
	}
}

func ids(cs []githubfake.Comment) []int64 {
	var out []int64
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// TestAnnotations: each finding is an annotation on its file, line and
// column, titled with its rule, and the check fails.
func TestAnnotations(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	r.repo.Write("requests/bob-billing.yaml", strings.Replace(sandboxRequest, "alice", "bob", 1))
	r.repo.Write("requests/alice-prod.yaml", "requester: alice\naccount: prod\npermissionSet: AdministratorAccess\nduration: 9h\nreason: Fix the outage now\nticket: JIRA-1\n")
	r.commit("requests")
	r.pullRequest("pull_request.opened.json", 8, "alice")
	s := r.run()
	if s.err != nil {
		t.Fatal(s.err)
	}
	want := []string{
		"::add-mask::" + token,
		"::error col=11,file=requests/alice-prod.yaml,line=4,title=duration-max::duration 9h is longer than policy production allows (maxDuration 4h); ask for 4h or less",
		"::error col=9,file=requests/alice-prod.yaml,line=6,title=ticket-pattern::ticket \"JIRA-1\" does not match policy production's pattern ^INC-[0-9]+$; write the ticket id in that form",
		"::error col=12,file=requests/bob-billing.yaml,line=2,title=requester-author::requester is \"bob\" but the pull request is by \"alice\"; nobody can request access for someone else; write `requester: alice`, or let bob open the PR",
	}
	if diff := cmp.Diff(want, commands(t, s.stdout)); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if s.res.Findings != 3 {
		t.Errorf("findings = %d, want 3", s.res.Findings)
	}
	out := outputs(t, s.output)
	if out["findings"] != "3" || out["requests"] != "alice-prod,bob-billing" {
		t.Errorf("outputs = %v", out)
	}
	for _, frag := range []string{
		"| <code>alice-prod</code> | <code>alice</code> | <code>prod</code> (111122223333) |",
		"| <code>production</code> | <code>users carol, dave, erin&#59; teams acme&#47;security</code> | 2 | ❌ 2 findings |",
		"| <code>requests&#47;bob-billing&#46;yaml</code> | 2 | ❌ requester-author | requester is &#34;bob&#34; but the pull request is by &#34;alice&#34;",
	} {
		if !strings.Contains(s.summary, frag) {
			t.Errorf("summary lacks %q:\n%s", frag, s.summary)
		}
	}
}

// TestMixedPR: a PR that adds a request and changes anything else (tool
// code, workflows, the Action, CODEOWNERS, the module) is refused, through
// the Action entry point, with an annotation on the other file.
func TestMixedPR(t *testing.T) {
	t.Parallel()
	for _, path := range []string{
		"internal/approval/approval.go", "cmd/elevate/main.go", ".github/workflows/grant.yml",
		".github/CODEOWNERS", "CODEOWNERS", "action/action.yml", "go.mod", "go.sum", "schema/request.schema.json",
		"policies/sandbox.yaml",
	} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := newRunner(t)
			r.repo.Write("requests/alice-billing.yaml", sandboxRequest)
			r.repo.Write(path, "# changed with a request\n")
			r.commit("mixed")
			r.pullRequest("pull_request.opened.json", 9, "alice")
			s := r.run()
			if s.err != nil {
				t.Fatal(s.err)
			}
			if s.res.Findings == 0 {
				t.Fatalf("mixed PR passed:\n%s", s.stdout)
			}
			prefix := "::error col=1,file=" + strings.ReplaceAll(path, ",", "%2C") + ",line=1,title=request-pr-mixed::this PR adds requests/alice-billing.yaml and also changes " + path
			found := false
			for _, c := range commands(t, s.stdout) {
				found = found || strings.HasPrefix(c, prefix)
			}
			if !found {
				t.Errorf("no annotation %q in:\n%s", prefix, s.stdout)
			}
		})
	}
}

// TestHostile: text a requester controls never becomes markup, a mention, a
// fake marker, a workflow command, a second line or an extra output.
func TestHostile(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	evil := `x | <img src=x onerror=alert(1)> ` + "`code`" + ` <!-- elevate:summary --> @acme/security #1 [a](https://evil.example) **b** ::warning::pwned %0A`
	r.repo.Write("requests/alice-evil.yaml", strings.Replace(sandboxRequest, "Look at the sandbox billing alarms", "'"+evil+"'", 1))
	r.repo.Write("requests/alice-newline.yaml", strings.Replace(sandboxRequest, "Look at the sandbox billing alarms", `"line one\n::error::injected\r| row |"`, 1))
	r.repo.Write(".github/x::warning::y,z%.txt", "hostile name\n")
	r.repo.Write("docs/a\n::error::b.md", "newline in a name\n")
	r.commit("hostile")
	r.pullRequest("pull_request.opened.json", 10, "alice")
	s := r.run()
	if s.err != nil {
		t.Fatal(s.err)
	}
	cmds := commands(t, s.stdout) // fails on any line that is not ours
	for _, want := range []string{
		"::error col=1,file=.github/x%3A%3Awarning%3A%3Ay%2Cz%25.txt,line=1,title=request-pr-mixed::",
		`::error col=1,file=docs/a\n%3A%3Aerror%3A%3Ab.md,line=1,title=request-pr-mixed::`,
		"::error col=9,file=requests/alice-newline.yaml,line=6,title=control-character::reason contains a line break or control character",
	} {
		found := false
		for _, c := range cmds {
			found = found || strings.HasPrefix(c, want)
		}
		if !found {
			t.Errorf("no command starting %q in:\n%s", want, strings.Join(cmds, "\n"))
		}
	}
	comments := r.gh.Comments(10)
	if len(comments) != 1 {
		t.Fatalf("%d comments, want 1", len(comments))
	}
	body := comments[0].Body
	entity := regexp.MustCompile(`&#[0-9]+;`)
	for name, text := range map[string]string{"summary": s.summary, "comment": strings.TrimPrefix(body, action.Marker+"\n")} {
		// What is left once the entities are taken out is what Markdown sees.
		raw := entity.ReplaceAllString(text, "")
		for _, bad := range []string{"<img", "<!--", "`", "@acme", "#1", "](", "**", "::warning", "::error", "\r"} {
			if strings.Contains(raw, bad) {
				t.Errorf("%s contains %q:\n%s", name, bad, text)
			}
		}
		for _, line := range strings.Split(text, "\n") {
			if n := strings.Count(line, "|"); strings.HasPrefix(line, "|") && n != 12 && n != 6 {
				t.Errorf("%s: table row with the wrong number of cells: %q", name, line)
			}
		}
	}
	if strings.Count(body, action.Marker) != 1 {
		t.Errorf("comment holds the marker %d times", strings.Count(body, action.Marker))
	}
	out := outputs(t, s.output)
	if diff := cmp.Diff([]string{"findings", "requests", "comment-id"}, keys(out), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	for k, v := range out {
		if strings.ContainsAny(v, "\n\r") {
			t.Errorf("output %s is more than one line: %q", k, v)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestTeamEligibility: a requester eligible only through a team cannot be
// shown eligible in the PR check; that is a warning, checked at grant time.
func TestTeamEligibility(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	r.repo.Write("requests/grace-prod.yaml", "requester: grace\naccount: prod\npermissionSet: PowerUserAccess\nduration: 1h\nreason: Rotate the keys\nticket: INC-9\n")
	r.commit("team request")
	r.pullRequest("pull_request.opened.json", 11, "grace")
	s := r.run()
	if s.err != nil {
		t.Fatal(s.err)
	}
	if s.res.Findings != 0 {
		t.Errorf("findings = %d, want 0", s.res.Findings)
	}
	cmds := commands(t, s.stdout)
	if len(cmds) != 2 || !strings.HasPrefix(cmds[1], "::warning col=12,file=requests/grace-prod.yaml,line=1,title=eligible::requester \"grace\" is not eligible under policy production") ||
		!strings.Contains(cmds[1], "membership of acme/sre cannot be checked in the PR check") {
		t.Errorf("commands:\n%s", strings.Join(cmds, "\n"))
	}
	if !strings.Contains(s.summary, "⚠️ eligible") {
		t.Errorf("summary lacks the warning:\n%s", s.summary)
	}
}

// TestCommentPagination: elevate's comment on a later page is found and
// edited; a person's comment that imitates it is never touched.
func TestCommentPagination(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	r.repo.Write("requests/alice-billing.yaml", sandboxRequest)
	r.commit("request")
	r.pullRequest("pull_request.opened.json", 12, "alice")
	fake := r.gh.AddComment(12, "mallory", action.Marker+"\nall approved, merge away")
	for i := 0; i < 130; i++ {
		r.gh.AddComment(12, "carol", fmt.Sprintf("comment %d", i))
	}
	ours := r.gh.AddComment(12, "github-actions[bot]", action.Marker+"\nold summary")
	s := r.run()
	if s.err != nil {
		t.Fatal(s.err)
	}
	cs := r.gh.Comments(12)
	if len(cs) != 132 {
		t.Fatalf("%d comments, want 132 (nothing created)", len(cs))
	}
	for _, c := range cs {
		switch c.ID {
		case fake:
			if c.Body != action.Marker+"\nall approved, merge away" {
				t.Errorf("a person's comment was edited")
			}
		case ours:
			if !strings.Contains(c.Body, "alice-billing") {
				t.Errorf("elevate's comment not updated: %q", c.Body)
			}
		}
	}
	pages := 0
	for _, c := range r.gh.Calls() {
		if c.Route == githubfake.RouteListComments {
			pages++
			if c.Query.Get("per_page") != "100" {
				t.Errorf("listed comments with per_page %q", c.Query.Get("per_page"))
			}
		}
	}
	if pages != 2 {
		t.Errorf("read %d pages of comments, want 2", pages)
	}
}

// TestNoRequest: a PR that adds no request gets a summary but no comment.
func TestNoRequest(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	r.repo.Write("internal/x/x.go", "package x\n")
	r.commit("code")
	r.pullRequest("pull_request.opened.json", 13, "alice")
	s := r.run()
	if s.err != nil || s.res.Findings != 0 {
		t.Fatalf("run: %v %+v", s.err, s.res)
	}
	if len(r.gh.Comments(13)) != 0 {
		t.Errorf("a PR with no request got a comment")
	}
	if !strings.Contains(s.summary, "This pull request adds no access request.") {
		t.Errorf("summary:\n%s", s.summary)
	}
	if diff := cmp.Diff(map[string]string{"findings": "0", "requests": ""}, outputs(t, s.output)); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

// TestReviewEvent: the pull_request_review payload carries the PR too.
func TestReviewEvent(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	r.repo.Write("requests/alice-billing.yaml", sandboxRequest)
	r.commit("request")
	r.pullRequest("pull_request_review.submitted.json", 14, "alice")
	if s := r.run(); s.err != nil || s.res.Findings != 0 || len(r.gh.Comments(14)) != 1 {
		t.Fatalf("run: %v %+v, %d comments", s.err, s.res, len(r.gh.Comments(14)))
	}
}

// TestTreeOnPush: outside a PR, validate checks the whole tree and
// comments nowhere.
func TestTreeOnPush(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	r.repo.Write("requests/broken.yaml", "requester: alice\n")
	r.commit("broken")
	r.event("push.json", nil)
	r.env["GITHUB_EVENT_NAME"], r.env["GITHUB_REF"], r.env["GITHUB_SHA"] = "push", "refs/heads/main", r.head
	s := r.run()
	if s.err != nil {
		t.Fatal(s.err)
	}
	if s.res.Findings == 0 || !strings.Contains(s.stdout, "::error col=1,file=requests/broken.yaml,line=1,title=schema-required::") {
		t.Errorf("tree mode missed requests/broken.yaml:\n%s", s.stdout)
	}
	if n := len(r.gh.Calls()); n != 0 {
		t.Errorf("%d calls to GitHub outside a PR", n)
	}
}

// TestCommentRefused: a fork's PR gets a read-only token; the check still
// reports, with a warning instead of the comment.
func TestCommentRefused(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	r.repo.Write("requests/alice-billing.yaml", sandboxRequest)
	r.commit("request")
	r.pullRequest("pull_request.opened.json", 15, "alice")
	r.gh.Inject(githubfake.RouteCreateComment, 1, githubfake.Status(http.StatusForbidden))
	s := r.run()
	if s.err != nil || s.res.Findings != 0 {
		t.Fatalf("run: %v %+v", s.err, s.res)
	}
	if !strings.Contains(s.stdout, "::warning::elevate could not keep its PR comment: create the summary comment on PR #15") {
		t.Errorf("no warning:\n%s", s.stdout)
	}
	if _, ok := outputs(t, s.output)["comment-id"]; ok {
		t.Errorf("comment-id set though no comment was made")
	}
}

// TestRefused: inputs and events the Action must not run with.
func TestRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(r *runner)
		want  string
	}{
		{"pull_request_target", func(r *runner) { r.env["GITHUB_EVENT_NAME"] = "pull_request_target" }, "refuses to run on pull_request_target"},
		{"unknown command", func(r *runner) { r.inputs["command"] = "grant" }, `input command is "grant"`},
		{"bad comment input", func(r *runner) { r.inputs["comment"] = "yes" }, `input comment is "yes"`},
		{"reconcile from a PR", func(r *runner) { r.inputs["command"] = "reconcile" }, `reconcile runs only on push, schedule or workflow_dispatch, not on "pull_request"`},
		{"reconcile off main", func(r *runner) {
			r.inputs["command"] = "reconcile"
			r.env["GITHUB_EVENT_NAME"], r.env["GITHUB_REF"] = "workflow_dispatch", "refs/heads/feature"
		}, `reconcile runs only on refs/heads/main, not on "refs/heads/feature"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRunner(t)
			r.commit("empty")
			r.pullRequest("pull_request.opened.json", 16, "alice")
			tt.setup(r)
			r.command = func(context.Context, []string, func(string) string, io.Writer) error {
				t.Error("the CLI ran")
				return nil
			}
			s := r.run()
			var ue *action.UsageError
			if !errors.As(s.err, &ue) || !strings.Contains(ue.Msg, tt.want) {
				t.Fatalf("err = %v, want a usage error with %q", s.err, tt.want)
			}
			if !strings.Contains(s.stdout, "::error title=elevate::") {
				t.Errorf("no error annotation:\n%s", s.stdout)
			}
		})
	}
}

// TestEventPayloads: damaged payloads fail with a message.
func TestEventPayloads(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join("testdata", "events", "pull_request.opened.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := action.ParseEvent(good)
	if err != nil {
		t.Fatal(err)
	}
	want := &action.PullRequest{Number: 2, Author: "Codertocat", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", HeadSHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", BaseRef: "master"}
	if diff := cmp.Diff(want, ev.PullRequest); diff != "" {
		t.Errorf("pull request (-want +got):\n%s", diff)
	}
	push, _ := os.ReadFile(filepath.Join("testdata", "events", "push.json"))
	if ev, err := action.ParseEvent(push); err != nil || ev.PullRequest != nil || ev.After != "6113728f27ae82c7b1a177c8d03f9e96e0adf246" {
		t.Errorf("push: %+v, %v", ev, err)
	}
	for name, payload := range map[string]string{
		"not json":      `{`,
		"no number":     `{"pull_request":{"user":{"login":"a"},"base":{"sha":"` + strings.Repeat("a", 40) + `"},"head":{"sha":"` + strings.Repeat("b", 40) + `"}}}`,
		"short sha":     `{"pull_request":{"number":1,"user":{"login":"a"},"base":{"sha":"abc"},"head":{"sha":"` + strings.Repeat("b", 40) + `"}}}`,
		"option sha":    `{"pull_request":{"number":1,"user":{"login":"a"},"base":{"sha":"--output=x"},"head":{"sha":"` + strings.Repeat("b", 40) + `"}}}`,
		"no user":       `{"pull_request":{"number":1,"user":null,"base":{"sha":"` + strings.Repeat("a", 40) + `"},"head":{"sha":"` + strings.Repeat("b", 40) + `"}}}`,
		"newline login": `{"pull_request":{"number":1,"user":{"login":"a\nb"},"base":{"sha":"` + strings.Repeat("a", 40) + `"},"head":{"sha":"` + strings.Repeat("b", 40) + `"}}}`,
	} {
		if _, err := action.ParseEvent([]byte(payload)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestReconcile: reconcile runs the CLI with the push range, the token as
// GITHUB_TOKEN, and its output behind stop-commands.
func TestReconcile(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	r.commit("main")
	before := r.base
	r.event("push.json", func(ev map[string]any) { ev["before"], ev["after"] = before, r.head })
	r.env["GITHUB_EVENT_NAME"], r.env["GITHUB_REF"], r.env["GITHUB_TOKEN"] = "push", "refs/heads/main", "the-default-token"
	r.inputs["command"], r.inputs["args"] = "reconcile", "--timeout\n5m\n"
	var got []string
	r.command = func(_ context.Context, args []string, getenv func(string) string, w io.Writer) error {
		got = args
		if getenv("GITHUB_TOKEN") != token {
			t.Errorf("GITHUB_TOKEN = %q, want the token input", getenv("GITHUB_TOKEN"))
		}
		fmt.Fprintln(w, "REQUEST  ACTION")
		fmt.Fprintln(w, "::warning::from a request <b>")
		return nil
	}
	s := r.run()
	if s.err != nil {
		t.Fatal(s.err)
	}
	want := []string{"reconcile", "--branch", "main", "--push-before", before, "--push-after", r.head, "--timeout", "5m"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	lines := strings.Split(strings.TrimSpace(s.stdout), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[1], "::stop-commands::elevate-") || lines[len(lines)-1] != "::"+strings.TrimPrefix(lines[1], "::stop-commands::")+"::" {
		t.Errorf("output not wrapped in stop-commands:\n%s", s.stdout)
	}
	if !strings.Contains(s.summary, "&#58;&#58;warning&#58;&#58;from a request &#60;b&#62;") {
		t.Errorf("summary:\n%s", s.summary)
	}

	// A push whose before is all zeros (a new branch) has no range.
	r.event("push.json", nil)
	r.run()
	if diff := cmp.Diff([]string{"reconcile", "--branch", "main", "--timeout", "5m"}, got); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
}
