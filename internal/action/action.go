// Package action is elevate's GitHub Action adapter: it reads the Action's
// inputs and the workflow's event the way a runner provides them, runs the
// same code as the CLI (validate.PR for the PR check; `elevate plan` and
// `elevate reconcile` for the rest), and reports back to GitHub: findings as
// annotations, a step summary, one PR comment kept up to date, and step
// outputs. action/action.yml runs it as `elevate action`.
//
// Everything that came from a request or a PR is treated as hostile: it is
// escaped in annotations and Markdown, and refused in outputs when it holds
// a line break or control character.
package action

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	githubactions "github.com/sethvargo/go-githubactions"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/validate"
)

// The Action's inputs, as action/action.yml declares them.
const (
	// InputCommand is validate, plan or reconcile.
	InputCommand = "command"
	// InputToken is the GitHub token: the PR comment in validate; approvals,
	// team membership and the pushes of state in reconcile.
	InputToken = "token"
	// InputComment turns the PR comment off ("false").
	InputComment = "comment"
	// InputBranch is the protected branch requests merge into.
	InputBranch = "branch"
	// InputArgs are extra flags for plan and reconcile, one per line.
	InputArgs = "args"
)

// Inputs lists every input the Action reads.
var Inputs = []string{InputCommand, InputToken, InputComment, InputBranch, InputArgs}

// The Action's outputs.
const (
	// OutputFindings is the number of findings (validate).
	OutputFindings = "findings"
	// OutputRequests is the comma-separated ids of the requests judged (validate).
	OutputRequests = "requests"
	// OutputCommentID is the id of the PR comment (validate, in a PR).
	OutputCommentID = "comment-id"
)

// Outputs lists every output the Action may set.
var Outputs = []string{OutputFindings, OutputRequests, OutputCommentID}

// Commands the Action runs.
var Commands = []string{"validate", "plan", "reconcile"}

// Options are the world the Action runs in.
type Options struct {
	// Getenv reads the runner's environment (INPUT_*, GITHUB_*).
	Getenv func(string) string
	// Stdout is where workflow commands go.
	Stdout io.Writer
	// Dir is the working directory: the checkout.
	Dir string
	// HTTPClient talks to GitHub; nil means a default client with a timeout.
	HTTPClient *http.Client
	// Command runs `elevate <args>` (plan, reconcile) with an environment
	// lookup and standard output: the CLI's own dispatch.
	Command func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error
}

// UsageError is a bad input: the workflow, not the run, must change.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Result is what a run found.
type Result struct {
	// Findings counts the problems that fail the check.
	Findings int
}

// config is the parsed inputs and context.
type config struct {
	command   string
	token     string
	comment   bool
	branch    string
	args      []string
	eventName string
	event     *Event
	owner     string
	repo      string
	apiURL    string
}

func parseConfig(gha *githubactions.Action) (*config, error) {
	c := &config{
		command: gha.GetInput(InputCommand),
		token:   gha.GetInput(InputToken),
		branch:  gha.GetInput(InputBranch),
	}
	if c.command == "" {
		c.command = "validate"
	}
	if !contains(Commands, c.command) {
		return nil, &UsageError{Msg: fmt.Sprintf("input command is %q; use one of %s", c.command, strings.Join(Commands, ", "))}
	}
	switch v := gha.GetInput(InputComment); v {
	case "", "true":
		c.comment = true
	case "false":
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("input comment is %q; use true or false", v)}
	}
	if c.branch == "" {
		c.branch = "main"
	}
	if strings.ContainsAny(c.branch, " \t~^:?*[\\") || strings.HasPrefix(c.branch, "-") {
		return nil, &UsageError{Msg: fmt.Sprintf("input branch %q is not a branch name", c.branch)}
	}
	for _, line := range strings.Split(gha.GetInput(InputArgs), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			c.args = append(c.args, line)
		}
	}
	ghc, err := gha.Context()
	if err != nil {
		return nil, fmt.Errorf("read the workflow context: %w", err)
	}
	c.eventName = ghc.EventName
	c.owner, c.repo = ghc.Repo()
	c.apiURL = ghc.APIURL
	c.event, err = readEvent(ghc.EventPath)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Run runs the Action once. A failure is also shown as an error annotation.
