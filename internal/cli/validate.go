package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/validate"
)

// validateOptions are the flags of `elevate validate`.
type validateOptions struct {
	Dir    string
	Base   string
	Head   string
	Author string
	Format string
}

func parseValidate(env Env, args []string) (validateOptions, error) {
	o := validateOptions{}
	fs := newFlags(env, "validate", "validate [--base REF [--author LOGIN]] [--format text|json]",
		`  elevate validate                                  # every file in the working tree
  elevate validate --base origin/main --author alice  # what a PR from alice adds
  elevate validate --format json                      # findings for machines`)
	fs.StringVar(&o.Dir, "C", ".", "run as if started in `dir`")
	fs.StringVar(&o.Base, "base", "", "PR mode: the base `ref`; policies, identities and CODEOWNERS come from it, and only request files added since it are checked")
	fs.StringVar(&o.Head, "head", "HEAD", "PR mode: the head `ref`")
	fs.StringVar(&o.Author, "author", "", "PR mode: the PR author's GitHub `login`; every new request's requester must be it")
	fs.StringVar(&o.Format, "format", "text", "output `format`: text or json")
	if err := parse(fs, args, 0); err != nil {
		return o, err
	}
	if err := textOrJSON(o.Format); err != nil {
		return o, err
	}
	if o.Author != "" && o.Base == "" {
		return o, &UsageError{Msg: "--author needs --base (it applies to the requests a PR adds)"}
	}
	o.Dir = absDir(env, o.Dir)
	return o, nil
}

func runValidate(ctx context.Context, env Env, args []string) error {
	o, err := parseValidate(env, args)
	if err != nil {
		return err
	}
	rep, err := doValidate(ctx, o)
	if err != nil {
		return err
	}
	if err := writeReport(env.Stdout, rep, o.Format); err != nil {
		return err
	}
	if len(rep.Findings) > 0 {
		return &FindingsError{Count: len(rep.Findings)}
	}
	return nil
}

func doValidate(ctx context.Context, o validateOptions) (*validate.Report, error) {
	if o.Base == "" {
		return validate.Tree(ctx, o.Dir, nil)
	}
	repo, err := gitrepo.Open(ctx, o.Dir)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	for _, ref := range []string{o.Base, o.Head} {
		if _, err := repo.Resolve(ctx, ref); err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("%v (PR mode judges committed files: commit first, and fetch the base branch)", err)}
		}
	}
	return validate.PR(ctx, repo, o.Base, o.Head, o.Author, nil)
}

func writeReport(w io.Writer, rep *validate.Report, format string) error {
	if format == "json" {
		type req struct {
			ID            string `json:"id"`
			File          string `json:"file"`
			Requester     string `json:"requester"`
			Account       string `json:"account"`
			PermissionSet string `json:"permissionSet"`
			Duration      string `json:"duration"`
			Policy        string `json:"policy,omitempty"`
			Approvals     int    `json:"approvals,omitempty"`
			Approvers     string `json:"approvers,omitempty"`
			Allowed       bool   `json:"allowed"`
		}
		out := struct {
			Mode     string            `json:"mode"`
			Findings []finding.Finding `json:"findings"`
			Requests []req             `json:"requests"`
		}{Mode: rep.Mode, Findings: rep.Findings, Requests: []req{}}
		if out.Findings == nil {
			out.Findings = []finding.Finding{}
		}
		for _, c := range rep.Requests {
			r := req{ID: c.Request.ID, File: c.Request.File, Requester: c.Request.Requester, Account: c.Decision.AccountID,
				PermissionSet: c.Request.PermissionSet, Duration: c.Request.DurationText, Allowed: len(c.Decision.Findings) == 0}
			if p := c.Decision.Policy; p != nil {
				r.Policy, r.Approvals, r.Approvers = p.Name, p.Approvals, p.Approvers.String()
			}
			out.Requests = append(out.Requests, r)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if err := finding.WriteText(w, rep.Findings); err != nil {
		return err
	}
	bad := map[string]bool{}
	for _, f := range rep.Findings {
		bad[f.File] = true
	}
	for _, c := range rep.Requests {
		if bad[c.Request.File] || c.Decision.Policy == nil {
			continue
		}
		var rules []string
		for _, p := range c.Decision.Policies {
			rules = append(rules, fmt.Sprintf("policy %s needs %d approval%s from %s", p.Name, p.Approvals, plural(p.Approvals), p.Approvers))
		}
		fmt.Fprintf(w, "%s: ok: %s %s on %s for %s; %s\n",
			finding.EscapeLine(c.Request.File), finding.EscapeLine(c.Request.Requester), c.Request.PermissionSet, c.Decision.AccountID, c.Request.DurationText,
			strings.Join(rules, "; and "))
	}
	what := "file"
	if rep.Mode == "pr" {
		what = "changed file"
	}
	fmt.Fprintf(w, "%d %s%s checked, %d finding%s\n", rep.Files, what, plural(rep.Files), len(rep.Findings), plural(len(rep.Findings)))
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
