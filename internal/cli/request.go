package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"gopkg.in/yaml.v3"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/policy"
	"github.com/elevate-dev/elevate/internal/request"
)

// requestOptions are the flags of `elevate request`.
type requestOptions struct {
	Dir           string
	ID            string
	Requester     string
	Account       string
	PermissionSet string
	Duration      string
	Reason        string
	Ticket        string
	Start         string
	OpenPR        bool
	Base          string
	DryRun        bool
}

const requestExamples = `  elevate request --account prod --permission-set AdministratorAccess --duration 2h \
    --reason "Roll back the failed deploy in INC-1234" --ticket INC-1234
  elevate request --account sandbox --permission-set ReadOnlyAccess --duration 1d \
    --reason "Look at the VPC flow logs" --start 2026-12-04T09:00:00Z --open-pr
  elevate new                         # in a terminal: asks for each field, listing what the policies allow
  elevate request ... --dry-run       # print the file, write nothing

The requester is the first of: --requester, GITHUB_ACTOR, git config github.user,
the owner of GITHUB_TOKEN. It must be you: the PR author must be the requester.
The file is checked against the policies in this checkout before it is written;
nothing is written when a policy does not allow it.
--open-pr needs GITHUB_TOKEN (yours: gh auth token) and GITHUB_REPOSITORY or a
GitHub origin remote; it creates branch elevate/<id>, commits the file there and
opens the PR, leaving your checkout untouched.`

func parseRequest(env Env, args []string) (requestOptions, error) {
	o := requestOptions{}
	fs := newFlags(env, "request", "request [--account A --permission-set P --duration D --reason R] [--ticket T] [--start TIME] [--open-pr]", requestExamples)
	fs.StringVar(&o.Dir, "C", ".", "run as if started in `dir` (a checkout of main)")
	fs.StringVar(&o.ID, "id", "", "the request `id` (file name); default <requester>-<account>-<yyyymmdd>-<hhmm>")
	fs.StringVar(&o.Requester, "requester", "", "your GitHub `login` (see below for the default)")
	fs.StringVar(&o.Account, "account", "", "the `account`: an alias a policy defines (prod) or a 12-digit id")
	fs.StringVar(&o.PermissionSet, "permission-set", "", "the IAM Identity Center permission `set`, e.g. AdministratorAccess")
	fs.StringVar(&o.Duration, "duration", "", "how long: a `duration` such as 30m, 2h, 1h30m, 1d (at most the policy's maxDuration)")
	fs.StringVar(&o.Reason, "reason", "", "the `text` approvers read: why, on one line (10 to 500 characters)")
	fs.StringVar(&o.Ticket, "ticket", "", "the ticket or incident `id`, required when the policy says so")
	fs.StringVar(&o.Start, "start", "", "start at `TIME` (RFC 3339 with a zone); default: when merged")
	fs.BoolVar(&o.OpenPR, "open-pr", false, "create a branch, commit and pull request through the GitHub API")
	fs.StringVar(&o.Base, "base", "main", "with --open-pr: the `branch` the PR merges into")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print the request file instead of writing it")
	if err := parse(fs, args, 0); err != nil {
		return o, err
	}
	if o.OpenPR && o.DryRun {
		return o, &UsageError{Msg: "--open-pr and --dry-run cannot be used together"}
	}
	o.Dir = absDir(env, o.Dir)
	return o, nil
}

