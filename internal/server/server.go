// Package server assembles the HTTP handler of `webhooks serve`: health and
// readiness checks, Prometheus metrics, the management API, the Webhooks
// page, and River UI behind basic auth, all behind cross-origin protection.
//
// It imports api, portal, metrics, jobs (River UI reads the client), db and
// sql/migrations (readiness checks the schema).
package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/api"
	"github.com/countercyclical/webhooks/internal/metrics"
	"github.com/countercyclical/webhooks/internal/portal"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/sql/migrations"
)

// Config is what the handler needs.
type Config struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	API    api.Config
	// River, when given with RiverUIUsername and RiverUIPassword, is shown
	// in River UI at /riverui/. River UI has no authentication of its own,
	// so without credentials it is not served at all.
	River                            *river.Client[pgx.Tx]
	RiverUIUsername, RiverUIPassword string
}

// New returns the server's handler. ctx bounds River UI's background work.
func New(ctx context.Context, config Config) (http.Handler, error) {
	if config.Logger == nil {
		config.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(r.Context(), config.Pool); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", metrics.Handler(config.Pool, config.Logger, jobs.QueueExpand, jobs.QueueDeliver))
	config.API.Pool, config.API.Logger = config.Pool, config.Logger
	if config.API.River == nil {
		config.API.River = config.River
	}
	api.New(config.API).Register(mux)
	portal.New(portal.Config{Pool: config.Pool, Logger: config.Logger, PublicURL: config.API.PublicURL}).Register(mux)

	switch {
	case config.River == nil:
	case config.RiverUIUsername == "" || config.RiverUIPassword == "":
		config.Logger.Warn("River UI is not served: set RIVERUI_USERNAME and RIVERUI_PASSWORD to serve it at /riverui/")
	default:
		ui, err := riverui.NewHandler(&riverui.HandlerOpts{
			Endpoints: riverui.NewEndpoints(config.River, nil),
			Logger:    config.Logger,
			Prefix:    "/riverui",
		})
		if err != nil {
			return nil, fmt.Errorf("error creating River UI: %w", err)
		}
		if err := ui.Start(ctx); err != nil {
			return nil, fmt.Errorf("error starting River UI: %w", err)
		}
		mux.Handle("/riverui/", basicAuth(config.RiverUIUsername, config.RiverUIPassword, ui))
		config.Logger.Info("River UI served at /riverui/ behind basic auth")
	}
	// A browser sends the Webhooks page's cookie (and River UI's basic
	// auth) with any request: one that changes something must come from
	// this origin. Clients other than browsers send no such headers and
	// pass.
	return http.NewCrossOriginProtection().Handler(mux), nil
}

// ready says whether the database answers and its schema is current.
func ready(ctx context.Context, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	version, dirty, err := migrations.Version(ctx, pool)
	if err != nil {
		return err
	}
	if dirty || version != migrations.Latest() {
		return fmt.Errorf("database at migration %d (dirty %v), this build needs %d: run `webhooks migrate up`", version, dirty, migrations.Latest())
	}
	ahead, err := db.New().PartitionCountAhead(ctx, pool)
	if err != nil {
		return fmt.Errorf("error counting partitions: %w", err)
	}
	if ahead < minPartitionsAhead {
		return fmt.Errorf("%d partitions of the logs ready after the current one, fewer than %d: the app's writes fail once none is left; is a worker running (its webhooks_retention job makes them)?", ahead, minPartitionsAhead)
	}
	return nil
}

// minPartitionsAhead is the fewest partitions ready after the current one
// that /readyz accepts.
const minPartitionsAhead = 2

// basicAuth guards a handler with one username and password, compared in
// constant time.
func basicAuth(username, password string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		userOK := subtle.ConstantTimeCompare([]byte(u), []byte(username)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(p), []byte(password)) == 1
		if !ok || !userOK || !passOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="River UI", charset="UTF-8"`)
			http.Error(w, "River UI needs the username and password of RIVERUI_USERNAME and RIVERUI_PASSWORD", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
