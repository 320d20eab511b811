// Command elevate is GitOps just-in-time access for AWS. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/elevate-dev/elevate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.OSEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}
