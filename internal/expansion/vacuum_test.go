package expansion_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/expansion"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// The queue's rows that expansion deleted are vacuumed away as the loop
// starts, without waiting for autovacuum (off on the test server), and the
// loop ends with its context.
func TestVacuumQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, payload)
		SELECT 'pipeline.created', 'pipeline', 'p' || n, 'ws', '{}' FROM generate_series(1, 2000) n`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `DELETE FROM webhooks.capture_queue`)
	require.NoError(t, err)
	// A backend sends its counts to the statistics when it can, up to
	// seconds later on a busy server: counted after the vacuum, the
	// delete's 2,000 dead rows would show again. This one sends them now.
	_, err = conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
	require.NoError(t, err)
	conn.Release()
	stats := func() (vacuums, dead int64) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT vacuum_count, n_dead_tup FROM pg_stat_user_tables
			WHERE schemaname = 'webhooks' AND relname = 'capture_queue'`).Scan(&vacuums, &dead))
		return vacuums, dead
	}
	require.Eventually(t, func() bool {
		_, dead := stats()
		return dead >= 2000
	}, 10*time.Second, 20*time.Millisecond, "the delete's dead rows counted")
	before, _ := stats()

	loopCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		expansion.VacuumQueue(loopCtx, pool, nil)
	}()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		vacuums, dead := stats()
		assert.Greater(c, vacuums, before, "vacuums")
		assert.Zero(c, dead, "dead rows")
	}, 10*time.Second, 20*time.Millisecond, "the queue vacuumed, its 2,000 expanded rows gone")
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the vacuum went on after its context ended")
	}
}
