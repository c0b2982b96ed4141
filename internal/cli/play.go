package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/countercyclical/webhooks/internal/play"
	"github.com/countercyclical/webhooks/webhook"
)

// playFlags are play's flags.
type playFlags struct {
	addr               string
	secrets            []string
	failRate           float64
	status, retryAfter int
	delay              time.Duration
	gone               bool
	keep               int
}

func newPlayFlagSet(f *playFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("play", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:9000", "address to listen on")
	fs.Func("secret", "verify deliveries with this `secret` (whsec_…); repeat while rotating", func(s string) error {
		if _, err := webhook.DecodeSecret(s); err != nil {
			return err
		}
		f.secrets = append(f.secrets, s)
		return nil
	})
	f.failRate = -1 // not given
	fs.Func("fail-rate", "share of deliveries to fail, a `fraction` from 0 to 1 (default 0, or 1 with --status)", func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		f.failRate = v
		return err
	})
	fs.IntVar(&f.status, "status", 0, "status of failed answers (default 500); alone, every delivery gets it")
	fs.DurationVar(&f.delay, "delay", 0, "hold every answer back this long")
	fs.BoolVar(&f.gone, "gone", false, "answer 410 Gone, which disables the webhook")
	fs.IntVar(&f.retryAfter, "retry-after", 0, "send Retry-After with failed answers, in seconds")
	fs.IntVar(&f.keep, "keep", 100, "deliveries to remember; older ones are only counted")
	return fs
}

func (c *command) play(ctx context.Context, args []string) error {
	var f playFlags
	fs := newPlayFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		return usageError{"play: " + err.Error()}
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Sprintf("play takes flags only, not %q", fs.Arg(0))}
	}
	config := play.Config{Secrets: f.secrets, FailRate: f.failRate, FailStatus: f.status, Delay: f.delay, Gone: f.gone, RetryAfter: f.retryAfter, Keep: f.keep, Log: c.stdout}
	switch {
	case f.failRate == -1 && f.status != 0:
		config.FailRate = 1 // --status alone: every delivery gets it
	case f.failRate == -1:
		config.FailRate = 0
	case f.failRate < 0 || f.failRate > 1:
		return usageError{fmt.Sprintf("play: --fail-rate %v is not between 0 and 1", f.failRate)}
	}
	if f.status != 0 && (f.status < 100 || f.status > 599) {
		return usageError{fmt.Sprintf("play: --status %d is not an HTTP status (100 to 599)", f.status)}
	}
	if f.delay < 0 {
		return usageError{fmt.Sprintf("play: --delay %s is negative", f.delay)}
	}
	if f.retryAfter < 0 {
		return usageError{fmt.Sprintf("play: --retry-after %d is negative", f.retryAfter)}
	}
	if f.keep < 1 {
		return usageError{fmt.Sprintf("play: --keep %d must be at least 1", f.keep)}
	}

	listener, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on --addr %s: %w", f.addr, err)
	}
	url := "http://" + listener.Addr().String()
	fmt.Fprintf(c.stderr, "play: receiving on %s/ (any path); watch deliveries at %s/\n", url, url)
	if len(f.secrets) == 0 {
		fmt.Fprintln(c.stderr, "play: no --secret, so deliveries are not verified")
	}
	// --delay holds each answer back: the write timeout must leave it room.
	limits := defaultHTTPLimits
	limits.write += f.delay
	return serveUntil(ctx, listener, play.New(config), limits, 5*time.Second)
}