func runRequest(ctx context.Context, env Env, args []string) error {
	o, err := parseRequest(env, args)
	if err != nil {
		return err
	}
	repo, err := gitrepo.Open(ctx, o.Dir)
	if err != nil {
		return err
	}
	defer repo.Close()
	set, pfs, err := policy.Load(ctx, gitrepo.WorkTree(repo.Dir))
	if err != nil {
		return err
	}
	if pfs != nil {
		_ = finding.WriteText(env.Stderr, pfs)
		return fmt.Errorf("the policies in %s do not validate, so no request can be checked against them; pull main and try again", repo.Dir)
	}
	if o.Requester == "" {
		o.Requester, _ = githubLogin(ctx, env, repo)
	}
	// Prompt only for what the flags left out: a full command line runs as is.
	if env.Interactive && (o.Requester == "" || o.Account == "" || o.PermissionSet == "" || o.Duration == "" || o.Reason == "") {
		if err := prompt(env, set, &o); err != nil {
			return err
		}
	}
	var missing []string
	for _, f := range []struct{ flag, v string }{{"--requester", o.Requester}, {"--account", o.Account}, {"--permission-set", o.PermissionSet}, {"--duration", o.Duration}, {"--reason", o.Reason}} {
		if f.v == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return &UsageError{Msg: fmt.Sprintf("missing %s: give them as flags, or run elevate request in a terminal to be asked", strings.Join(missing, ", "))}
	}
	if o.ID == "" {
		o.ID = newID(repo.Dir, o.Requester, o.Account, env.Now())
	}
	file := request.Dir + "/" + o.ID + ".yaml"
	data, lines := requestYAML(o)

	r, problems := request.Parse(file, data)
	if p := idTaken(repo.Dir, o.ID); p != "" {
		problems = append(problems, finding.New(file, finding.Pos{Line: 1, Col: 1}, "request-id-reused",
			fmt.Sprintf("request id %q is taken (%s exists); ids are unique forever", o.ID, p), "choose another with --id"))
	}
	var d policy.Decision
	if r != nil {
		var teams policy.TeamChecker
		if gh, _, _, err := githubClient(env); err == nil {
			teams = teamChecker{gh.Teams}
		}
		d = set.Evaluate(ctx, r, teams)
		problems = append(problems, d.Findings...)
	}
	if len(problems) > 0 {
		finding.Sort(problems)
		fmt.Fprintf(env.Stderr, "%s was not written: change what these say and run again.\n", file)
		for _, f := range problems {
			fmt.Fprintf(env.Stderr, "  %s\n", flagFinding(f, lines))
		}
		return &FindingsError{Count: len(problems)}
	}
	p := d.Policy
	switch {
	case o.DryRun:
		_, err = env.Stdout.Write(data)
		return err
	case o.OpenPR:
		if err := openPR(ctx, env, repo, o, file, data, p); err != nil {
			return err
		}
	default:
		full := filepath.Join(repo.Dir, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", file)
	}
	start := "when the PR is merged"
	if r.Start != nil {
		start = "at " + request.FormatTime(*r.Start)
	}
	fmt.Fprintf(env.Stdout, "  %s asks for %s on %s for %s, starting %s\n", finding.EscapeLine(r.Requester), r.PermissionSet, accountText(r.Account, d.AccountID), r.DurationText, start)
	fmt.Fprintf(env.Stdout, "  policy %s applies: %d approval%s needed from %s\n", p.Name, p.Approvals, plural(p.Approvals), p.Approvers)
	fmt.Fprintf(env.Stdout, "  (an approval counts on the PR's final commit, from an approver who is not %s and authored no commit in it)\n", finding.EscapeLine(r.Requester))
	if !o.OpenPR {
		fmt.Fprintf(env.Stdout, "next: commit it on a new branch and open a pull request, or run again with --open-pr\n")
	}
	return nil
}

// flagFinding says a finding in terms of the flag that gave the value.
func flagFinding(f finding.Finding, lines map[int]string) string {
	flag := lines[f.Line]
	if f.Rule == "ticket-required" {
		flag = "ticket"
	}
	msg := f.Message
	if f.Fix != "" {
		msg += "; " + f.Fix
	}
	if flag == "" {
		return f.Text()
	}
	return fmt.Sprintf("--%s: %s [%s]", flagName(flag), finding.EscapeLine(msg), f.Rule)
}

func flagName(field string) string {
	if field == "permissionSet" {
		return "permission-set"
	}
	return field
}

var idUnsafeRE = regexp.MustCompile(`[^a-z0-9]+`)

// newID is <requester>-<account>-<yyyymmdd>-<hhmm>, with -2, -3... when
// that is taken.
func newID(dir, requester, account string, now time.Time) string {
	id := strings.Trim(idUnsafeRE.ReplaceAllString(strings.ToLower(requester+"-"+account), "-"), "-")
	// Leave room for the time stamp and a counter.
	if max := request.MaxIDLength - len("-20060102-1504-99"); len(id) > max {
		id = strings.Trim(id[:max], "-")
	}
	id += "-" + now.UTC().Format("20060102-1504")
	if idTaken(dir, id) == "" {
		return id
	}
	for n := 2; ; n++ {
		if c := fmt.Sprintf("%s-%d", id, n); idTaken(dir, c) == "" {
			return c
		}
	}
}

// idTaken returns the path that already uses id in the checkout at dir, or "".
func idTaken(dir, id string) string {
	for _, p := range []string{request.Dir + "/" + id + ".yaml", ledger.StatusPath(id), ledger.ArchivePath(id), ledger.ArchiveStatusPath(id)} {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p))); !errors.Is(err, fs.ErrNotExist) {
			return p
		}
	}
	return ""
}

