package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/countercyclical/webhooks/internal/server"
	"github.com/countercyclical/webhooks/jobs"
)

// DefaultAddr is where serve listens when WEBHOOKS_ADDR is not set.
const DefaultAddr = "127.0.0.1:8080"

func (c *command) serve(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError{"serve takes no arguments; configure it with environment variables"}
	}
	logger, err := c.logger()
	if err != nil {
		return err
	}
	apiConfig, err := c.apiConfig()
	if err != nil {
		return err
	}
	jobsConfig, err := c.jobsConfig(logger)
	if err != nil {
		return err
	}
	pool, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()

	addr := c.addr()
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on WEBHOOKS_ADDR %s: %w", addr, err)
	}
	client, err := jobs.NewClient(pool, jobsConfig)
	if err != nil {
		listener.Close()
		return err
	}
	stopWorkers, err := c.startWorkers(ctx, pool, client, jobsConfig, logger)
	if err != nil {
		listener.Close()
		return err
	}
	defer stopWorkers()
	apiConfig.River = client
	apiConfig.MaxAttempts = 1 + len(jobsConfig.Delivery.Schedule)
	if jobsConfig.Delivery.Schedule == nil {
		apiConfig.MaxAttempts = 1 + len(jobs.DefaultSchedule)
	}

	handler, err := server.New(ctx, server.Config{
		Pool: pool, Logger: logger, API: apiConfig, River: client,
		RiverUIUsername: c.env("RIVERUI_USERNAME"), RiverUIPassword: c.env("RIVERUI_PASSWORD"),
	})
	if err != nil {
		listener.Close()
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("serving", "url", "http://"+listener.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(listener) }()
	select {
	case err := <-errc:
		return fmt.Errorf("error serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
	logger, err := c.logger()
	if err != nil {
		return err
	}
	jobsConfig, err := c.jobsConfig(logger)
	if err != nil {
		return err
	}
	pool, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	client, err := jobs.NewClient(pool, jobsConfig)
	if err != nil {
		return err
	}
	stopWorkers, err := c.startWorkers(ctx, pool, client, jobsConfig, logger)
	if err != nil {
		return err
	}
	logger.Info("working", "expand_workers", jobsConfig.ExpandWorkers, "deliver_workers", jobsConfig.DeliverWorkers)
	<-ctx.Done()
	logger.Info("shutting down")
	stopWorkers()
	return nil
}

// startWorkers starts the River client and the outbox listener; the
// returned func stops fetching, lets deliveries under way finish (up to the
// request timeout), and returns when both have stopped.
func (c *command) startWorkers(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], config jobs.Config, logger *slog.Logger) (func(), error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The client outlives ctx: it is stopped gracefully below, not cancelled.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("error starting River client: %w", err)
	}
	listenCtx, cancelListen := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		jobs.Listen(listenCtx, pool, client, logger)
	}()
	return func() {
		cancelListen()
		wg.Wait()
		timeout := config.Delivery.Timeout
		if timeout == 0 {
			timeout = 15 * time.Second
		}
		stopCtx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
		defer cancel()
		if err := client.Stop(stopCtx); err != nil {
			logger.Warn("River client did not stop in time; cancelling jobs under way", "error", err)
			_ = client.StopAndCancel(context.Background())
		}
	}, nil
}
