package jobs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/jobs"
)

// BenchmarkCommitToExpansion measures how long after the app's commit its
// event is expanded, woken by the capture NOTIFY (the periodic safety net
// set to an hour so it cannot help), one event at a time.
func BenchmarkCommitToExpansion(b *testing.B) {
	ctx := context.Background()
	pool := bigPool(b)
	ws := dbtest.Workspace(b, pool, "Acme")
	owner := dbtest.Member(b, pool, ws, "owner")
	dbtest.Webhook(b, pool, ws, owner, "https://example.com/h")
	runner, err := jobs.NewRunner(pool, jobs.Config{ExpandOnly: true, SafetyNet: time.Hour})
	require.NoError(b, err)
	require.NoError(b, runner.Start(ctx)) // returns once the listener is LISTENing
	b.Cleanup(runner.Stop)
	waitExpanded(b, pool)

	var total time.Duration
	for b.Loop() {
		exec(b, pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, ws, owner)
		start := time.Now()
		for {
			var expanded bool
			require.NoError(b, pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM webhooks.capture_queue)`).Scan(&expanded))
			if expanded {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/expansion")
}

// BenchmarkCommitToDelivery measures from the app's commit to the endpoint's
// receiving the delivery, through expansion and a delivery job.
func BenchmarkCommitToDelivery(b *testing.B) {
	ctx := context.Background()
	pool := bigPool(b)
	got := make(chan struct{}, 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} }))
	b.Cleanup(srv.Close)
	ws := dbtest.Workspace(b, pool, "Acme")
	owner := dbtest.Member(b, pool, ws, "owner")
	dbtest.Webhook(b, pool, ws, owner, srv.URL)
	runner, err := jobs.NewRunner(pool, jobs.Config{SafetyNet: time.Hour, Delivery: delivery.Config{Policy: loopback()}})
	require.NoError(b, err)
	require.NoError(b, runner.Start(ctx)) // returns once the listener is LISTENing
	b.Cleanup(runner.Stop)

	for b.Loop() {
		exec(b, pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, ws, owner)
		select {
		case <-got:
		case <-time.After(time.Minute):
			b.Fatal("no delivery")
		}
	}
}

// bigPool is a pool the size serve uses: room for River's listener, ours,
// the workers and the benchmark's own queries.
func bigPool(b *testing.B) *pgxpool.Pool {
	config, err := pgxpool.ParseConfig(dbtest.NewDB(b))
	require.NoError(b, err)
	config.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(context.Background(), config)
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	return pool
}
