// Package server assembles the HTTP handler of `webhooks serve`: health
// checks and the management API.
package server

import (
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/countercyclical/webhooks/internal/api"
)

// Config is what the handler needs.
type Config struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	API    api.Config
}

// New returns the server's handler.
func New(config Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	config.API.Pool, config.API.Logger = config.Pool, config.Logger
	api.New(config.API).Register(mux)
	return mux
}
