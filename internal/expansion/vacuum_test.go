package expansion_test

import (
	"context"
	"testing"
	"time"

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
	_, err := pool.Exec(ctx, `INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, payload)
		SELECT 'pipeline.created', 'pipeline', 'p' || n, 'ws', '{}' FROM generate_series(1, 2000) n`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `DELETE FROM webhooks.capture_queue`)
	require.NoError(t, err)
	stats := func() (vacuums, dead int64) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT vacuum_count, n_dead_tup FROM pg_stat_user_tables
			WHERE schemaname = 'webhooks' AND relname = 'capture_queue'`).Scan(&vacuums, &dead))
		return vacuums, dead
	}
	before, _ := stats()

	loopCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		expansion.VacuumQueue(loopCtx, pool, nil)
	}()
	require.Eventually(t, func() bool {
		vacuums, dead := stats()
		return vacuums > before && dead == 0
	}, 10*time.Second, 20*time.Millisecond, "the queue vacuumed, its 2,000 expanded rows gone")
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the vacuum went on after its context ended")
	}
}
