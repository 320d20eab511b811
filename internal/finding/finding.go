// Package finding is how elevate reports a problem in a file a person wrote:
// where it is, which rule it breaks, and how to fix it. The CLI prints findings
// as `file:line:col: message [rule]`; the Action turns the same findings into
// annotations.
package finding

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
)

// Finding is one problem in one file.
type Finding struct {
	// File is the path relative to the repository root, with forward slashes.
	File string `json:"file"`
	// Line and Col are 1-based; 0 means the whole file.
	Line int `json:"line"`
	Col  int `json:"col"`
	// Rule is the short, stable name of the rule that was broken, e.g. "account-id".
	Rule string `json:"rule"`
	// Message says what is wrong, quoting the bad value.
	Message string `json:"message"`
	// Fix says what is allowed or what to do instead.
	Fix string `json:"fix,omitempty"`
}

// Pos is a position in a file.
type Pos struct {
	Line int
	Col  int
}

// New returns a finding at pos.
func New(file string, pos Pos, rule, message, fix string) Finding {
	return Finding{File: file, Line: pos.Line, Col: pos.Col, Rule: rule, Message: message, Fix: fix}
}

// Text is the one-line form: `file:line:col: message; fix [rule]`.
// User input is escaped (EscapeLine) so a finding is always one line and no
// workflow command.
func (f Finding) Text() string {
	msg := f.Message
	if f.Fix != "" {
		msg += "; " + f.Fix
	}
	return fmt.Sprintf("%s:%d:%d: %s [%s]", EscapeLine(f.File), f.Line, f.Col, EscapeLine(msg), f.Rule)
}

// Escape makes s safe to print on one line: control characters, including
// newlines, become Go escapes and invalid UTF-8 becomes \uFFFD.
func Escape(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// EscapeLine is Escape for text that starts, or is part of, a line of
// elevate's output, which a GitHub Actions runner reads for workflow
// commands. It also defuses them: a leading "::" (after the white space the
// runner trims) becomes "\u003a:", and "##[" (the legacy form, which the
// runner finds anywhere in a line) becomes "##\u005b".
func EscapeLine(s string) string {
	out := strings.ReplaceAll(Escape(s), "##[", `##\u005b`)
	if rest := strings.TrimLeftFunc(out, unicode.IsSpace); strings.HasPrefix(rest, "::") {
		out = out[:len(out)-len(rest)] + `\u003a` + rest[1:]
	}
	return out
}

// Sort orders findings by file, line, column and rule, so output is stable.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Rule < b.Rule
	})
}

// WriteText writes one finding per line.
func WriteText(w io.Writer, fs []Finding) error {
	for _, f := range fs {
		if _, err := fmt.Fprintln(w, f.Text()); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes {"findings": [...]} with the same findings as WriteText.
func WriteJSON(w io.Writer, fs []Finding) error {
	if fs == nil {
		fs = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Findings []Finding `json:"findings"`
	}{fs})
}
