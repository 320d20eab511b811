package action

import (
	"fmt"
	"strings"

	githubactions "github.com/sethvargo/go-githubactions"

	"github.com/elevate-dev/elevate/internal/finding"
)

// fileDelimiter is the fixed heredoc delimiter go-githubactions v1.3.0 writes
// outputs and environment variables with. A value that held it on a line of
// its own could end the value early and set other outputs; refusing line
// breaks refuses that, and the delimiter itself is refused for good measure.
const fileDelimiter = "_GitHubActionsFileCommandDelimeter_"

// maxOutput bounds one output value.
const maxOutput = 64 << 10

// SafeValue reports why v may not be written to GITHUB_OUTPUT or GITHUB_ENV,
// or nil. Values that came from a request or a PR pass through here first.
func SafeValue(v string) error {
	switch {
	case len(v) > maxOutput:
		return fmt.Errorf("value is %d bytes, more than %d", len(v), maxOutput)
	case strings.Contains(v, fileDelimiter):
		return fmt.Errorf("value contains the file command delimiter")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("value %s contains a line break or control character", finding.Escape(v))
		}
	}
	return nil
}

// setOutput writes one step output after checking the value.
func setOutput(gha *githubactions.Action, name, value string) error {
	if err := SafeValue(value); err != nil {
		return fmt.Errorf("output %s refused: %w", name, err)
	}
	if gha.Getenv("GITHUB_OUTPUT") == "" {
		return nil
	}
	return fileCommand(func() { gha.SetOutput(name, value) })
}

// addSummary appends Markdown to the step summary, when the runner gave one.
func addSummary(gha *githubactions.Action, markdown string) error {
	if gha.Getenv("GITHUB_STEP_SUMMARY") == "" {
		return nil
	}
	return fileCommand(func() { gha.AddStepSummary(markdown) })
}

// fileCommand runs a go-githubactions file command, which panics when the
// file cannot be written, and returns that as an error.
func fileCommand(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// annotate issues one annotation per finding. go-githubactions escapes the
// message (%, CR, LF) and the properties (also : and ,) exactly as the
// Actions toolkit does; finding.Escape before it makes control characters
// visible so that an annotation is one line and shows what the file holds.
// Findings about the whole file (line 0) carry no line or column.
func annotate(gha *githubactions.Action, level string, fs []finding.Finding) {
	for _, f := range fs {
		props := githubactions.CommandProperties{"file": finding.Escape(f.File), "title": f.Rule}
		if f.Line > 0 {
			props["line"] = fmt.Sprint(f.Line)
			if f.Col > 0 {
				props["col"] = fmt.Sprint(f.Col)
			}
		}
		msg := f.Message
		if f.Fix != "" {
			msg += "; " + f.Fix
		}
		gha.IssueCommand(&githubactions.Command{Name: level, Properties: props, Message: finding.Escape(msg)})
	}
}
