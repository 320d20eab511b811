// Package cli is the elevate command line: it parses flags, builds the
// dependencies each command needs from the environment, runs the command and
// maps its outcome to an exit status. The GitHub Action calls the same code.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elevate-dev/elevate/internal/approval"
	"github.com/elevate-dev/elevate/internal/finding"
)

// Exit statuses, the same for every command.
const (
	ExitOK       = 0 // clean
	ExitFindings = 1 // the inputs have problems (findings), or something was denied
	ExitUsage    = 2 // bad command line
	ExitFailure  = 3 // the tool itself failed
)

// Version and Commit are set at build time with -ldflags.
var (
	Version = "dev"
	Commit  = "unknown"
)

// Env is the world a command runs in; tests build their own.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
	// Getenv reads environment variables.
	Getenv func(string) string
	// Dir is the working directory.
	Dir string
	// Now is the clock.
	Now func() time.Time
	// AWSConfig, when set, replaces the SDK's default configuration chain (tests).
	AWSConfig func(context.Context) (aws.Config, error)
	// HTTPClient, when set, is used for GitHub (tests).
	HTTPClient *http.Client
	// ApprovalOptions tunes the GitHub verifier; the zero value is the
	// defaults (tests shorten the commit-to-PR lookup backoff).
	ApprovalOptions approval.Options
	// Interactive reports that stdin is a terminal, so a command may prompt
	// for what its flags did not give.
	Interactive bool
}

// OSEnv is the real environment.
func OSEnv() Env {
	dir, _ := os.Getwd()
	interactive := false
	// A terminal is a character device; so is /dev/null, which is not one.
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		null, nerr := os.Stat(os.DevNull)
		interactive = nerr != nil || !os.SameFile(fi, null)
	}
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Getenv: os.Getenv, Dir: dir, Now: time.Now, Interactive: interactive}
}

// UsageError is a bad command line.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// FindingsError means the command ran and found problems it already printed.
type FindingsError struct{ Count int }

func (e *FindingsError) Error() string { return fmt.Sprintf("%d findings", e.Count) }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

func commands() []command {
	return []command{
		{"validate", "check request, policy and identity files (the PR check)", runValidate},
		{"plan", "show what reconcile would do now or --at a time; changes nothing", runPlan},
		{"reconcile", "grant approved requests, revoke expired ones, record it in git", runReconcile},
		{"request", "write a request file for access (or open its PR with --open-pr)", runRequest},
		{"new", "the same as request", runRequest},
		{"status", "show active and pending grants and the time they have left", runStatus},
		{"explain", "say which policy applies to a request, who is eligible and who approves", runExplain},
		{"audit", "every request from git history: who asked, who approved, when, how it ended; gaps", runAudit},
		{"action", "run as the GitHub Action (action/action.yml reads its inputs from INPUT_*)", runAction},
		{"doctor", "check the set-up (files, workflows, CODEOWNERS, GitHub, AWS); changes nothing", runDoctor},
		{"version", "print the version and commit", runVersion},
	}
}

// Run runs elevate with args (without the program name) and returns the exit status.
func Run(ctx context.Context, env Env, args []string) int {
	err := dispatch(ctx, env, args)
	var ue *UsageError
	var fe *FindingsError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "elevate: %s\nRun 'elevate help' for usage.\n", ue.Msg)
		return ExitUsage
	case errors.As(err, &fe):
		return ExitFindings
	default:
		// Errors quote ids and paths from files anyone may name: one line, no workflow command.
		fmt.Fprintf(env.Stderr, "elevate: %s\n", finding.EscapeLine(err.Error()))
		return ExitFailure
	}
}

func dispatch(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		usage(env.Stderr)
		return &UsageError{Msg: "no command given"}
	}
	switch args[0] {
	case "help", "-h", "--help":
		if len(args) > 1 && args[0] == "help" {
			return dispatch(ctx, env, []string{args[1], "--help"})
		}
		usage(env.Stdout)
		return nil
	case "--version", "-version":
		return runVersion(ctx, env, nil)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	return &UsageError{Msg: fmt.Sprintf("unknown command %q", args[0])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "elevate: just-in-time AWS access through git.\n\nUsage: elevate <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'elevate <command> --help' for a command's flags and examples.")
}

func runVersion(_ context.Context, env Env, args []string) error {
	fs := newFlags(env, "version", "version", `  elevate version
  elevate --version

A release build sets both with the linker:
  go build -ldflags "-X github.com/elevate-dev/elevate/internal/cli.Version=v1.2.0 -X github.com/elevate-dev/elevate/internal/cli.Commit=$(git rev-parse HEAD)" ./cmd/elevate
Without -ldflags the commit comes from the build's VCS stamp (go build in a git checkout).`)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	version, commit := buildVersion(Version, Commit, debug.ReadBuildInfo)
	fmt.Fprintf(env.Stdout, "elevate %s (commit %s)\n", version, commit)
	return nil
}

// buildVersion fills what -ldflags did not set from the module version and
// the VCS stamp go build records (vcs.revision, vcs.modified).
func buildVersion(version, commit string, read func() (*debug.BuildInfo, bool)) (string, string) {
	info, ok := read()
	if !ok {
		return version, commit
	}
	if version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	if commit == "unknown" {
		var rev, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			commit = rev
			if modified == "true" {
				commit += "-dirty"
			}
		}
	}
	return version, commit
}

// newFlags returns a flag set whose errors are usage errors and whose --help
// prints the command's examples.
func newFlags(env Env, name, synopsis, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: elevate %s\n\n", synopsis)
		fs.PrintDefaults()
		if examples != "" {
			fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(examples, "\n"))
		}
	}
	return fs
}

// parse parses flags, turning errors into usage errors and refusing
// positional arguments unless allowed.
func parse(fs *flag.FlagSet, args []string, maxArgs int) error {
	fs.SetOutput(fs.Output())
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Msg: err.Error()}
	}
	if fs.NArg() > maxArgs {
		return &UsageError{Msg: fmt.Sprintf("unexpected argument %q", fs.Arg(maxArgs))}
	}
	return nil
}

// absDir resolves a -C directory against the working directory.
func absDir(env Env, dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(env.Dir, dir)
}

// textOrJSON checks a --format flag that takes text or json.
func textOrJSON(format string) error {
	if format != "text" && format != "json" {
		return &UsageError{Msg: fmt.Sprintf("--format %q: use text or json", format)}
	}
	return nil
}
