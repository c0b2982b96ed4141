package liveness

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/dbtest"
)

// runningJob inserts a delivery job that River would show as running in
// the process with clientID, at attempt of maxAttempts.
func runningJob(t *testing.T, pool *pgxpool.Pool, clientID string, attempt, maxAttempts int) int64 {
	t.Helper()
	var id int64
	require.NoError(t, pool.QueryRow(context.Background(), `
		INSERT INTO river_job (kind, args, queue, state, attempt, max_attempts, attempted_at, attempted_by, scheduled_at)
		VALUES ('webhook_deliver', '{}', 'webhook_deliver', 'running', $2, $3, now(), ARRAY['earlier', $1], now() - interval '1 minute')
		RETURNING id`, clientID, attempt, maxAttempts).Scan(&id))
	return id
}

func jobState(t *testing.T, pool *pgxpool.Pool, id int64) (state, lastError string) {
	t.Helper()
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT state, coalesce(errors[array_length(errors, 1)] ->> 'error', '') FROM river_job WHERE id = $1`, id).Scan(&state, &lastError))
	return state, lastError
}

// TestRescueJobs: the running jobs of a process unseen past the limit are
// made available again, once; those of a live process, of a process that
// never said it was alive, and jobs without an attempt left are not.
func TestRescueJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.NewDB(t))
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(ctx, `INSERT INTO webhooks.worker_processes (client_id, host, pid, seen_at)
		VALUES ('dead', 'h', 1, now() - interval '11 seconds'), ('live', 'h', 2, now() - interval '2 seconds')`)
	require.NoError(t, err)
	orphan := runningJob(t, pool, "dead", 2, 8)
	last := runningJob(t, pool, "dead", 8, 8)
	live := runningJob(t, pool, "live", 1, 8)
	unknown := runningJob(t, pool, "never-beat", 1, 8)

	// A caller alive for only 5 s cannot tell yet: the database may have
	// been out of reach of every process until then.
	var now time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT now()`).Scan(&now))
	rows, err := db.New().JobsRescue(ctx, pool, db.JobsRescueParams{StaleAfterSeconds: 10, AliveSince: now.Add(-5 * time.Second)})
	require.NoError(t, err)
	require.Empty(t, rows)

	rows, err = db.New().JobsRescue(ctx, pool, db.JobsRescueParams{StaleAfterSeconds: 10, AliveSince: now.Add(-time.Minute)})
	require.NoError(t, err)
	require.Equal(t, []db.JobsRescueRow{{ClientID: "dead", Jobs: 1}}, rows)
	state, lastError := jobState(t, pool, orphan)
	require.Equal(t, "available", state)
	require.Contains(t, lastError, "worker process dead stopped (last seen 00:00:11 ago); job rescued")
	var scheduledInPast bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT scheduled_at < now() - interval '30 seconds' FROM river_job WHERE id = $1`, orphan).Scan(&scheduledInPast))
	require.True(t, scheduledInPast, "a rescued job keeps its place in the queue")
	for _, id := range []int64{last, live, unknown} {
		state, _ := jobState(t, pool, id)
		require.Equal(t, "running", state, "job %d", id)
	}

	rows, err = db.New().JobsRescue(ctx, pool, db.JobsRescueParams{StaleAfterSeconds: 10, AliveSince: now.Add(-time.Minute)})
	require.NoError(t, err)
	require.Empty(t, rows, "a rescued job is rescued once")
}

// TestKeepAlive: a process beating takes up the jobs of one that stopped,
// never its own, and forgets itself when it stops.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.NewDB(t))
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(ctx, `INSERT INTO webhooks.worker_processes (client_id, host, pid, seen_at) VALUES ('dead', 'h', 1, now() - interval '1 second')`)
	require.NoError(t, err)
	orphan := runningJob(t, pool, "dead", 1, 8)
	own := runningJob(t, pool, "self", 1, 8)

	l := liveness{beat: 20 * time.Millisecond, stale: 300 * time.Millisecond, rescue: 50 * time.Millisecond}
	aliveCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.keepAlive(aliveCtx, pool, "self", nil) })
	require.Eventually(t, func() bool {
		state, _ := jobState(t, pool, orphan)
		return state == "available"
	}, time.Minute, 20*time.Millisecond, "the dead process's job is taken up")
	state, _ := jobState(t, pool, own)
	require.Equal(t, "running", state, "a live process's job is left to it")

	stop()
	wg.Wait()
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.worker_processes WHERE client_id = 'self'`).Scan(&n))
	require.Zero(t, n, "a process that stopped is forgotten")
}

func TestMain(m *testing.M) { dbtest.Main(m) }
