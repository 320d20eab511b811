package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-github/v62/github"

	"github.com/elevate-dev/elevate/internal/action"
	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/validate"
)

// doctorOptions are the flags of `elevate doctor`.
type doctorOptions struct {
	Dir         string
	Repo        string
	Branch      string
	Environment string
	GitHub      string
	AWS         string
}

func parseDoctor(env Env, args []string) (doctorOptions, error) {
	o := doctorOptions{}
	fs := newFlags(env, "doctor", "doctor [--repo OWNER/NAME] [--github auto|on|off] [--aws auto|on|off]",
		`  elevate doctor                                   # the files; GitHub and AWS too when configured
  GITHUB_TOKEN=$(gh auth token) elevate doctor --repo acme/access
  AWS_PROFILE=grant AWS_REGION=us-east-1 elevate doctor --aws on

It changes nothing anywhere: it reads files, and makes only read calls to
GitHub (repository, rules, environment, workflows) and AWS (sts
GetCallerIdentity, sso-admin ListInstances and ListPermissionSets).`)
	fs.StringVar(&o.Dir, "C", ".", "check the set-up in `dir`")
	fs.StringVar(&o.Repo, "repo", env.Getenv("GITHUB_REPOSITORY"), "the GitHub repository, `owner/name` (default $GITHUB_REPOSITORY)")
	fs.StringVar(&o.Branch, "branch", "main", "the protected `branch` requests merge into")
	fs.StringVar(&o.Environment, "environment", "elevate", "the GitHub `environment` of the grant and revoke jobs")
	fs.StringVar(&o.GitHub, "github", "auto", "check GitHub: on, off, or auto (when GITHUB_TOKEN and the repository are set)")
	fs.StringVar(&o.AWS, "aws", "auto", "check AWS: on, off, or auto (when an AWS region or profile is set)")
	if err := parse(fs, args, 0); err != nil {
		return o, err
	}
	for name, v := range map[string]string{"--github": o.GitHub, "--aws": o.AWS} {
		if v != "auto" && v != "on" && v != "off" {
			return o, &UsageError{Msg: fmt.Sprintf("%s %q: use auto, on or off", name, v)}
		}
	}
	if o.Repo != "" {
		if owner, name, ok := strings.Cut(o.Repo, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return o, &UsageError{Msg: fmt.Sprintf("--repo %q: write owner/name", o.Repo)}
		}
	}
	o.Dir = absDir(env, o.Dir)
	return o, nil
}

// doctorReport prints one line per check and counts what is missing.
type doctorReport struct {
	w                 io.Writer
	problems, skipped int
}

func (r *doctorReport) ok(format string, args ...any) {
	fmt.Fprintf(r.w, "ok    %s\n", finding.EscapeLine(fmt.Sprintf(format, args...)))
}

func (r *doctorReport) skip(format string, args ...any) {
	r.skipped++
	fmt.Fprintf(r.w, "skip  %s\n", finding.EscapeLine(fmt.Sprintf(format, args...)))
}

// fail reports something missing, with what to do about it.
func (r *doctorReport) fail(what, fix string) {
	r.problems++
	fmt.Fprintf(r.w, "FAIL  %s; %s\n", finding.EscapeLine(what), finding.EscapeLine(fix))
}

func (r *doctorReport) findings(fs []finding.Finding) {
	for _, f := range fs {
		r.problems++
		fmt.Fprintf(r.w, "FAIL  %s\n", f.Text())
	}
}

// runDoctor is `elevate doctor`: it checks a set-up and reports what is
// missing, with no side effects. Exit status 1 when something is.
func runDoctor(ctx context.Context, env Env, args []string) error {
	o, err := parseDoctor(env, args)
	if err != nil {
		return err
	}
	r := &doctorReport{w: env.Stdout}
	if err := doctorFiles(ctx, r, o); err != nil {
		return err
	}
	doctorGitHub(ctx, r, env, o)
	doctorAWS(ctx, r, env, o)
	if r.problems > 0 {
		fmt.Fprintf(env.Stdout, "%d problem%s: see SETUP.md\n", r.problems, plural(r.problems))
		return &FindingsError{Count: r.problems}
	}
	if r.skipped > 0 {
		fmt.Fprintf(env.Stdout, "nothing missing in what was checked; %d check%s skipped\n", r.skipped, plural(r.skipped))
		return nil
	}
	fmt.Fprintln(env.Stdout, "the set-up is complete")
	return nil
}

