package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/countercyclical/webhooks/internal/play"
	"github.com/countercyclical/webhooks/webhook"
)

func (c *command) play(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("play", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	var secrets []string
	fs.Func("secret", "verify deliveries with this secret (whsec_…); repeat while rotating", func(s string) error {
		if _, err := webhook.DecodeSecret(s); err != nil {
			return err
		}
		secrets = append(secrets, s)
		return nil
	})
	failRate := fs.Float64("fail-rate", -1, "share of deliveries to fail, 0 to 1")
	status := fs.Int("status", 0, "status of failed answers (default 500); alone, every delivery gets it")
	delay := fs.Duration("delay", 0, "hold every answer back this long")
	gone := fs.Bool("gone", false, "answer 410 Gone, which disables the webhook")
	retryAfter := fs.Int("retry-after", 0, "send Retry-After with failed answers, in seconds")
	keep := fs.Int("keep", 100, "deliveries to remember")
	if err := fs.Parse(args); err != nil {
		return usageError{"play: " + err.Error()}
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Sprintf("play takes flags only, not %q", fs.Arg(0))}
	}
	config := play.Config{Secrets: secrets, FailRate: *failRate, FailStatus: *status, Delay: *delay, Gone: *gone, RetryAfter: *retryAfter, Keep: *keep, Log: c.stdout}
	switch {
	case *failRate == -1 && *status != 0:
		config.FailRate = 1 // --status alone: every delivery gets it
	case *failRate == -1:
		config.FailRate = 0
	case *failRate < 0 || *failRate > 1:
		return usageError{fmt.Sprintf("play: --fail-rate %v is not between 0 and 1", *failRate)}
	}
	if *status != 0 && (*status < 100 || *status > 599) {
		return usageError{fmt.Sprintf("play: --status %d is not an HTTP status (100 to 599)", *status)}
	}
	if *delay < 0 {
		return usageError{fmt.Sprintf("play: --delay %s is negative", *delay)}
	}
	if *retryAfter < 0 {
		return usageError{fmt.Sprintf("play: --retry-after %d is negative", *retryAfter)}
	}
	if *keep < 1 {
		return usageError{fmt.Sprintf("play: --keep %d must be at least 1", *keep)}
	}

	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on --addr %s: %w", *addr, err)
	}
	url := "http://" + listener.Addr().String()
	fmt.Fprintf(c.stderr, "play: receiving on %s/ (any path); watch deliveries at %s/\n", url, url)
	if len(secrets) == 0 {
		fmt.Fprintln(c.stderr, "play: no --secret, so deliveries are not verified")
	}
	// --delay holds each answer back: the write timeout must leave it room.
	limits := defaultHTTPLimits
	limits.write += *delay
	return serveUntil(ctx, listener, play.New(config), limits, 5*time.Second)
}
