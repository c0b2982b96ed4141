// Command webhooks runs the webhook pipeline: migrations, the API server and
// workers. Run `webhooks help` for its commands.
//
// It imports internal/cli alone.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/countercyclical/webhooks/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