func Run(ctx context.Context, o Options) (*Result, error) {
	gha := githubactions.New(githubactions.WithGetenv(o.Getenv), githubactions.WithWriter(o.Stdout))
	// Mask before anything else is printed, even a usage error.
	if tok := gha.GetInput(InputToken); tok != "" {
		gha.AddMask(tok)
	}
	res, err := run(ctx, o, gha)
	if err != nil {
		gha.IssueCommand(&githubactions.Command{Name: "error", Properties: githubactions.CommandProperties{"title": "elevate"}, Message: finding.Escape(err.Error())})
	}
	return res, err
}

func run(ctx context.Context, o Options, gha *githubactions.Action) (*Result, error) {
	c, err := parseConfig(gha)
	if err != nil {
		return nil, err
	}
	if c.eventName == "pull_request_target" {
		return nil, &UsageError{Msg: "elevate refuses to run on pull_request_target: that event runs with the base repository's secrets and write token; use pull_request for the PR check"}
	}
	if c.command == "validate" {
		return runValidate(ctx, o, gha, c)
	}
	return nil, runCLI(ctx, o, gha, c)
}

func runValidate(ctx context.Context, o Options, gha *githubactions.Action, c *config) (*Result, error) {
	pr := c.event.PullRequest
	var rep *validate.Report
	sum := Summary{}
	if pr != nil {
		repo, err := gitrepo.Open(ctx, o.Dir)
		if err != nil {
			return nil, err
		}
		defer repo.Close()
		for _, sha := range []string{pr.BaseSHA, pr.HeadSHA} {
			if _, err := repo.Resolve(ctx, sha); err != nil {
				return nil, fmt.Errorf("commit %s of PR #%d is not in the checkout; check out with fetch-depth: 0", sha, pr.Number)
			}
		}
		rep, err = validate.PR(ctx, repo, pr.BaseSHA, pr.HeadSHA, pr.Author, nil)
		if err != nil {
			return nil, err
		}
		sum.PR, sum.Head, sum.Base = pr.Number, pr.HeadSHA, pr.BaseSHA
	} else {
		var err error
		rep, err = validate.Tree(ctx, o.Dir, nil)
		if err != nil {
			return nil, err
		}
		sum.Head = gha.Getenv("GITHUB_SHA")
	}
	sum.Report = rep
	sum.Warnings = deferTeamFindings(rep)
	annotate(gha, "error", rep.Findings)
	annotate(gha, "warning", sum.Warnings)

	var errs []error
	md := sum.Markdown()
	if err := addSummary(gha, md); err != nil {
		errs = append(errs, fmt.Errorf("write the step summary: %w", err))
	}
	var ids []string
	for _, r := range rep.Requests {
		ids = append(ids, r.Request.ID)
	}
	outputs := [][2]string{{OutputFindings, fmt.Sprint(len(rep.Findings))}, {OutputRequests, strings.Join(ids, ",")}}
	if pr != nil && c.comment {
		res, err := comment(ctx, o, c, pr.Number, Marker+"\n"+md, len(rep.Requests)+len(rep.Findings) > 0)
		switch {
		case err != nil:
			// A fork's PR gets a read-only token: the check still stands.
			gha.Warningf("%s", finding.Escape("elevate could not keep its PR comment: "+err.Error()))
		case res.ID != 0:
			outputs = append(outputs, [2]string{OutputCommentID, fmt.Sprint(res.ID)})
			gha.Infof("elevate: PR comment %d %s", res.ID, res.Action)
		}
	}
	for _, kv := range outputs {
		if err := setOutput(gha, kv[0], kv[1]); err != nil {
			errs = append(errs, err)
		}
	}
	gha.Infof("elevate: %d request%s, %d finding%s", len(rep.Requests), plural(len(rep.Requests)), len(rep.Findings), plural(len(rep.Findings)))
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Result{Findings: len(rep.Findings)}, nil
}

