package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-github/v62/github"

	"github.com/elevate-dev/elevate/internal/approval"
	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/request"
)

// reconcileOptions are the flags of `elevate plan` and `elevate reconcile`.
type reconcileOptions struct {
	Dir     string
	At      string
	Format  string
	Remote  string
	Branch  string
	NoPush  bool
	Timeout time.Duration
	Before  string
	After   string
	// AWSRate and AWSInFlight bound Identity Center calls per second and
	// assignment operations outstanding (identitycenter.Options).
	AWSRate     float64
	AWSInFlight int
	// End lists open requests to end now; EndReason says why.
	End       stringList
	EndReason string
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func parseReconcile(env Env, name string, args []string) (reconcileOptions, error) {
	o := reconcileOptions{}
	var synopsis, examples string
	if name == "plan" {
		synopsis = "plan [--at TIME] [--format text|json]"
		examples = `  elevate plan                               # what reconcile would do now
  elevate plan --at 2026-12-05T17:00:00Z     # what expires by Friday evening
  elevate plan --format json`
	} else {
		synopsis = "reconcile [--remote origin] [--branch main] [--no-push]"
		examples = `  elevate reconcile                          # grant, revoke, record and push
  AWS_ENDPOINT_URL=http://127.0.0.1:5000 elevate reconcile --no-push   # against moto, locally`
	}
	fs := newFlags(env, name, synopsis, examples+`

Configuration comes from the environment, as the workflows give it:
  AWS: the SDK's standard chain (AWS_REGION, credentials, AWS_ENDPOINT_URL)
  GitHub: GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name), GITHUB_API_URL
  ELEVATE_GIT_NAME / ELEVATE_GIT_EMAIL: the identity of state commits`)
	fs.StringVar(&o.Dir, "C", ".", "run as if started in `dir` (a checkout of main)")
	fs.StringVar(&o.Format, "format", "text", "output `format`: text or json")
	fs.StringVar(&o.Branch, "branch", "main", "the protected `branch` requests are merged into")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "give up after this `duration`; whatever is not done is retried by the next run")
	fs.Float64Var(&o.AWSRate, "aws-calls-per-second", 20, "at most `n` IAM Identity Center and Identity Store calls per second, retries included (AWS allows about 20)")
	fs.IntVar(&o.AWSInFlight, "aws-in-flight", 15, "at most `n` assignment operations outstanding at once (AWS's fixed limit is 15)")
	if name == "plan" {
		fs.StringVar(&o.At, "at", "", "plan as if it were `TIME` (RFC 3339 with a zone)")
	} else {
		fs.StringVar(&o.Remote, "remote", "origin", "push state commits to this `remote`")
		fs.BoolVar(&o.NoPush, "no-push", false, "commit state but do not push")
		fs.StringVar(&o.Before, "push-before", "", "with --push-after: skip the run if every commit in BEFORE..AFTER is elevate's own state commit (set from the push event)")
		fs.StringVar(&o.After, "push-after", "", "see --push-before")
		fs.Var(&o.End, "end", "end this open request `id` now: revoke its access and record it ended (repeatable; needs --end-reason)")
		fs.StringVar(&o.EndReason, "end-reason", "", "why the requests given with --end end early (recorded with who ran it)")
	}
	if err := parse(fs, args, 0); err != nil {
		return o, err
	}
	if err := textOrJSON(o.Format); err != nil {
		return o, err
	}
	if o.AWSRate <= 0 || o.AWSInFlight < 1 {
		return o, &UsageError{Msg: fmt.Sprintf("--aws-calls-per-second %g and --aws-in-flight %d must be positive", o.AWSRate, o.AWSInFlight)}
	}
	if o.At != "" {
		if _, err := request.ParseTime(o.At); err != nil {
			return o, &UsageError{Msg: fmt.Sprintf("--at %q: %v; write e.g. 2026-12-05T17:00:00Z", o.At, err)}
		}
	}
	if len(o.End) > 0 && strings.TrimSpace(o.EndReason) == "" {
		return o, &UsageError{Msg: "--end needs --end-reason: say why the access ends early (it is recorded)"}
	}
	if strings.ContainsAny(o.EndReason, "\n\r") {
		return o, &UsageError{Msg: "--end-reason must be one line"}
	}
	if o.NoPush {
		o.Remote = ""
	}
	o.Dir = absDir(env, o.Dir)
	return o, nil
}

