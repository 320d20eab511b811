package action

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/request"
	"github.com/elevate-dev/elevate/internal/validate"
)

// Marker opens the one PR comment elevate keeps up to date. Only a comment
// by a bot that starts with it is elevate's; text from a request can never
// contain it, because text renders with < and > as entities.
const Marker = "<!-- elevate:summary -->"

// maxRows bounds the findings listed in a summary, so that the PR comment
// stays under GitHub's 65,536-character limit whatever a PR holds.
const maxRows = 100

// Text makes s safe to place anywhere in GitHub Markdown, table cells
// included: every ASCII character other than letters, digits, space, comma
// and dash becomes a numeric entity (so no |, <, >, backtick, *, _, [ or :
// can start markup, a link or a fake marker); @ and # are followed by a
// zero-width space, as Dependabot writes them, so they mention nobody and
// reference no issue; and line breaks and other invisible characters become
// visible escapes, so the result is always one line.
func Text(s string) string {
	var b strings.Builder
	for _, r := range finding.Escape(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == ' ', r == ',', r == '-':
			b.WriteRune(r)
		case r == '@', r == '#':
			fmt.Fprintf(&b, "&#%d;&#8203;", r)
		case r < 0x80:
			fmt.Fprintf(&b, "&#%d;", r)
		case !unicode.IsPrint(r):
			// Bidi overrides and zero-width characters, which finding.Escape keeps.
			fmt.Fprintf(&b, `&#92;u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Code renders s, escaped as Text does, in a <code> element: for names
// and ids.
func Code(s string) string {
	if s == "" {
		return "-"
	}
	return "<code>" + Text(s) + "</code>"
}

// Summary is what the PR check shows: the step summary and, with the
// marker in front, the PR comment.
type Summary struct {
	Report *validate.Report
	// PR is the pull request number, 0 outside a PR.
	PR int
	// Head and Base are the commits checked (Base empty in tree mode).
	Head, Base string
	// Warnings are findings shown but not counted (see Run).
	Warnings []finding.Finding
}

// Markdown renders the summary.
func (s Summary) Markdown() string {
	var b strings.Builder
	rep := s.Report
	n := len(rep.Requests)
	fmt.Fprintf(&b, "### elevate: %d access request%s, %d finding%s\n\n", n, plural(n), len(rep.Findings), plural(len(rep.Findings)))
	if n > 0 {
		bad := map[string]int{}
		for _, f := range rep.Findings {
			bad[f.File]++
		}
		b.WriteString("| Request | Requester | Account | Permission set | Duration | Ends | Reason | Policy | Who can approve | Approvals needed | Check |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, c := range rep.Requests {
			r, d := c.Request, c.Decision
			account := Code(r.Account)
			if d.AccountID != "" && d.AccountID != r.Account {
				account += " (" + Text(d.AccountID) + ")"
			}
			policy, approvers, approvals := "none", "-", "-"
			if len(d.Policies) > 0 {
				// Every covering policy must hold: list each one's rule.
				var ps, as, ns []string
				for _, p := range d.Policies {
					ps = append(ps, Code(p.Name))
					as = append(as, Code(p.Approvers.String()))
					ns = append(ns, fmt.Sprint(p.Approvals))
				}
				policy, approvers, approvals = strings.Join(ps, " and "), strings.Join(as, " and "), strings.Join(ns, " and ")
			}
			reason := Text(r.Reason)
			if r.Ticket != "" {
				reason += " (" + Code(r.Ticket) + ")"
			}
			check := "✅ allowed, once approved"
			if k := bad[r.File]; k > 0 {
				check = fmt.Sprintf("❌ %d finding%s", k, plural(k))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				Code(r.ID), Code(r.Requester), account, Code(r.PermissionSet), Code(r.DurationText), Text(ends(r)),
				reason, policy, approvers, approvals, check)
		}
		b.WriteString("\n> [!WARNING]\n> Revoking access does not end AWS sessions already issued: a session lasts until the permission set's session duration runs out, which may be longer than the grant. Keep permission sets' session durations short.\n\n")
	}
	if len(rep.Findings)+len(s.Warnings) > 0 {
		b.WriteString("| File | Line | Rule | Problem | Fix |\n| --- | --- | --- | --- | --- |\n")
		rows := 0
		for _, group := range []struct {
			prefix string
			fs     []finding.Finding
		}{{"❌ ", rep.Findings}, {"⚠️ ", s.Warnings}} {
			for _, f := range group.fs {
				if rows == maxRows {
					break
				}
				rows++
				fmt.Fprintf(&b, "| %s | %d | %s%s | %s | %s |\n", Code(f.File), f.Line, group.prefix, Text(f.Rule), Text(f.Message), Text(f.Fix))
			}
		}
		if more := len(rep.Findings) + len(s.Warnings) - rows; more > 0 {
			fmt.Fprintf(&b, "\n… and %d more; run `elevate validate` locally for the full list.\n", more)
		}
		b.WriteString("\n")
	}
	if n == 0 && len(rep.Findings) == 0 {
		b.WriteString("This pull request adds no access request.\n\n")
	}
	switch {
	case s.Base != "":
		fmt.Fprintf(&b, "<sub>Checked %s against the policies, identities and CODEOWNERS of base %s. Updated on every push.</sub>\n", short(s.Head), short(s.Base))
	case s.Head != "":
		fmt.Fprintf(&b, "<sub>Checked every file at %s.</sub>\n", short(s.Head))
	}
	return b.String()
}

// ends says when access would end: an absolute time when the request has a
// start, otherwise relative to the merge (the grant follows the merge).
func ends(r *request.Request) string {
	if r.Start != nil {
		return request.FormatTime(r.Start.Add(r.Duration))
	}
	return request.FormatDuration(r.Duration) + " after merge"
}

func short(sha string) string {
	if len(sha) > 12 {
		sha = sha[:12]
	}
	return Code(sha)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
