package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/jobs"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func exec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

func queryID(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) string {
	t.Helper()
	var id string
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&id), sql)
	return id
}

func count(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&n), sql)
	return n
}

// startClient runs a real River client until the test ends.
func startClient(t testing.TB, pool *pgxpool.Pool, config jobs.Config) *river.Client[pgx.Tx] {
	t.Helper()
	config.Work = true
	client, err := jobs.NewClient(pool, config)
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(ctx))
	})
	return client
}

// startRunner runs a real River client with the outbox listener and the
// heartbeat, as serve does, until the test ends.
func startRunner(t testing.TB, pool *pgxpool.Pool, config jobs.Config) *river.Client[pgx.Tx] {
	t.Helper()
	runner, err := jobs.NewRunner(pool, config)
	require.NoError(t, err)
	require.NoError(t, runner.Start(context.Background()))
	t.Cleanup(runner.Stop)
	return runner.Client
}

// waitExpanded waits until no outbox row is left unexpanded. It waits long:
// it checks that expansion finishes, not how fast.
func waitExpanded(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM webhooks.capture_queue`) == 0
	}, 2*time.Minute, 20*time.Millisecond, "outbox rows left unexpanded")
}

// receivers returns, per outbox row's resource id and event type, the set
// of webhooks that got a message.
func receivers(t testing.TB, pool *pgxpool.Pool) map[string]map[string]bool {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT o.resource_id || ' ' || o.event_type, m.webhook_id
		FROM webhooks.messages m JOIN webhooks.outbox o ON o.id = m.outbox_id`)
	require.NoError(t, err)
	out := map[string]map[string]bool{}
	for rows.Next() {
		var key, webhookID string
		require.NoError(t, rows.Scan(&key, &webhookID))
		if out[key] == nil {
			out[key] = map[string]bool{}
		}
		out[key][webhookID] = true
	}
	require.NoError(t, rows.Err())
	return out
}
