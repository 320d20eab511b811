package finding

import (
	"strings"
	"testing"
)

// TestEscapeDefusesWorkflowCommands: whatever a user wrote, an escaped value
// is one line that a GitHub Actions runner does not read as a command.
func TestEscapeDefusesWorkflowCommands(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"plain":                              "plain",
		"a::b":                               "a::b",
		"::error::pwned":                     `\u003a:error::pwned`,
		"  ::add-mask::x":                    `  \u003a:add-mask::x`,
		"\u3000::stop-commands::t":           "\u3000" + `\u003a:stop-commands::t`,
		"x ##[set-output name=granted;]true": `x ##\u005bset-output name=granted;]true`,
		"###[error]x":                        `###\u005berror]x`,
		"#[not a command":                    "#[not a command",
		"line\n::error::two":                 `line\n::error::two`,
		"\n::error::first":                   `\n::error::first`,
		"tab\t##[debug]x":                    `tab\t##\u005bdebug]x`,
	}
	for in, want := range tests {
		got := EscapeLine(in)
		if got != want {
			t.Errorf("EscapeLine(%q) = %q, want %q", in, got, want)
		}
		if strings.ContainsAny(got, "\n\r") || strings.HasPrefix(strings.TrimSpace(got), "::") || strings.Contains(got, "##[") {
			t.Errorf("EscapeLine(%q) = %q is still a workflow command", in, got)
		}
	}
}

func TestTextDefusesFileNames(t *testing.T) {
	t.Parallel()
	f := New("::error file=x::owned", Pos{Line: 1, Col: 1}, "request-pr-mixed", "msg ##[add-mask]secret", "")
	if got := f.Text(); strings.HasPrefix(got, "::") || strings.Contains(got, "##[") {
		t.Errorf("Text() = %q", got)
	}
}
