package jobs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/stretchr/testify/require"
)

// TestViews drives a scripted scenario, a success, a retry then success, a
// discard and a disabled webhook, and checks the admins' views row by row,
// as the read-only role sees them.
func TestViews(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := deliverSetup(t, delivery.Config{Policy: loopback(), Schedule: []time.Duration{10 * time.Millisecond}})
	var flaky atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/flaky":
			if flaky.Add(1) == 1 {
				http.Error(w, "warming up", http.StatusServiceUnavailable)
			}
		case "/down":
			http.Error(w, "down", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	ok := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL+"/ok")
	flakyHook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL+"/flaky")
	down := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL+"/down")
	disabled := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL+"/ok")
	exec(t, b.pool, `UPDATE webhooks.webhooks SET name = CASE id WHEN $1 THEN 'ok' WHEN $2 THEN 'flaky' WHEN $3 THEN 'down' ELSE 'disabled' END`, ok, flakyHook, down)
	exec(t, b.pool, `UPDATE webhooks.webhooks SET enabled = false, disabled_at = now(), disabled_reason = 'paused' WHERE id = $1`, disabled)

	b.event(t)
	b.job(t, ok, "completed")
	b.job(t, flakyHook, "completed")
	b.job(t, down, "discarded")

	var baseTables []string
	rows, err := b.pool.Query(ctx, `SELECT 'webhooks.' || table_name FROM information_schema.tables t
		WHERE table_schema = 'webhooks' AND table_type = 'BASE TABLE'
		  AND NOT (SELECT c.relispartition FROM pg_class c WHERE c.oid = format('webhooks.%I', t.table_name)::regclass)`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		baseTables = append(baseTables, name)
	}
	require.NoError(t, rows.Err())
	require.Len(t, baseTables, 16, "a new table is refused to webhooks_reader below: count it here")

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = tx.Exec(ctx, `SET LOCAL ROLE webhooks_reader`)
	require.NoError(t, err)

	type logRow struct {
		name, outcome string
		attempt       int
		status        *int
		class         *string
	}
	rows, err = tx.Query(ctx, `SELECT webhook_name, outcome, attempt, status_code, error_class FROM webhooks.delivery_log ORDER BY webhook_name, attempt`)
	require.NoError(t, err)
	var log []logRow
	for rows.Next() {
		var r logRow
		require.NoError(t, rows.Scan(&r.name, &r.outcome, &r.attempt, &r.status, &r.class))
		log = append(log, r)
	}
	require.NoError(t, rows.Err())
	i := func(v int) *int { return &v }
	str := func(v string) *string { return &v }
	require.Equal(t, []logRow{
		{"down", "failed", 1, i(500), str("status")},
		{"down", "failed", 2, i(500), str("status")},
		{"flaky", "failed", 1, i(503), str("status")},
		{"flaky", "succeeded", 2, i(200), nil},
		{"ok", "succeeded", 1, i(200), nil},
	}, log)

	type statusRow struct {
		name, state string
		attempts    int
		last        *int
		next        *time.Time
	}
	rows, err = tx.Query(ctx, `SELECT webhook_name, state, attempts, last_status_code, next_attempt_at FROM webhooks.message_status ORDER BY webhook_name`)
	require.NoError(t, err)
	var statuses []statusRow
	for rows.Next() {
		var r statusRow
		require.NoError(t, rows.Scan(&r.name, &r.state, &r.attempts, &r.last, &r.next))
		statuses = append(statuses, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []statusRow{
		{"down", "failed", 2, i(500), nil},
		{"flaky", "succeeded", 2, i(200), nil},
		{"ok", "succeeded", 1, i(200), nil},
	}, statuses, "the disabled webhook has no message")

	type healthRow struct {
		name            string
		enabled         bool
		attempts1h      int
		rate1h, rate24h *float64
		failuresSinceOK int
		hasLastSuccess  bool
		hasLastFailure  bool
		disabledReason  *string
	}
	rows, err = tx.Query(ctx, `SELECT name, enabled, attempts_1h, success_rate_1h::float8, success_rate_24h::float8, failures_since_success,
		last_success_at IS NOT NULL, last_failure_at IS NOT NULL, disabled_reason FROM webhooks.endpoint_health ORDER BY name`)
	require.NoError(t, err)
	var health []healthRow
	for rows.Next() {
		var r healthRow
		require.NoError(t, rows.Scan(&r.name, &r.enabled, &r.attempts1h, &r.rate1h, &r.rate24h, &r.failuresSinceOK, &r.hasLastSuccess, &r.hasLastFailure, &r.disabledReason))
		health = append(health, r)
	}
	require.NoError(t, rows.Err())
	f := func(v float64) *float64 { return &v }
	require.Equal(t, []healthRow{
		{"disabled", false, 0, nil, nil, 0, false, false, str("paused")},
		{"down", true, 2, f(0), f(0), 2, false, true, nil},
		{"flaky", true, 2, f(50), f(50), 0, true, true, nil},
		{"ok", true, 1, f(100), f(100), 0, true, false, nil},
	}, health)

	var unexpanded int
	var oldest *time.Time
	require.NoError(t, tx.QueryRow(ctx, `SELECT unexpanded, oldest_captured_at FROM webhooks.outbox_backlog`).Scan(&unexpanded, &oldest))
	require.Zero(t, unexpanded)
	require.Nil(t, oldest)

	// The role reaches nothing else: no base table of the schema, nor River's.
	for _, table := range append(baseTables, "river_job", "public.users") {
		_, err := tx.Exec(ctx, `SAVEPOINT s`)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `SELECT 1 FROM `+table+` LIMIT 1`)
		require.ErrorContains(t, err, "permission denied", table)
		_, err = tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`)
		require.NoError(t, err)
	}
}
