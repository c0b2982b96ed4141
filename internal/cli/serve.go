package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"golang.org/x/net/netutil"

	"github.com/countercyclical/webhooks/internal/readiness"
	"github.com/countercyclical/webhooks/internal/server"
	"github.com/countercyclical/webhooks/jobs"
)

// DefaultAddr is where serve listens when WEBHOOKS_ADDR is not set.
const DefaultAddr = "127.0.0.1:8080"

func (c *command) serve(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError{"serve takes no arguments; configure it with environment variables"}
	}
	apiConfig, err := c.apiConfig()
	if err != nil {
		return err
	}
	if err := c.needPublicURL(); err != nil {
		return err
	}
	if _, err := c.maxConns(); err != nil {
		return err
	}
	bg, err := c.startBackground(ctx)
	if err != nil {
		return err
	}
	defer bg.close()

	addr := c.addr()
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on WEBHOOKS_ADDR %s: %w", addr, err)
	}
	apiConfig.River, apiConfig.MaxAttempts = bg.client, bg.config.Delivery.MaxAttempts()
	handler, err := server.New(ctx, server.Config{
		Pool: bg.pool, Logger: bg.logger, API: apiConfig, River: bg.client,
		RiverUIUsername: c.env("RIVERUI_USERNAME"), RiverUIPassword: c.env("RIVERUI_PASSWORD"),
	})
	if err != nil {
		listener.Close()
		return err
	}
	limits := defaultHTTPLimits
	if limits.maxConns, err = c.maxConns(); err != nil {
		listener.Close()
		return err
	}
	bg.logger.Info("serving", "url", "http://"+listener.Addr().String(), "max_conns", limits.maxConns,
		"expand_workers", bg.config.ExpandWorkers, "deliver_workers", bg.config.DeliverWorkers, "reindex_at", reindexAtString(bg.config.ReindexAt))
	err = serveUntil(ctx, listener, handler, limits, 10*time.Second)
	bg.logger.Info("shutting down")
	return err
}

// httpLimits bound what clients can hold of an HTTP server: how long each
// phase of a request may take, and how many connections are open at once.
type httpLimits struct {
	// readHeader bounds the request line and headers; read bounds them and
	// the body, so that a client announcing a body it never sends is cut
	// off (the server drains an unread body before it answers). Go clears
	// the read deadline once the body is read, so a handler may run longer.
	readHeader, read time.Duration
	// write bounds the handler and the answer from the end of the headers:
	// a client that stops reading its answer cannot hold a handler. A
	// handler that must take longer (a stream) moves its own deadline with
	// http.ResponseController.SetWriteDeadline.
	write time.Duration
	// idle bounds a kept-alive connection between requests.
	idle time.Duration
	// maxConns caps open connections; further ones wait in the kernel's
	// accept queue until one closes.
	maxConns int
}

// defaultHTTPLimits are serve's and play's. Timeouts are the defence
// against slow clients: each connection is cut within read (or idle) of its
// last progress. The connection cap protects the process (file descriptors
// it also needs for PostgreSQL, memory) and is set far above what the API and
// River UI need, so that connections held until their timeouts do not lock
// everyone else out: a cap small enough to be filled by a few hundred slow
// clients would itself be the denial of service. Nothing here takes long:
// the API's bodies are at most 64 KiB and its handlers, River UI's (which
// polls, it does not stream) and /metrics answer within seconds.
var defaultHTTPLimits = httpLimits{
	readHeader: 10 * time.Second,
	read:       30 * time.Second,
	write:      60 * time.Second,
	idle:       60 * time.Second,
	maxConns:   DefaultMaxConns,
}

// DefaultMaxConns is serve's connection cap when WEBHOOKS_MAX_CONNS is not
// set.
const DefaultMaxConns = 1024

// maxConns reads WEBHOOKS_MAX_CONNS.
func (c *command) maxConns() (int, error) {
	s := c.env("WEBHOOKS_MAX_CONNS")
	if s == "" {
		return DefaultMaxConns, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("WEBHOOKS_MAX_CONNS=%q is not a positive whole number", s)
	}
	return n, nil
}

// serveUntil serves HTTP on listener within limits until ctx ends, then
// shuts down, letting requests under way finish for up to grace.
func serveUntil(ctx context.Context, listener net.Listener, handler http.Handler, limits httpLimits, grace time.Duration) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: limits.readHeader,
		ReadTimeout:       limits.read,
		WriteTimeout:      limits.write,
		IdleTimeout:       limits.idle,
		MaxHeaderBytes:    64 << 10,
	}
	if limits.maxConns > 0 {
		listener = netutil.LimitListener(listener, limits.maxConns)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(listener) }()
	select {
	case err := <-errc:
		return fmt.Errorf("error serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("error shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("error serving: %w", err)
	}
	return nil
}

func (c *command) worker(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError{"worker takes no arguments; configure it with environment variables"}
	}
	// The parent that passed a pipe (the bench, the chaos test) learns from
	// it, not from the log, when this process works.
	ready, err := readiness.Open(c.env(readiness.Env))
	if err != nil {
		return err
	}
	bg, err := c.startBackground(ctx)
	if err != nil {
		return err
	}
	defer bg.close()
	bg.logger.Info("working", "expand_workers", bg.config.ExpandWorkers, "deliver_workers", bg.config.DeliverWorkers, "reindex_at", reindexAtString(bg.config.ReindexAt))
	// startBackground has returned: the River client works and the
	// listener listens.
	if err := readiness.Signal(ready); err != nil {
		return err
	}
	<-ctx.Done()
	bg.logger.Info("shutting down")
	return nil
}

// background is what serve and worker run behind their front: a pool and
// the jobs' runner.
type background struct {
	logger *slog.Logger
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	config jobs.Config
	runner *jobs.Runner
}

// startBackground reads the workers' configuration from the environment,
// connects, and starts the workers.
func (c *command) startBackground(ctx context.Context) (*background, error) {
	logger, err := c.logger()
	if err != nil {
		return nil, err
	}
	config, err := c.jobsConfig(logger)
	if err != nil {
		return nil, err
	}
	pool, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	runner, err := jobs.NewRunner(pool, config)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := runner.Start(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return &background{logger: logger, pool: pool, client: runner.Client, config: runner.Config(), runner: runner}, nil
}

// close stops the workers gracefully, then closes the pool.
func (b *background) close() {
	b.runner.Stop()
	b.pool.Close()
}