func doctorFiles(ctx context.Context, r *doctorReport, o doctorOptions) error {
	rep, err := validate.Tree(ctx, o.Dir, nil)
	if err != nil {
		return err
	}
	var fs []finding.Finding
	teams := 0
	for _, f := range rep.Findings {
		// Without a token team membership cannot be shown; reconcile checks it.
		if f.Rule == "eligible" && strings.Contains(f.Fix, "team membership cannot be checked") {
			teams++
			continue
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		r.ok("policies, identities and %d request%s parse and pass validate", len(rep.Requests), plural(len(rep.Requests)))
	}
	r.findings(fs)
	if teams > 0 {
		r.skip("eligibility through a team of %d request%s (reconcile checks it with the App's token)", teams, plural(teams))
	}
	setup := action.CheckSetup(o.Dir)
	if len(setup) == 0 {
		r.ok("%s, the workflows (validate, grant, revoke; pinned actions, permissions, triggers, concurrency, schedule) and CODEOWNERS (covers %s)",
			action.ActionFile, strings.Join(action.Protected, " "))
	}
	r.findings(setup)
	return nil
}

func doctorGitHub(ctx context.Context, r *doctorReport, env Env, o doctorOptions) {
	if o.GitHub == "off" {
		r.skip("GitHub (--github off)")
		return
	}
	getenv := func(k string) string {
		if k == "GITHUB_REPOSITORY" {
			return o.Repo
		}
		return env.Getenv(k)
	}
	gh, owner, repo, err := githubClient(Env{Getenv: getenv, HTTPClient: env.HTTPClient})
	if err != nil {
		if o.GitHub == "on" {
			r.fail("GitHub: "+err.Error(), "set GITHUB_TOKEN (e.g. $(gh auth token)) and --repo")
		} else {
			r.skip("GitHub: set GITHUB_TOKEN and --repo (or GITHUB_REPOSITORY) to check the ruleset, the environment and the workflows")
		}
		return
	}
	full := owner + "/" + repo
	if _, _, err := gh.Repositories.Get(ctx, owner, repo); err != nil {
		r.fail(fmt.Sprintf("GitHub: cannot read %s: %v", full, err), "check the token and the repository name")
		return
	}
	r.ok("GitHub: %s is reachable with the token", full)
	doctorRules(ctx, r, gh, owner, repo, o.Branch)
	doctorEnvironment(ctx, r, gh, owner, repo, o)
	doctorWorkflows(ctx, r, gh, owner, repo)
	if p, resp, err := gh.Repositories.GetDefaultWorkflowPermissions(ctx, owner, repo); err == nil {
		if p.GetCanApprovePullRequestReviews() {
			r.fail("GitHub: workflows may approve pull requests", `Settings > Actions > General: clear "Allow GitHub Actions to create and approve pull requests"`)
		} else {
			r.ok("GitHub: workflows cannot approve pull requests")
		}
	} else if forbidden(resp) {
		r.skip("GitHub: whether workflows may approve pull requests (needs a token with Administration: read)")
	} else {
		r.fail(fmt.Sprintf("GitHub: read the workflow permissions: %v", err), "retry")
	}
}

// forbidden reports an answer that means "this token may not see that".
func forbidden(resp *github.Response) bool {
	return resp != nil && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound)
}

