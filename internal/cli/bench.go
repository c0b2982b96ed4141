package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/countercyclical/webhooks/internal/api"
	"github.com/countercyclical/webhooks/internal/netguard"
	"github.com/countercyclical/webhooks/internal/pgurl"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/sql/migrations"
	"github.com/countercyclical/webhooks/webhook"
)

// bench measures the whole pipeline on this machine, in a scratch database
// of its own on DATABASE_URL's server: the app's inserts, captured, expanded
// and delivered to a local receiver, from commit to receipt.
func (c *command) bench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	events := fs.Int("events", 2000, "events to capture")
	hooks := fs.Int("webhooks", 5, "webhooks subscribed to every event")
	batch := fs.Int("batch", 100, "rows per INSERT statement")
	workers := fs.Int("workers", 20, "delivery workers")
	if err := fs.Parse(args); err != nil {
		return usageError{"bench: " + err.Error()}
	}
	switch {
	case fs.NArg() != 0:
		return usageError{fmt.Sprintf("bench takes flags only, not %q", fs.Arg(0))}
	case *events < 1 || *hooks < 1 || *batch < 1 || *workers < 1:
		return usageError{"bench: --events, --webhooks, --batch and --workers must be at least 1"}
	}

	url, drop, err := c.scratchDatabase(ctx)
	if err != nil {
		return err
	}
	defer drop()
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return err
	}
	config.MaxConns = int32(*workers + 10)
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return fmt.Errorf("error opening pool: %w", err)
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		return err
	}

	total := *events * *hooks
	recv := &benchReceiver{want: total, done: make(chan struct{})}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("error starting the receiver: %w", err)
	}
	srv := &http.Server{Handler: recv, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(listener) //nolint:errcheck
	defer srv.Close()

	var workspaceID, userID string
	if err := pool.QueryRow(ctx, `INSERT INTO workspaces (name) VALUES ('bench') RETURNING id`).Scan(&workspaceID); err != nil {
		return fmt.Errorf("error seeding: %w", err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id`).Scan(&userID); err != nil {
		return fmt.Errorf("error seeding: %w", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO workspace_members VALUES ($1, $2, 'owner')`, workspaceID, userID); err != nil {
		return fmt.Errorf("error seeding: %w", err)
	}
	for i := range *hooks {
		var id string
		if err := pool.QueryRow(ctx, `INSERT INTO webhooks.webhooks (workspace_id, created_by, name, url, event_types, created_at)
			VALUES ($1, $2, $3, $4, '{*}', now() - interval '1 minute') RETURNING id`,
			workspaceID, userID, fmt.Sprintf("bench %d", i), fmt.Sprintf("http://%s/%d", listener.Addr(), i)).Scan(&id); err != nil {
			return fmt.Errorf("error seeding: %w", err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO webhooks.signing_secrets (webhook_id, secret) VALUES ($1, $2)`, id, api.NewSecret()); err != nil {
			return fmt.Errorf("error seeding: %w", err)
		}
	}

	allowed, _ := netguard.ParseCIDRs("127.0.0.0/8")
	client, err := jobs.NewClient(pool, jobs.Config{
		Work: true, DeliverWorkers: *workers,
		Delivery: jobs.DeliveryConfig{Policy: netguard.Policy{AllowHTTP: true, Allowed: allowed}, MaxInflight: *workers},
	})
	if err != nil {
		return err
	}
	stop, err := c.startWorkers(ctx, pool, client, jobs.Config{}, nil)
	if err != nil {
		return err
	}
	defer stop()
	time.Sleep(200 * time.Millisecond) // listeners up

	fmt.Fprintf(c.stdout, "bench: %d events × %d webhooks = %d deliveries, INSERTs of %d rows, %d delivery workers\n", *events, *hooks, total, *batch, *workers)
	start := time.Now()
	for done := 0; done < *events; done += *batch {
		n := min(*batch, *events-done)
		if _, err := pool.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol)
			SELECT $1, $2, 'Investment ' || i, 'KO' FROM generate_series(1, $3::int) i`, workspaceID, userID, n); err != nil {
			return fmt.Errorf("error inserting: %w", err)
		}
	}
	inserted := time.Since(start)
	select {
	case <-recv.done:
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("bench: only %d of %d deliveries arrived within 5 minutes", recv.count(), total)
	case <-ctx.Done():
		return ctx.Err()
	}
	elapsed := time.Since(start)
	latencies := recv.sorted()
	pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	fmt.Fprintf(c.stdout, "inserted %d rows in %s (%.0f rows/s, captured in the same transactions)\n", *events, inserted.Round(time.Millisecond), float64(*events)/inserted.Seconds())
	fmt.Fprintf(c.stdout, "delivered %d in %s: %.0f deliveries/s\n", total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
	fmt.Fprintf(c.stdout, "capture to receipt: p50 %s, p90 %s, p99 %s, max %s\n",
		pct(0.5).Round(time.Millisecond), pct(0.9).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond))
	return nil
}

// scratchDatabase creates an empty database beside DATABASE_URL's and
// returns its URL and a func that drops it.
func (c *command) scratchDatabase(ctx context.Context) (string, func(), error) {
	admin, err := connect(ctx, c.databaseURL())
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("webhooks_bench_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("error creating scratch database: %w", err)
	}
	url, err := pgurl.WithDatabase(c.databaseURL(), name)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	return url, func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		admin.Close()
	}, nil
}

// benchReceiver counts deliveries and how long after capture each arrived.
type benchReceiver struct {
	mu        sync.Mutex
	want      int
	latencies []time.Duration
	done      chan struct{}
}

func (b *benchReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var env webhook.Envelope
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
		http.Error(w, "bad envelope", http.StatusBadRequest)
		return
	}
	captured, err := time.Parse(webhook.TimestampFormat, env.Timestamp)
	if err != nil {
		http.Error(w, "bad timestamp", http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latencies = append(b.latencies, time.Since(captured))
	if len(b.latencies) == b.want {
		close(b.done)
	}
}

func (b *benchReceiver) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.latencies)
}

func (b *benchReceiver) sorted() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Clone(b.latencies)
	slices.Sort(out)
	return out
}
