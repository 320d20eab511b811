package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/cli"
)

func runPlain(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" },
		Dir: ".", Now: func() time.Time { return time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC) }}
	code := cli.Run(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

// TestHelp checks that every command has --help with examples, and that
// `elevate help <command>` shows the same.
func TestHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := runPlain("help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	_, list, _ := strings.Cut(out, "Commands:\n")
	list, _, _ = strings.Cut(list, "\n\n")
	var names []string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	for _, want := range []string{"request", "new", "status", "explain", "audit", "version"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("help does not list %s: %v", want, names)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runPlain(name, "--help")
			if code != 0 || !strings.Contains(errOut, "Usage: elevate ") || !strings.Contains(errOut, "\nExamples:\n") {
				t.Errorf("%s --help: exit %d, want usage and examples:\n%s", name, code, errOut)
			}
			_, _, viaHelp := runPlain("help", name)
			if viaHelp != errOut {
				t.Errorf("elevate help %s differs from %s --help", name, name)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"audit", "--format", "xml"}, `--format "xml": use table, csv, json, markdown`},
		{[]string{"audit", "--since", "last week"}, `--since "last week"`},
		{[]string{"audit", "--until", "2026-10-01T00:00:00"}, "has no time zone"},
		{[]string{"status", "--format", "yaml"}, `--format "yaml": use text or json`},
		{[]string{"explain", "a", "b"}, `unexpected argument "b"`},
		{[]string{"request", "--open-pr", "--dry-run"}, "cannot be used together"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runPlain(tt.args...)
			if code != cli.ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, cli.ExitUsage, tt.want, errOut)
			}
		})
	}
}