// requestYAML writes the request file and says which line holds which field.
func requestYAML(o requestOptions) ([]byte, map[int]string) {
	var b bytes.Buffer
	b.WriteString("# yaml-language-server: $schema=../schema/request.schema.json\n")
	lines := map[int]string{}
	n := 1
	put := func(field, v string, quote bool) {
		if v == "" {
			return
		}
		n++
		lines[n] = field
		if quote || !plainSafe(v) {
			v = quoted(v)
		}
		fmt.Fprintf(&b, "%s: %s\n", field, v)
	}
	put("requester", o.Requester, false)
	put("account", o.Account, digitsOnly(o.Account))
	put("permissionSet", o.PermissionSet, false)
	put("duration", o.Duration, false)
	put("reason", o.Reason, false)
	put("ticket", o.Ticket, false)
	put("start", o.Start, true)
	return b.Bytes(), lines
}

// plainSafe reports whether v reads back as the same string when written
// unquoted.
func plainSafe(v string) bool {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("k: "+v+"\n"), &doc); err != nil || len(doc.Content) != 1 {
		return false
	}
	m := doc.Content[0]
	if len(m.Content) != 2 {
		return false
	}
	s := m.Content[1]
	return s.Kind == yaml.ScalarNode && s.Style == 0 && s.Tag == "!!str" && s.Value == v && s.Anchor == ""
}

