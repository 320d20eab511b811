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
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
}

// OSEnv is the real environment.
func OSEnv() Env {
	dir, _ := os.Getwd()
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Getenv: os.Getenv, Dir: dir, Now: time.Now}
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
		fmt.Fprintf(env.Stderr, "elevate: %v\n", err)
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

func runVersion(_ context.Context, env Env, _ []string) error {
	fmt.Fprintf(env.Stdout, "elevate %s (commit %s)\n", Version, Commit)
	return nil
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
