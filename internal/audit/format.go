package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/elevate-dev/elevate/internal/finding"
)

// Formats are the output formats Write accepts.
var Formats = []string{"table", "csv", "json", "markdown"}

// Write writes the report in format: table, csv, json or markdown.
func Write(w io.Writer, rep *Report, format string) error {
	switch format {
	case "table":
		return WriteTable(w, rep)
	case "csv":
		return WriteCSV(w, rep)
	case "json":
		return WriteJSON(w, rep)
	case "markdown", "md":
		return WriteMarkdown(w, rep)
	}
	return fmt.Errorf("unknown format %q: use %s", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the report as one indented JSON object.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

// account shows the id with the alias the request used, if it used one.
func (r *Record) account() string {
	switch {
	case r.Account == "":
		return r.AccountAsWritten
	case r.AccountAsWritten != "" && r.AccountAsWritten != r.Account:
		return r.Account + " (" + r.AccountAsWritten + ")"
	}
	return r.Account
}

func (r *Record) pr() string {
	if r.PullRequest == 0 {
		return ""
	}
	return "#" + strconv.Itoa(r.PullRequest)
}

// commits lists the steps as "action sha" pairs.
func (r *Record) commits() string {
	var parts []string
	for _, s := range r.Steps {
		parts = append(parts, s.Action+" "+short(s.Commit))
	}
	return strings.Join(parts, ", ")
}

func summary(rep *Report) string {
	return fmt.Sprintf("%d request%s in the history of %s, read at %s; %d gap%s",
		len(rep.Requests), plural(len(rep.Requests)), short(rep.Head), rep.GeneratedAt, len(rep.Gaps), plural(len(rep.Gaps)))
}

// WriteTable writes the report for a terminal: one line per request, the
// commits that prove each, then the gaps.
func WriteTable(w io.Writer, rep *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tREQUESTER\tACCOUNT\tPERMISSION SET\tAPPROVED BY\tPR\tSTART\tEND\tSTATE\tCLOSED\tREASON")
	for _, r := range rep.Requests {
		reason := r.Reason
		if len(reason) > 60 {
			reason = reason[:57] + "..."
		}
		cells := []string{r.ID, r.Requester, r.account(), r.PermissionSet, strings.Join(r.ApprovedBy, ", "), r.pr(),
			r.Start, r.End, string(r.State), r.ClosedAt, reason}
		for i, c := range cells {
			cells[i] = dash(finding.EscapeLine(c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Requests) > 0 {
		fmt.Fprintln(w, "\nCommits:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, r := range rep.Requests {
			fmt.Fprintf(tw, "  %s\t%s\n", finding.EscapeLine(r.ID), r.commits())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Gaps) > 0 {
		fmt.Fprintf(w, "\nGaps:\n")
		for _, g := range rep.Gaps {
			fmt.Fprintf(w, "  %s\n", gapText(g))
		}
	}
	fmt.Fprintf(w, "\n%s\n", summary(rep))
	return nil
}

func gapText(g Gap) string {
	where := g.Request
	if where == "" {
		where = "history"
	}
	return fmt.Sprintf("%s: %s [%s]", finding.EscapeLine(where), finding.EscapeLine(g.Message), g.Rule)
}

// CSVHeader is the first row of WriteCSV.
var CSVHeader = []string{"request", "requester", "account", "account_as_written", "permission_set", "policy", "pull_request",
	"approved_by", "reason", "ticket", "duration", "start", "end", "granted_at", "closed_at", "state", "granted", "note",
	"merge_commit", "commits", "gaps"}

// WriteCSV writes one row per request. Gaps that belong to no request are
// written as rows with only the gaps column set. Cells a spreadsheet would
// run as a formula (starting with = + - @) are prefixed with a quote.
func WriteCSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rep.Requests {
		var commits, gaps []string
		for _, s := range r.Steps {
			commits = append(commits, s.Action+":"+s.Commit)
		}
		for _, g := range r.Gaps {
			gaps = append(gaps, g.Rule+": "+g.Message)
		}
		pr := ""
		if r.PullRequest > 0 {
			pr = strconv.Itoa(r.PullRequest)
		}
		row := []string{r.ID, r.Requester, r.Account, r.AccountAsWritten, r.PermissionSet, r.Policy, pr,
			strings.Join(r.ApprovedBy, " "), r.Reason, r.Ticket, r.Duration, r.Start, r.End, r.GrantedAt, r.ClosedAt,
			string(r.State), strconv.FormatBool(r.Granted), r.Note, r.MergeCommit, strings.Join(commits, " "), strings.Join(gaps, " | ")}
		if err := cw.Write(safeCells(row)); err != nil {
			return err
		}
	}
	for _, g := range rep.Gaps {
		if g.Request != "" {
			continue
		}
		row := make([]string, len(CSVHeader))
		row[len(row)-1] = g.Rule + ": " + g.Message
		if err := cw.Write(safeCells(row)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func safeCells(row []string) []string {
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}

// WriteMarkdown writes the report as a Markdown document: a table of
// requests and a list of gaps, ready for a ticket or a wiki page.
func WriteMarkdown(w io.Writer, rep *Report) error {
	var b strings.Builder
	b.WriteString("# elevate audit\n\n")
	fmt.Fprintf(&b, "%s.\n\n", md(summary(rep)))
	if len(rep.Requests) > 0 {
		b.WriteString("| Request | Requester | Account | Permission set | Approved by | PR | Start | End | State | Closed | Reason | Commits |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rep.Requests {
			var commits []string
			for _, s := range r.Steps {
				commits = append(commits, md(s.Action)+" `"+short(s.Commit)+"`")
			}
			cells := []string{md(r.ID), md(r.Requester), md(r.account()), md(r.PermissionSet), md(strings.Join(r.ApprovedBy, ", ")), md(r.pr()),
				md(r.Start), md(r.End), md(string(r.State)), md(r.ClosedAt), md(r.Reason), strings.Join(commits, ", ")}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Gaps\n\n")
	if len(rep.Gaps) == 0 {
		b.WriteString("None found.\n")
	}
	for _, g := range rep.Gaps {
		where := "history"
		if g.Request != "" {
			where = md(g.Request)
		}
		commit := ""
		if g.Commit != "" {
			commit = " (commit `" + short(g.Commit) + "`)"
		}
		fmt.Fprintf(&b, "- **%s** %s%s: %s\n", g.Rule, where, commit, md(g.Message))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// md escapes text for a Markdown table cell: nothing in it can close the
// cell, start markup or inject HTML.
func md(s string) string {
	s = finding.Escape(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '|', '*', '_', '`', '[', ']', '<', '>', '~', '&':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