// quoted is a YAML double-quoted scalar (JSON's escapes are YAML's).
func quoted(v string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func accountText(written, id string) string {
	if id == "" || written == id {
		return written
	}
	return written + " (" + id + ")"
}

// prompt asks for every field the flags did not give, listing what the
// policies allow. Answers are checked as they come, so a typo is asked again.
func prompt(env Env, set *policy.Set, o *requestOptions) error {
	in := bufio.NewReader(env.Stdin)
	// ask reads one answer; an empty answer is checked like any other, and
	// the end of input is an empty answer.
	ask := func(flag, question, def string, check func(string) error) (string, error) {
		for try := 0; try < 3; try++ {
			if def != "" {
				fmt.Fprintf(env.Stderr, "%s [%s]: ", question, def)
			} else {
				fmt.Fprintf(env.Stderr, "%s: ", question)
			}
			line, err := in.ReadString('\n')
			line = strings.TrimSpace(line)
			if line == "" {
				line = def
			}
			cerr := check(line)
			if cerr == nil {
				return line, nil
			}
			fmt.Fprintf(env.Stderr, "  %v\n", cerr)
			if err != nil {
				return "", &UsageError{Msg: fmt.Sprintf("%s: %v", flag, cerr)}
			}
		}
		return "", &UsageError{Msg: "no valid answer for " + flag}
	}
	required := func(what string) func(string) error {
		return func(s string) error {
			if s == "" {
				return fmt.Errorf("%s is required", what)
			}
			return nil
		}
	}
	var err error
	if o.Requester == "" {
		if o.Requester, err = ask("--requester", "Your GitHub login", "", required("your login")); err != nil {
			return err
		}
	}
	if o.Account == "" {
		accounts := accountChoices(set)
		o.Account, err = ask("--account", "Account ("+strings.Join(accounts, ", ")+")", "", func(s string) error {
			if _, ok := set.ResolveAccount(s); !ok {
				return fmt.Errorf("no policy covers %q; use one of %s", s, strings.Join(accounts, ", "))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	id, _ := set.ResolveAccount(o.Account)
	if o.PermissionSet == "" {
		sets := setChoices(set, id)
		def := ""
		if len(sets) == 1 {
			def = sets[0]
		}
		o.PermissionSet, err = ask("--permission-set", "Permission set ("+strings.Join(sets, ", ")+")", def, func(s string) error {
			if p, _ := set.Applicable(id, s); p == nil {
				return fmt.Errorf("no policy covers %q on %s; use one of %s", s, o.Account, strings.Join(sets, ", "))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	p, _ := set.Applicable(id, o.PermissionSet)
	if o.Duration == "" {
		q := "Duration (30m, 2h, 1h30m, 1d)"
		if p != nil {
			q = fmt.Sprintf("Duration, at most %s (30m, 2h, 1h30m, 1d)", p.MaxDurationText)
		}
		o.Duration, err = ask("--duration", q, "", func(s string) error {
			d, err := request.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%q: %v", s, err)
			}
			if p != nil && d > p.MaxDuration {
				return fmt.Errorf("%s is more than policy %s allows (%s)", s, p.Name, p.MaxDurationText)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if o.Reason == "" {
		o.Reason, err = ask("--reason", "Reason, on one line (approvers read it)", "", func(s string) error {
			if n := len([]rune(s)); n < 10 || n > 500 {
				return fmt.Errorf("write 10 to 500 characters (this is %d)", n)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if o.Ticket == "" && p != nil && p.Ticket != nil {
		o.Ticket, err = ask("--ticket", fmt.Sprintf("Ticket (policy %s requires one matching %s)", p.Name, p.Ticket), "", func(s string) error {
			if loc := p.Ticket.FindStringIndex(s); loc == nil || loc[0] != 0 || loc[1] != len(s) {
				return fmt.Errorf("%q does not match %s", s, p.Ticket)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if o.Start == "" {
		o.Start, err = ask("--start", "Start (RFC 3339 such as 2026-12-04T09:00:00Z; empty: when merged)", "", func(s string) error {
			if s == "" {
				return nil
			}
			if _, err := request.ParseTime(s); err != nil {
				return fmt.Errorf("%q: %v", s, err)
			}
			return nil
		})
	}
	return err
}

func accountChoices(set *policy.Set) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range set.Policies {
		for _, a := range p.Accounts {
			k := a.ID
			if a.Alias != "" {
				k = a.Alias
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func setChoices(set *policy.Set, accountID string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range set.Policies {
		for _, a := range p.Accounts {
			if a.ID != accountID {
				continue
			}
			for _, ps := range p.PermissionSets {
				if !seen[ps] {
					seen[ps] = true
					out = append(out, ps)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// openPR creates branch elevate/<id> from base, commits the file on it and
// opens the pull request, all through the GitHub API.
func openPR(ctx context.Context, env Env, repo *gitrepo.Repo, o requestOptions, file string, data []byte, p *policy.Policy) error {
	gh, err := githubAPI(env)
	if err != nil {
		return fmt.Errorf("--open-pr needs GITHUB_TOKEN (your own: the PR author must be the requester; e.g. GITHUB_TOKEN=$(gh auth token))")
	}
	owner, name, err := repository(ctx, env, repo)
	if err != nil {
		return err
	}
	if me, _, err := gh.Users.Get(ctx, ""); err == nil && !strings.EqualFold(me.GetLogin(), o.Requester) {
		return fmt.Errorf("GITHUB_TOKEN belongs to %s but the requester is %s; the PR author must be the requester, so use %s's own token", me.GetLogin(), o.Requester, o.Requester)
	}
	base, _, err := gh.Git.GetRef(ctx, owner, name, "heads/"+o.Base)
	if err != nil {
		return fmt.Errorf("read branch %s of %s/%s: %w", o.Base, owner, name, err)
	}
	branch := "elevate/" + o.ID
	if _, _, err := gh.Git.CreateRef(ctx, owner, name, &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: base.GetObject().SHA}}); err != nil {
		return fmt.Errorf("create branch %s: %w", branch, err)
	}
	title := fmt.Sprintf("Request %s: %s on %s for %s", o.ID, o.PermissionSet, o.Account, o.Duration)
	if _, _, err := gh.Repositories.CreateFile(ctx, owner, name, file, &github.RepositoryContentFileOptions{
		Message: github.String(title), Content: data, Branch: github.String(branch),
	}); err != nil {
		return fmt.Errorf("commit %s on branch %s (the branch exists now; delete it or choose another --id): %w", file, branch, err)
	}
	body := fmt.Sprintf("%s asks for **%s** on **%s** for **%s**.\n\n> %s\n\nPolicy **%s** applies: %d approval%s needed from %s.\n\nWritten by `elevate request`.\n",
		o.Requester, o.PermissionSet, o.Account, o.Duration, o.Reason, p.Name, p.Approvals, plural(p.Approvals), p.Approvers)
	pr, _, err := gh.PullRequests.Create(ctx, owner, name, &github.NewPullRequest{Title: github.String(title), Head: github.String(branch), Base: github.String(o.Base), Body: github.String(body)})
	if err != nil {
		return fmt.Errorf("open the pull request from %s (the branch and its commit exist; open it by hand or delete the branch): %w", branch, err)
	}
	fmt.Fprintf(env.Stdout, "opened pull request #%d from branch %s: %s\n", pr.GetNumber(), branch, pr.GetHTMLURL())
	return nil
}