// doctorRules checks the rules GitHub applies to the branch (from every
// active ruleset and branch protection).
func doctorRules(ctx context.Context, r *doctorReport, gh *github.Client, owner, repo, branch string) {
	rules, _, err := gh.Repositories.GetRulesForBranch(ctx, owner, repo, branch)
	if err != nil {
		r.fail(fmt.Sprintf("GitHub: read the rules of %s: %v", branch, err), "retry")
		return
	}
	have := map[string]bool{}
	var pr github.PullRequestRuleParameters
	checks := map[string]bool{}
	for _, rule := range rules {
		have[rule.Type] = true
		if rule.Parameters == nil {
			continue
		}
		switch rule.Type {
		case "pull_request":
			var p github.PullRequestRuleParameters
			if json.Unmarshal(*rule.Parameters, &p) == nil {
				pr.RequireCodeOwnerReview = pr.RequireCodeOwnerReview || p.RequireCodeOwnerReview
				pr.DismissStaleReviewsOnPush = pr.DismissStaleReviewsOnPush || p.DismissStaleReviewsOnPush
				pr.RequireLastPushApproval = pr.RequireLastPushApproval || p.RequireLastPushApproval
				pr.RequiredApprovingReviewCount = max(pr.RequiredApprovingReviewCount, p.RequiredApprovingReviewCount)
			}
		case "required_status_checks":
			var p github.RequiredStatusChecksRuleParameters
			if json.Unmarshal(*rule.Parameters, &p) == nil {
				for _, c := range p.RequiredStatusChecks {
					checks[c.Context] = true
				}
			}
		}
	}
	const fix = "edit the ruleset on %s (SETUP.md, step 7): %s"
	missing := func(what, setting string) {
		r.fail(fmt.Sprintf("GitHub: %s %s", branch, what), fmt.Sprintf(fix, branch, setting))
	}
	if !have["pull_request"] {
		missing("can be pushed to without a pull request", `turn on "Require a pull request before merging"`)
	} else {
		ok := true
		for _, c := range []struct {
			on           bool
			what, toggle string
		}{
			{pr.RequireCodeOwnerReview, "merges without a code owner's review", `"Require review from Code Owners"`},
			{pr.DismissStaleReviewsOnPush, "keeps approvals after a new push", `"Dismiss stale pull request approvals when new commits are pushed"`},
			{pr.RequireLastPushApproval, "merges without approval of the most recent push", `"Require approval of the most recent reviewable push"`},
			{pr.RequiredApprovingReviewCount >= 1, "merges with no approval", `"Required approvals" of 1 or more`},
		} {
			if !c.on {
				ok = false
				missing(c.what, "turn on "+c.toggle)
			}
		}
		if ok {
			r.ok("GitHub: %s requires a PR with %d approval%s, code owner review, approval of the last push, stale approvals dismissed",
				branch, pr.RequiredApprovingReviewCount, plural(pr.RequiredApprovingReviewCount))
		}
	}
	if !have["non_fast_forward"] {
		missing("can be force-pushed", `turn on "Block force pushes"`)
	}
	if !have["deletion"] {
		missing("can be deleted", `turn on "Restrict deletions"`)
	}
	if !checks["validate"] {
		missing("merges without the validate check passing", `"Require status checks to pass" with the check validate`)
	}
	if have["non_fast_forward"] && have["deletion"] && checks["validate"] {
		r.ok("GitHub: %s blocks force pushes and deletion and requires the validate check", branch)
	}
}

func doctorEnvironment(ctx context.Context, r *doctorReport, gh *github.Client, owner, repo string, o doctorOptions) {
	e, resp, err := gh.Repositories.GetEnvironment(ctx, owner, repo, o.Environment)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		r.fail(fmt.Sprintf("GitHub: environment %s does not exist", o.Environment), "create it (SETUP.md, step 4)")
		return
	}
	if err != nil {
		r.fail(fmt.Sprintf("GitHub: read environment %s: %v", o.Environment, err), "retry")
		return
	}
	p := e.DeploymentBranchPolicy
	switch {
	case p == nil:
		r.fail(fmt.Sprintf("GitHub: any branch can use environment %s, and so read the App's key", o.Environment),
			fmt.Sprintf("set its deployment branches to the selected branch %s only (SETUP.md, step 4)", o.Branch))
	case p.GetCustomBranchPolicies():
		list, _, err := gh.Repositories.ListDeploymentBranchPolicies(ctx, owner, repo, o.Environment)
		if err != nil {
			r.fail(fmt.Sprintf("GitHub: read the deployment branches of %s: %v", o.Environment, err), "retry")
			return
		}
		var others []string
		for _, b := range list.BranchPolicies {
			if b.GetName() != o.Branch || (b.GetType() != "" && b.GetType() != "branch") {
				others = append(others, b.GetType()+" "+b.GetName())
			}
		}
		sort.Strings(others)
		switch {
		case len(others) > 0:
			r.fail(fmt.Sprintf("GitHub: environment %s also lets %s deploy", o.Environment, strings.Join(others, ", ")), "allow the branch "+o.Branch+" only")
		case len(list.BranchPolicies) == 0:
			r.fail(fmt.Sprintf("GitHub: environment %s lists no deployment branch", o.Environment), "add the branch "+o.Branch)
		default:
			r.ok("GitHub: only %s can use environment %s", o.Branch, o.Environment)
		}
	default:
		r.fail(fmt.Sprintf("GitHub: environment %s lets every protected branch deploy", o.Environment), "select the branch "+o.Branch+" only")
	}
}