func runPlan(ctx context.Context, env Env, args []string) error {
	return runReconcileCmd(ctx, env, "plan", args)
}

func runReconcile(ctx context.Context, env Env, args []string) error {
	return runReconcileCmd(ctx, env, "reconcile", args)
}

func runReconcileCmd(ctx context.Context, env Env, name string, args []string) error {
	o, err := parseReconcile(env, name, args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	repo, err := gitrepo.Open(ctx, o.Dir)
	if err != nil {
		return err
	}
	defer repo.Close()
	now := env.Now().UTC()
	if o.At != "" {
		now, _ = request.ParseTime(o.At)
	}
	as := ledger.Signature{Name: env.Getenv("ELEVATE_GIT_NAME"), Email: env.Getenv("ELEVATE_GIT_EMAIL")}
	if as.Name == "" || as.Email == "" {
		as = ledger.DefaultSignature
	}
	if name == "reconcile" && o.Before != "" && o.After != "" && reconcile.OnlyStateCommits(ctx, repo, o.Before, o.After, as) {
		fmt.Fprintln(env.Stdout, "the push holds only elevate's own state commits: nothing to do")
		return nil
	}
	cfg := reconcile.Config{Repo: repo, As: as, Branch: o.Branch, Remote: o.Remote, Now: now, Log: env.Stderr}
	if len(o.End) > 0 {
		who := env.Getenv("GITHUB_ACTOR")
		if who == "" {
			who = "an operator"
		}
		cfg.EndEarly = map[string]string{}
		for _, id := range o.End {
			cfg.EndEarly[id] = fmt.Sprintf("by %s: %s", who, o.EndReason)
		}
		if err := checkEnds(ctx, repo, o.End); err != nil {
			return err
		}
	}
	gh, owner, repoName, err := githubClient(env)
	if err != nil && name == "reconcile" {
		return err
	}
	if gh != nil {
		cfg.Owner, cfg.Name = owner, repoName
		opts := env.ApprovalOptions
		if opts.Backoff == nil {
			// GitHub's lag after a merge, waited for about 1s, 2s, 4s, 8s,
			// 16s, jittered so that runs that collided do not ask in step.
			opts.Backoff = func(n int) time.Duration {
				d := time.Second << min(n-1, 4)
				return d*3/4 + rand.N(d/2)
			}
		}
		cfg.Approvals = approval.New(gh.PullRequests, gh.Teams, opts)
		cfg.Teams = teamChecker{gh.Teams}
	}
	if name == "reconcile" || env.AWSConfig != nil || env.Getenv("AWS_ENDPOINT_URL") != "" || env.Getenv("AWS_REGION") != "" {
		awsCfg, err := loadAWS(ctx, env)
		if err != nil && name == "reconcile" {
			return err
		}
		if err == nil {
			cfg.Backend = identitycenter.NewFromConfig(awsCfg, identitycenter.Options{RatePerSecond: o.AWSRate, MaxInFlight: o.AWSInFlight})
		}
	}
	var res *reconcile.Result
	if name == "plan" {
		// Plan only reads AWS, to report unexplained assignments.
		res, err = reconcile.Plan(ctx, cfg)
	} else {
		res, err = reconcile.Reconcile(ctx, cfg)
	}
	if res != nil {
		if werr := writeSteps(env.Stdout, res, o.Format, name); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if failed := res.Failed(); len(failed) > 0 {
		var what []string
		for _, s := range failed {
			id := s.ID
			if id == "" {
				id = "assignments of " + dash(s.Status.PermissionSet)
			}
			what = append(what, fmt.Sprintf("%s (%s)", id, s.Kind))
		}
		return fmt.Errorf("%d step(s) could not be carried out and are retried by the next run: %s", len(failed), strings.Join(what, ", "))
	}
	return nil
}

// loadAWS builds the AWS configuration from the SDK's standard chain, or the
// test's override.
func loadAWS(ctx context.Context, env Env) (aws.Config, error) {
	if env.AWSConfig != nil {
		return env.AWSConfig(ctx)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, errors.New("no AWS region: set AWS_REGION")
	}
	return cfg, nil
}

// githubClient builds a client from GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL.
func githubClient(env Env) (*github.Client, string, string, error) {
	token := env.Getenv("GITHUB_TOKEN")
	full := env.Getenv("GITHUB_REPOSITORY")
	owner, name, ok := strings.Cut(full, "/")
	if token == "" || !ok || owner == "" || name == "" {
		return nil, "", "", errors.New("GitHub is not configured: set GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name); GITHUB_API_URL for GitHub Enterprise")
	}
	hc := env.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := github.NewClient(hc).WithAuthToken(token)
	if api := env.Getenv("GITHUB_API_URL"); api != "" {
		u, err := url.Parse(strings.TrimSuffix(api, "/") + "/")
		if err != nil || u.Scheme == "" {
			return nil, "", "", fmt.Errorf("GITHUB_API_URL %q is not a URL", api)
		}
		c.BaseURL = u
	}
	return c, owner, name, nil
}

// teamChecker answers team eligibility through the team membership API.
type teamChecker struct{ teams approval.TeamsAPI }

func (t teamChecker) IsTeamMember(ctx context.Context, team, login string) (bool, error) {
	org, slug, ok := strings.Cut(team, "/")
	if !ok {
		return false, fmt.Errorf("team %q is not org/slug", team)
	}
	m, resp, err := t.teams.GetTeamMembershipBySlug(ctx, org, slug, login)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("team membership %s of %s: %w", team, login, err)
	}
	return m.GetState() == "active", nil
}

func writeSteps(w io.Writer, res *reconcile.Result, format, name string) error {
	steps := res.Sorted()
	if format == "json" {
		type step struct {
			ID     string        `json:"id"`
			Action string        `json:"action"`
			Status ledger.Status `json:"status"`
			Reason string        `json:"reason,omitempty"`
			Error  string        `json:"error,omitempty"`
			Commit string        `json:"commit,omitempty"`
		}
		out := struct {
			Steps  []step `json:"steps"`
			Pushed bool   `json:"pushed"`
		}{Steps: []step{}, Pushed: res.Pushed}
		for _, s := range steps {
			j := step{ID: s.ID, Action: string(s.Kind), Status: s.Status, Reason: s.Reason, Commit: s.Commit}
			if s.Err != nil {
				j.Error = s.Err.Error()
			}
			out.Steps = append(out.Steps, j)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tACTION\tREQUESTER\tACCOUNT\tPERMISSION SET\tSTART\tEND\tNOTE")
	for _, s := range steps {
		note := s.Reason
		if s.Err != nil {
			note = "ERROR (retried next run): " + s.Err.Error()
		}
		if s.Shared {
			note = strings.TrimSpace(note + " assignment kept: another active grant covers it")
		}
		if len(note) > 160 {
			note = note[:157] + "..."
		}
		// Every cell may come from a file anyone named or wrote (a status
		// file too): one line each, and no workflow command.
		cells := []string{dash(s.ID), string(s.Kind), dash(s.Status.Requester), dash(s.Status.Account),
			dash(s.Status.PermissionSet), dash(s.Status.Start), dash(s.Status.End), note}
		for i, c := range cells {
			cells[i] = finding.EscapeLine(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if name == "reconcile" {
		fmt.Fprintf(w, "pushed: %v\n", res.Pushed)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkEnds refuses --end for an id that is not an open request, so a typo
// never looks like a revocation that happened.
func checkEnds(ctx context.Context, repo *gitrepo.Repo, ids []string) error {
	led := &ledger.Ledger{Repo: repo}
	open, statuses, _, err := led.Open(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		found := false
		for _, o := range open {
			found = found || o == id && statuses[id] != nil
		}
		if !found {
			return &UsageError{Msg: fmt.Sprintf("--end %q: no open (pending or active) request has that id; see elevate status", finding.EscapeLine(id))}
		}
	}
	return nil
}
