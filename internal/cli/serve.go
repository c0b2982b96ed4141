package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/countercyclical/webhooks/internal/server"
)

// DefaultAddr is where serve listens when WEBHOOKS_ADDR is not set.
const DefaultAddr = "127.0.0.1:8080"

func (c *command) serve(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError{"serve takes no arguments; configure it with environment variables"}
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, nil))
	apiConfig, err := c.apiConfig()
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
	srv := &http.Server{
		Handler:           server.New(server.Config{Pool: pool, Logger: logger, API: apiConfig}),
		ReadHeaderTimeout: 10 * time.Second,
	}
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
