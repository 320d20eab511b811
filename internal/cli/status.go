package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/ledger"
	"github.com/elevate-dev/elevate/internal/policy"
	"github.com/elevate-dev/elevate/internal/request"
)

// statusOptions are the flags of `elevate status`.
type statusOptions struct {
	Dir    string
	Mine   bool
	Format string
}

func parseStatus(env Env, args []string) (statusOptions, error) {
	o := statusOptions{}
	fs := newFlags(env, "status", "status [--mine] [--format text|json]", `  git pull && elevate status        # every open request on main
  elevate status --mine              # only yours
  elevate status --format json | jq '.requests[] | select(.state == "active")'

It reads the checkout (requests/ and status/), nothing else: pull main first.
States: active (granted), pending (approved, starts later), new (merged or
written, not yet recorded by reconcile). --mine finds your login as elevate
request does: GITHUB_ACTOR, git config github.user, the owner of GITHUB_TOKEN.`)
	fs.StringVar(&o.Dir, "C", ".", "run as if started in `dir` (a checkout of main)")
	fs.BoolVar(&o.Mine, "mine", false, "only requests whose requester is you")
	fs.StringVar(&o.Format, "format", "text", "output `format`: text or json")
	if err := parse(fs, args, 0); err != nil {
		return o, err
	}
	if err := textOrJSON(o.Format); err != nil {
		return o, err
	}
	o.Dir = absDir(env, o.Dir)
	return o, nil
}

// openRequest is one line of `elevate status`.
type openRequest struct {
	ID            string       `json:"id"`
	State         ledger.State `json:"state"`
	Requester     string       `json:"requester"`
	Account       string       `json:"account"`
	AccountAlias  string       `json:"accountAlias,omitempty"`
	PermissionSet string       `json:"permissionSet"`
	Policy        string       `json:"policy,omitempty"`
	PullRequest   int          `json:"pullRequest,omitempty"`
	ApprovedBy    []string     `json:"approvedBy"`
	Start         string       `json:"start,omitempty"`
	End           string       `json:"end,omitempty"`
	// TimeLeft is until the end, for people; SecondsLeft for machines
	// (negative when the end has passed and the next run will revoke).
	TimeLeft    string `json:"timeLeft"`
	SecondsLeft *int64 `json:"secondsLeft,omitempty"`
}

// stateNew is a request in requests/ that reconcile has not recorded yet.
const stateNew ledger.State = "new"

func runStatus(ctx context.Context, env Env, args []string) error {
	o, err := parseStatus(env, args)
	if err != nil {
		return err
	}
	repo, err := gitrepo.Open(ctx, o.Dir)
	if err != nil {
		return err
	}
	defer repo.Close()
	mine := ""
	if o.Mine {
		if mine, _ = githubLogin(ctx, env, repo); mine == "" {
			return &UsageError{Msg: "--mine needs your GitHub login: set GITHUB_ACTOR, run git config github.user <login>, or set GITHUB_TOKEN"}
		}
	}
	led := &ledger.Ledger{Repo: repo}
	ids, statuses, problems, err := led.Open(ctx)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(env.Stderr, "warning: %s\n", finding.EscapeLine(p))
	}
	set, _, _ := policy.Load(ctx, gitrepo.WorkTree(repo.Dir))
	now := env.Now().UTC()
	var rows []openRequest
	for _, id := range ids {
		row := openRequest{ID: id, ApprovedBy: []string{}}
		if st := statuses[id]; st != nil {
			row.State, row.Requester, row.Account, row.PermissionSet = st.State, st.Requester, st.Account, st.PermissionSet
			row.Policy, row.PullRequest, row.Start, row.End = st.Policy, st.PullRequest, st.Start, st.End
			row.ApprovedBy = append(row.ApprovedBy, st.ApprovedBy...)
		} else {
			row.State = stateNew
			path := request.Dir + "/" + id + ".yaml"
			data, _, rerr := gitrepo.WorkTree(repo.Dir).Read(ctx, path, 1<<20)
			if rerr == nil {
				if r, _ := request.Parse(path, data); r != nil {
					row.Requester, row.Account, row.PermissionSet = r.Requester, r.Account, r.PermissionSet
					// Reconcile records a request when it grants it; until
					// then the window is what the file asks for.
					if r.Start != nil {
						row.Start, row.End = request.FormatTime(*r.Start), request.FormatTime(r.Start.Add(r.Duration))
					}
				}
			}
		}
		if set != nil {
			if acc, ok := set.ResolveAccount(row.Account); ok && acc != row.Account {
				row.AccountAlias, row.Account = row.Account, acc
			} else if row.AccountAlias == "" {
				row.AccountAlias = aliasOf(set, row.Account)
			}
		}
		if mine != "" && !strings.EqualFold(row.Requester, mine) {
			continue
		}
		row.TimeLeft, row.SecondsLeft = timeLeft(row.State, row.Start, row.End, now)
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if a, b := stateRank(rows[i].State), stateRank(rows[j].State); a != b {
			return a < b
		}
		return rows[i].End < rows[j].End
	})
	if o.Format == "json" {
		if rows == nil {
			rows = []openRequest{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Now      string        `json:"now"`
			Requests []openRequest `json:"requests"`
		}{request.FormatTime(now), rows})
	}
	return writeStatus(env.Stdout, rows, mine)
}