func doctorWorkflows(ctx context.Context, r *doctorReport, gh *github.Client, owner, repo string) {
	list, resp, err := gh.Actions.ListWorkflows(ctx, owner, repo, &github.ListOptions{PerPage: 100})
	if forbidden(resp) {
		r.skip("GitHub: the workflows' state (needs Actions: read)")
		return
	}
	if err != nil {
		r.fail(fmt.Sprintf("GitHub: list workflows: %v", err), "retry")
		return
	}
	state := map[string]string{}
	for _, w := range list.Workflows {
		state[w.GetPath()] = w.GetState()
	}
	ok := true
	for _, file := range []string{action.ValidateFile, action.GrantFile, action.RevokeFile} {
		switch s := state[file]; s {
		case "active":
		case "":
			ok = false
			r.fail("GitHub: "+file+" is not on the default branch", "merge it")
		default:
			ok = false
			r.fail(fmt.Sprintf("GitHub: %s is %s", file, s), "enable it in the Actions tab (GitHub disables schedules after 60 days without activity in public repositories)")
		}
	}
	if ok {
		r.ok("GitHub: the validate, grant and revoke workflows are active")
	}
}

func doctorAWS(ctx context.Context, r *doctorReport, env Env, o doctorOptions) {
	configured := env.AWSConfig != nil
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"} {
		configured = configured || env.Getenv(k) != ""
	}
	switch {
	case o.AWS == "off":
		r.skip("AWS (--aws off)")
		return
	case !configured && o.AWS == "auto":
		r.skip("AWS: set AWS_REGION and credentials of the grant role to check Identity Center")
		return
	}
	cfg, err := loadAWS(ctx, env)
	if err != nil {
		r.fail("AWS: "+err.Error(), "set AWS_REGION and credentials")
		return
	}
	doctorAWSCalls(ctx, r, cfg)
}

// doctorAWSCalls makes the read-only calls, stopping at the first failure.
func doctorAWSCalls(ctx context.Context, r *doctorReport, cfg aws.Config) {
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		r.fail(fmt.Sprintf("AWS: no valid credentials: %v", err), "assume the grant role (SETUP.md, step 2)")
		return
	}
	r.ok("AWS: credentials of %s", aws.ToString(id.Arn))
	sso := ssoadmin.NewFromConfig(cfg)
	inst, err := sso.ListInstances(ctx, &ssoadmin.ListInstancesInput{})
	if err != nil {
		r.fail(fmt.Sprintf("AWS: sso-admin ListInstances: %v", err), "give the role the policy in SETUP.md, step 3, in the Identity Center account and region")
		return
	}
	switch n := len(inst.Instances); {
	case n == 0:
		r.fail("AWS: no IAM Identity Center instance in region "+cfg.Region, "set AWS_REGION to the region Identity Center is in")
		return
	case n > 1:
		r.fail(fmt.Sprintf("AWS: %d Identity Center instances", n), "elevate expects one")
		return
	}
	arn := aws.ToString(inst.Instances[0].InstanceArn)
	r.ok("AWS: Identity Center instance %s (identity store %s)", arn, aws.ToString(inst.Instances[0].IdentityStoreId))
	if _, err := sso.ListPermissionSets(ctx, &ssoadmin.ListPermissionSetsInput{InstanceArn: aws.String(arn), MaxResults: aws.Int32(1)}); err != nil {
		r.fail(fmt.Sprintf("AWS: sso-admin ListPermissionSets: %v", err), "give the role the policy in SETUP.md, step 3")
		return
	}
	r.ok("AWS: the role can read permission sets")
}