// deferTeamFindings takes out of the report the "not eligible" findings the
// PR check cannot decide: the requester is not listed as a user, the policy
// also makes teams eligible, and team membership cannot be read here (the
// PR check has only the PR's read token; the token that can read teams must
// never be given to code a PR controls). reconcile checks them again with
// that token before granting, and denies the request if the requester is
// in none of the teams. They are returned as warnings.
func deferTeamFindings(rep *validate.Report) []finding.Finding {
	teams := map[string][]string{}
	for _, c := range rep.Requests {
		if p := c.Decision.Policy; p != nil && len(p.Eligible.Teams) > 0 {
			teams[c.Request.File] = p.Eligible.Teams
		}
	}
	var keep, warn []finding.Finding
	for _, f := range rep.Findings {
		if ts, ok := teams[f.File]; ok && f.Rule == "eligible" && strings.Contains(f.Message, "is not eligible") {
			f.Message += fmt.Sprintf("; membership of %s cannot be checked in the PR check, so it is checked when the request is granted", strings.Join(ts, ", "))
			f.Fix = "nothing, if you are a member of one of those teams; otherwise you are not eligible under this policy"
			warn = append(warn, f)
			continue
		}
		keep = append(keep, f)
	}
	rep.Findings = keep
	return warn
}

func comment(ctx context.Context, o Options, c *config, number int, body string, create bool) (CommentResult, error) {
	if c.token == "" {
		return CommentResult{}, fmt.Errorf("no token input")
	}
	if c.owner == "" || c.repo == "" {
		return CommentResult{}, fmt.Errorf("GITHUB_REPOSITORY is not owner/name")
	}
	gh, err := newGitHub(o.HTTPClient, c.apiURL, c.token)
	if err != nil {
		return CommentResult{}, err
	}
	return UpsertComment(ctx, gh.Issues, c.owner, c.repo, number, body, create)
}

// newGitHub builds a client for the runner's API URL (GitHub Enterprise
// included).
func newGitHub(hc *http.Client, apiURL, token string) (*github.Client, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	gh := github.NewClient(hc).WithAuthToken(token)
	if apiURL != "" {
		u, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("GITHUB_API_URL %q is not a URL", apiURL)
		}
		gh.BaseURL = u
	}
	return gh, nil
}

// runCLI runs plan or reconcile through the CLI. reconcile runs only where
// DESIGN.md invariant 4 allows grants: main's own workflow, on push,
// schedule or dispatch. A push event passes its commit range so that a push
// of elevate's own state commits is recognised and skipped. The command's
// output is shown with workflow commands stopped, so nothing a request holds
// can become one, and copied into the step summary.
func runCLI(ctx context.Context, o Options, gha *githubactions.Action, c *config) error {
	if o.Command == nil {
		return fmt.Errorf("no command runner")
	}
	if c.command == "reconcile" {
		switch c.eventName {
		case "push", "schedule", "workflow_dispatch":
		default:
			return &UsageError{Msg: fmt.Sprintf("reconcile runs only on push, schedule or workflow_dispatch, not on %q: grants never come from a pull request's workflow", c.eventName)}
		}
		if ref := gha.Getenv("GITHUB_REF"); ref != "refs/heads/"+c.branch {
			return &UsageError{Msg: fmt.Sprintf("reconcile runs only on refs/heads/%s, not on %q", c.branch, ref)}
		}
	}
	args := []string{c.command, "--branch", c.branch}
	if c.command == "reconcile" && c.eventName == "push" && c.event.Before != "" && !zero(c.event.Before) {
		args = append(args, "--push-before", c.event.Before, "--push-after", c.event.After)
	}
	args = append(args, c.args...)
	getenv := func(k string) string {
		if k == "GITHUB_TOKEN" && c.token != "" {
			return c.token
		}
		return o.Getenv(k)
	}
	stop, err := stopToken()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	gha.IssueCommand(&githubactions.Command{Name: "stop-commands", Message: stop})
	runErr := o.Command(ctx, args, getenv, io.MultiWriter(o.Stdout, &out))
	fmt.Fprintf(o.Stdout, "\n::%s::\n", stop)
	md := fmt.Sprintf("### elevate %s\n\n<pre>%s</pre>\n", c.command, htmlText(out.String()))
	if err := addSummary(gha, md); err != nil && runErr == nil {
		return fmt.Errorf("write the step summary: %w", err)
	}
	return runErr
}

// stopToken is an unguessable token for ::stop-commands::.
func stopToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("stop-commands token: %w", err)
	}
	return "elevate-" + hex.EncodeToString(b), nil
}

// htmlText escapes text for a <pre> block: lines are kept, markup is not.
func htmlText(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = Text(l)
	}
	return strings.Join(lines, "\n")
}

func zero(sha string) bool { return strings.Trim(sha, "0") == "" }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