func writeStatus(w io.Writer, rows []openRequest, mine string) error {
	if len(rows) == 0 {
		if mine != "" {
			_, err := fmt.Fprintf(w, "%s has no active or pending requests\n", mine)
			return err
		}
		_, err := fmt.Fprintln(w, "no active or pending requests")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tSTATE\tREQUESTER\tACCOUNT\tPERMISSION SET\tAPPROVED BY\tSTART\tEND\tTIME LEFT")
	for _, r := range rows {
		acc := r.Account
		if r.AccountAlias != "" {
			acc += " (" + r.AccountAlias + ")"
		}
		cells := []string{r.ID, string(r.State), r.Requester, acc, r.PermissionSet, strings.Join(r.ApprovedBy, ", "), r.Start, r.End, r.TimeLeft}
		for i, c := range cells {
			cells[i] = dash(finding.EscapeLine(c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func stateRank(s ledger.State) int {
	switch s {
	case ledger.Active:
		return 0
	case ledger.Pending:
		return 1
	}
	return 2
}

// timeLeft says how long access has left, or when it starts.
func timeLeft(state ledger.State, start, end string, now time.Time) (string, *int64) {
	e, err := time.Parse(time.RFC3339, end)
	if err != nil {
		return "starts when reconcile records it", nil
	}
	secs := int64(e.Sub(now) / time.Second)
	left := e.Sub(now)
	switch {
	case state == stateNew:
		s, _ := time.Parse(time.RFC3339, start)
		if s.After(now) {
			return fmt.Sprintf("starts in %s, then %s (approvals are checked then)", roundAge(s.Sub(now)), roundAge(e.Sub(s))), &secs
		}
		return "starts when reconcile records it", &secs
	case left <= 0:
		return fmt.Sprintf("ended %s ago; the next run revokes it", roundAge(-left)), &secs
	case state == ledger.Pending:
		s, _ := time.Parse(time.RFC3339, start)
		if s.After(now) {
			return fmt.Sprintf("starts in %s, then %s", roundAge(s.Sub(now)), roundAge(e.Sub(s))), &secs
		}
		return fmt.Sprintf("%s (the next run grants it)", roundAge(left)), &secs
	}
	return roundAge(left), &secs
}

// roundAge writes a duration to the minute, at least 1m.
func roundAge(d time.Duration) string {
	if d < time.Minute {
		return "<1m"
	}
	return request.FormatDuration(d)
}

func aliasOf(set *policy.Set, id string) string {
	for _, p := range set.Policies {
		for _, a := range p.Accounts {
			if a.ID == id && a.Alias != "" {
				return a.Alias
			}
		}
	}
	return ""
}
