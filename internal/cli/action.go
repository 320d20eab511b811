package cli

import (
	"context"
	"errors"
	"io"

	"github.com/elevate-dev/elevate/internal/action"
)

// runAction is `elevate action`, the GitHub Action's entry point: action/action.yml
// runs it with the inputs in INPUT_* variables, as a runner sets them.
func runAction(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "action", "action",
		`  INPUT_COMMAND=validate elevate action   # what action/action.yml runs; see SETUP.md`)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	res, err := action.Run(ctx, action.Options{
		Getenv: env.Getenv, Stdout: env.Stdout, Dir: env.Dir, HTTPClient: env.HTTPClient,
		Command: func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
			// Logs go to the same fenced stream as the output (see action.Run).
			sub := env
			sub.Getenv, sub.Stdout, sub.Stderr = getenv, stdout, stdout
			return dispatch(ctx, sub, args)
		},
	})
	var ue *action.UsageError
	switch {
	case errors.As(err, &ue):
		return &UsageError{Msg: ue.Msg}
	case err != nil:
		return err
	case res != nil && res.Findings > 0:
		return &FindingsError{Count: res.Findings}
	}
	return nil
}
