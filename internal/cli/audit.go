package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/elevate-dev/elevate/internal/audit"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/policy"
	"github.com/elevate-dev/elevate/internal/request"
)

// auditOptions are the flags of `elevate audit`.
type auditOptions struct {
	Dir        string
	Rev        string
	Format     string
	Since      string
	Until      string
	Account    string
	Requester  string
	Set        string
	Policy     string
	Granted    bool
	Grace      time.Duration
	Identities string
}

func parseAudit(env Env, args []string) (auditOptions, error) {
	o := auditOptions{}
	fs := newFlags(env, "audit", "audit [--since DATE] [--until DATE] [--account A] [--requester LOGIN] [--permission-set P] [--format table|csv|json|markdown]",
		`  elevate audit                                                  # every request ever
  elevate audit --since 2026-07-01 --until 2026-10-01 --account prod,prod-data \
    --permission-set AdministratorAccess --granted                 # who had admin in production last quarter
  elevate audit --requester alice --format csv > alice.csv
  elevate audit --format markdown --rev origin/main > audit.md

It reads git history only (no AWS, no GitHub): main's first-parent commits that
touch requests/, status/ and archive/, their trailers and the status files they
wrote. Clone with the whole history (actions/checkout: fetch-depth: 0).
Lists take commas. --since/--until take a date (UTC) or an RFC 3339 time and
keep the requests whose access overlaps [since, until).
Gaps are flagged, and make the exit status 1:
  closure-missing  an approved request's end passed (beyond --grace) with no closure recorded
  closure-late     access was revoked more than --grace after its end
  record-missing   a merged request no run has recorded
  state-identity   a state commit not made by elevate's identity (ELEVATE_GIT_EMAIL, or --identity)
  state-trailer    state changed by a commit without the Elevate-State trailer, or with trailers that disagree
  state-unreadable a state file that does not parse
  request-changed  a merged request edited, or archived with bytes other than were merged (blob ids differ)
  archive-changed  an archived file changed or removed
  merge-missing    state recorded for a request no commit on main adds
  merge-rewritten  the merge commit elevate recorded is not the one in the history (history rewritten)
  grant-missing    a closure that says it was granted, with no grant commit in the history`)
	fs.StringVar(&o.Dir, "C", ".", "run as if started in `dir` (a clone with full history)")
	fs.StringVar(&o.Rev, "rev", "HEAD", "read the history of this `ref`, e.g. origin/main")
	fs.StringVar(&o.Format, "format", "table", "output `format`: table, csv, json or markdown")
	fs.StringVar(&o.Since, "since", "", "only access that overlaps or follows `DATE` (2026-07-01, or RFC 3339)")
	fs.StringVar(&o.Until, "until", "", "only access that began before `DATE` (exclusive)")
	fs.StringVar(&o.Account, "account", "", "only these `accounts` (ids or aliases, comma-separated)")
	fs.StringVar(&o.Requester, "requester", "", "only these GitHub `logins` (comma-separated)")
	fs.StringVar(&o.Set, "permission-set", "", "only these permission `sets` (comma-separated)")
	fs.StringVar(&o.Policy, "policy", "", "only requests decided under these `policies` (comma-separated)")
	fs.BoolVar(&o.Granted, "granted", false, "only requests that were granted access (not denied, failed or lapsed)")
	fs.DurationVar(&o.Grace, "grace", 30*time.Minute, "how late a closure may be recorded before it is a gap")
	fs.StringVar(&o.Identities, "identity", "", "the `emails` elevate commits state as (comma-separated); default ELEVATE_GIT_EMAIL or "+ledger.DefaultSignature.Email)
	if err := parse(fs, args, 0); err != nil {
		return o, err
	}
	known := false
	for _, f := range audit.Formats {
		known = known || f == o.Format
	}
	if o.Format == "md" {
		o.Format, known = "markdown", true
	}
	if !known {
		return o, &UsageError{Msg: fmt.Sprintf("--format %q: use %s", o.Format, strings.Join(audit.Formats, ", "))}
	}
	for _, t := range []struct {
		flag string
		v    *string
	}{{"--since", &o.Since}, {"--until", &o.Until}} {
		if *t.v == "" {
			continue
		}
		at, err := parseDay(*t.v)
		if err != nil {
			return o, &UsageError{Msg: fmt.Sprintf("%s %q: %v; write a date such as 2026-07-01 or a time such as 2026-07-01T00:00:00Z", t.flag, *t.v, err)}
		}
		*t.v = request.FormatTime(at)
	}
	if o.Grace < 0 {
		return o, &UsageError{Msg: "--grace must not be negative"}
	}
	o.Dir = absDir(env, o.Dir)
	return o, nil
}

// parseDay reads a date (midnight UTC) or an RFC 3339 time.
func parseDay(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return request.ParseTime(s)
}

func runAudit(ctx context.Context, env Env, args []string) error {
	o, err := parseAudit(env, args)
	if err != nil {
		return err
	}
	repo, err := gitrepo.Open(ctx, o.Dir)
	if err != nil {
		return err
	}
	defer repo.Close()
	ids := list(o.Identities)
	if len(ids) == 0 {
		if e := env.Getenv("ELEVATE_GIT_EMAIL"); e != "" {
			ids = []string{e}
		} else {
			ids = []string{ledger.DefaultSignature.Email}
		}
	}
	f := audit.Filter{Since: o.Since, Until: o.Until, Accounts: list(o.Account), Requesters: list(o.Requester),
		PermissionSets: list(o.Set), Policies: list(o.Policy), Granted: o.Granted, Aliases: map[string]string{}}
	if rev, err := repo.Resolve(ctx, o.Rev); err == nil {
		if set, _, _ := policy.Load(ctx, repo.At(rev)); set != nil {
			for _, p := range set.Policies {
				for _, a := range p.Accounts {
					if a.Alias != "" {
						f.Aliases[a.Alias] = a.ID
					}
				}
			}
		}
	}
	rep, err := audit.Read(ctx, audit.Config{Repo: repo, Rev: o.Rev, Identities: ids, Now: env.Now().UTC(), Grace: o.Grace}, f)
	if err != nil {
		return err
	}
	if err := audit.Write(env.Stdout, rep, o.Format); err != nil {
		return err
	}
	if len(rep.Gaps) > 0 {
		return &FindingsError{Count: len(rep.Gaps)}
	}
	return nil
}

// list splits a comma-separated flag value.
func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
