package riverjob_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/riverjob"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestRiverVersion: the uses of River's internals were read from
// riverjob.Version. Upgrading River fails here until someone reads them
// again, runs these tests, and moves the version.
func TestRiverVersion(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	require.NoError(t, err)
	version := regexp.MustCompile(`(?m)^\s*github\.com/riverqueue/river (v\S+)`).FindSubmatch(mod)
	require.NotNil(t, version, "go.mod does not require River")
	require.Equal(t, riverjob.Version, string(version[1]), "River was upgraded: check every use in riverjob.go (and the SQL it names) against the new version, then set riverjob.Version")
}

// pinArgs are a delivery job's as webhooks.park_deliveries finds them: its
// kind, queue and args.webhookId.
type pinArgs struct {
	WebhookID string `json:"webhookId"`
	// RetryAfter travels from Work to NextRetry on the job River passes to
	// both, as the delivery's Retry-After does.
	retryAfter time.Duration
}

func (pinArgs) Kind() string { return "webhook_deliver" }
func (pinArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: "webhook_deliver", MaxAttempts: 5}
}

// pinWorker calls work at each attempt, and reports NextRetry's view of
// the args.
type pinWorker struct {
	river.WorkerDefaults[pinArgs]
	work      func(ctx context.Context, job *river.Job[pinArgs]) error
	nextRetry chan time.Duration
}

func (w *pinWorker) Work(ctx context.Context, job *river.Job[pinArgs]) error { return w.work(ctx, job) }

func (w *pinWorker) NextRetry(job *river.Job[pinArgs]) time.Time {
	if w.nextRetry != nil {
		w.nextRetry <- job.Args.retryAfter
	}
	return time.Now().Add(time.Hour)
}

// newClient is a River client with the worker, working the delivery queue
// when work is true; id names it.
func newClient(t *testing.T, pool *pgxpool.Pool, id string, worker *pinWorker, work bool) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, worker)
	config := &river.Config{ID: id, Workers: workers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}
	if work {
		config.Queues = map[string]river.QueueConfig{"webhook_deliver": {MaxWorkers: 2}}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), config)
	require.NoError(t, err)
	if work {
		require.NoError(t, client.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, client.Stop(ctx))
		})
	}
	return client
}

func insert(t *testing.T, client *river.Client[pgx.Tx], args pinArgs) int64 {
	t.Helper()
	res, err := client.Insert(context.Background(), args, nil)
	require.NoError(t, err)
	return res.Job.ID
}

func jobState(t *testing.T, pool *pgxpool.Pool, id int64) (state string, attempt int, attemptedBy []string) {
	t.Helper()
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT state::text, attempt, coalesce(attempted_by, '{}') FROM river_job WHERE id = $1`, id).Scan(&state, &attempt, &attemptedBy))
	return state, attempt, attemptedBy
}

// TestAttemptedByHoldsClientID: webhooks.rescue_jobs finds a dead process's
// jobs by the last element of attempted_by, which must be the id of the
// client that fetched the job (the id the process's heartbeat gives).
func TestAttemptedByHoldsClientID(t *testing.T) {
	pool := dbtest.NewPool(t)
	done := make(chan struct{}, 1)
	worker := &pinWorker{work: func(context.Context, *river.Job[pinArgs]) error { done <- struct{}{}; return nil }}
	client := newClient(t, pool, "pin-client-1", worker, true)
	id := insert(t, client, pinArgs{WebhookID: "w1"})
	<-done
	require.Eventually(t, func() bool {
		state, _, _ := jobState(t, pool, id)
		return state == "completed"
	}, 10*time.Second, 10*time.Millisecond)
	_, _, attemptedBy := jobState(t, pool, id)
	require.NotEmpty(t, attemptedBy)
	require.Equal(t, "pin-client-1", attemptedBy[len(attemptedBy)-1])
}

// TestSnoozesCounts: the gates back off by how many times a delivery was
// snoozed, read from the job's metadata.
func TestSnoozesCounts(t *testing.T) {
	pool := dbtest.NewPool(t)
	var mu sync.Mutex
	var seen []int
	done := make(chan struct{})
	worker := &pinWorker{work: func(_ context.Context, job *river.Job[pinArgs]) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, riverjob.Snoozes(job.Metadata))
		if len(seen) < 3 {
			return river.JobSnooze(time.Millisecond)
		}
		close(done)
		return nil
	}}
	client := newClient(t, pool, "pin-client-2", worker, true)
	insert(t, client, pinArgs{WebhookID: "w1"})
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the job was not worked three times")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{0, 1, 2}, seen)
}

// TestNextRetrySeesWorksArgs: the delivery carries an endpoint's
// Retry-After from Work to NextRetry on the job's args, which River must
// pass to both as the same value.
func TestNextRetrySeesWorksArgs(t *testing.T) {
	pool := dbtest.NewPool(t)
	worker := &pinWorker{nextRetry: make(chan time.Duration, 1), work: func(_ context.Context, job *river.Job[pinArgs]) error {
		job.Args.retryAfter = 42 * time.Second
		return context.DeadlineExceeded
	}}
	client := newClient(t, pool, "pin-client-3", worker, true)
	insert(t, client, pinArgs{WebhookID: "w1"})
	select {
	case got := <-worker.nextRetry:
		require.Equal(t, 42*time.Second, got)
	case <-time.After(30 * time.Second):
		t.Fatal("NextRetry was not called")
	}
}

// TestRescuedJobIsWorkedAgain: a job that webhooks.rescue_jobs makes
// available again is fetched and worked, and counts its lost attempt.
func TestRescuedJobIsWorkedAgain(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	worked := make(chan int, 1)
	worker := &pinWorker{work: func(_ context.Context, job *river.Job[pinArgs]) error { worked <- job.Attempt; return nil }}
	id := insert(t, newClient(t, pool, "pin-inserter", worker, false), pinArgs{WebhookID: "w1"})
	// As a process that fetched the job, then died: running, its attempt
	// counted, its client's id last in attempted_by, its heartbeat old.
	_, err := pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 minute',
		attempted_by = ARRAY['pin-dead'] WHERE id = $1`, id)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO webhooks.worker_processes (client_id, host, pid, seen_at) VALUES ('pin-dead', 'host', 1, now() - interval '1 minute')`)
	require.NoError(t, err)

	rows, err := riverjob.Rescue(ctx, pool, 10*time.Second, time.Now().Add(-time.Minute))
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "pin-dead", rows[0].ClientID)
	require.EqualValues(t, 1, rows[0].Jobs)

	newClient(t, pool, "pin-client-4", worker, true)
	select {
	case attempt := <-worked:
		require.Equal(t, 2, attempt, "the lost attempt counts")
	case <-time.After(30 * time.Second):
		t.Fatal("the rescued job was not worked")
	}
}

// TestParkedJobBecomesAvailable: jobs that webhooks.park_deliveries puts
// aside as scheduled are made available by River's scheduler once due, and
// worked.
func TestParkedJobBecomesAvailable(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	worked := make(chan string, 4)
	worker := &pinWorker{work: func(_ context.Context, job *river.Job[pinArgs]) error { worked <- job.Args.WebhookID; return nil }}
	inserter := newClient(t, pool, "pin-inserter", worker, false)
	parked := []int64{insert(t, inserter, pinArgs{WebhookID: "parked"}), insert(t, inserter, pinArgs{WebhookID: "parked"})}
	other := insert(t, inserter, pinArgs{WebhookID: "other"})

	wake := time.Now().Add(time.Second)
	n, err := riverjob.Park(ctx, pool, "parked", wake, 100*time.Millisecond, wake.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, id := range parked {
		state, _, _ := jobState(t, pool, id)
		require.Equal(t, "scheduled", state)
	}
	state, _, _ := jobState(t, pool, other)
	require.Equal(t, "available", state, "another webhook's job is left alone")

	newClient(t, pool, "pin-client-5", worker, true)
	got := map[string]int{}
	for len(got) < 2 || got["parked"] < 2 {
		select {
		case webhookID := <-worked:
			got[webhookID]++
		case <-time.After(30 * time.Second):
			t.Fatalf("parked jobs not worked: %v", got)
		}
	}
	require.Equal(t, map[string]int{"parked": 2, "other": 1}, got)
}

// TestCountQueues counts by River's queue and state.
func TestCountQueues(t *testing.T) {
	pool := dbtest.NewPool(t)
	client := newClient(t, pool, "pin-inserter", &pinWorker{}, false)
	insert(t, client, pinArgs{WebhookID: "w1"})
	insert(t, client, pinArgs{WebhookID: "w2"})
	counts, err := riverjob.CountQueues(context.Background(), pool, []string{"available", "running"})
	require.NoError(t, err)
	require.Equal(t, []riverjob.QueueCount{{Queue: "webhook_deliver", State: "available", Jobs: 2}}, counts)
}

// River's reindexer names indexes of River's table; each must exist once
// our migrations have run, or River warns every day (and an upgrade of River
// that adds one shows here).
func TestReindexedIndexesExist(t *testing.T) {
	pool := dbtest.NewPool(t)
	names := riverjob.Reindexed()
	require.Len(t, names, len(river.ReindexerIndexNamesDefault())-1)
	require.NotContains(t, names, "river_job_args_index")
	for _, name := range names {
		var exists bool
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists))
		require.True(t, exists, "River reindexes %s, which our migrations do not leave", name)
	}
	var args bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT to_regclass('river_job_args_index') IS NOT NULL`).Scan(&args))
	require.False(t, args, "migration 000015 drops River's index on args")
}

// TestSqlcCopyOfRiverJob: sql/sqlc/river_job.sql, what sqlc knows of
// River's table, names columns River's migrations make, of the types it
// says (state, an enum of River's, is read as text), and whether they may
// be null.
func TestSqlcCopyOfRiverJob(t *testing.T) {
	copied, err := os.ReadFile(filepath.Join("..", "..", "sql", "sqlc", "river_job.sql"))
	require.NoError(t, err)
	body := regexp.MustCompile(`(?s)CREATE TABLE river_job \((.*)\);`).FindSubmatch(copied)
	require.NotNil(t, body, "no CREATE TABLE river_job in the copy")
	udt := map[string]string{"bigint": "int8", "text": "text", "jsonb": "jsonb", "timestamptz": "timestamptz", "jsonb[]": "_jsonb", "smallint": "int2"}
	pool := dbtest.NewPool(t)
	columns := 0
	for _, line := range strings.Split(string(body[1]), "\n") {
		fields := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ","))
		if len(fields) < 2 {
			continue
		}
		columns++
		name, typ := fields[0], fields[1]
		notNull := strings.Contains(line, "NOT NULL") || strings.Contains(line, "PRIMARY KEY")
		var gotType, nullable string
		err := pool.QueryRow(t.Context(), `SELECT udt_name, is_nullable FROM information_schema.columns
			WHERE table_name = 'river_job' AND column_name = $1`, name).Scan(&gotType, &nullable)
		require.NoError(t, err, "River's table has no column %s", name)
		want := udt[typ]
		if name == "state" {
			want = "river_job_state"
		}
		require.Equal(t, want, gotType, "column %s", name)
		require.Equal(t, notNull, nullable == "NO", "column %s: NOT NULL in the copy and in River's table", name)
	}
	require.GreaterOrEqual(t, columns, 9)
}

// finished inserts n jobs of River's table in state, finalized ago (not
// finalized when state is available), in a queue no client of these tests
// works.
func finished(t *testing.T, pool *pgxpool.Pool, state string, ago time.Duration, n int) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO river_job (kind, args, queue, state, finalized_at, max_attempts)
		SELECT 'webhook_deliver', '{}', 'default', $1::river_job_state,
			CASE WHEN $1 = 'available' THEN NULL ELSE now() - make_interval(secs => $2) END, 5
		FROM generate_series(1, $3)`, state, ago.Seconds(), n)
	require.NoError(t, err)
}

// jobStates counts River's jobs by state, and the completed ones finalized
// more than an hour ago as "completed old".
func jobStates(t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT CASE WHEN state = 'completed' AND finalized_at < now() - interval '1 hour'
		THEN 'completed old' ELSE state::text END, count(*)::int FROM river_job GROUP BY 1`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		require.NoError(t, rows.Scan(&state, &n))
		out[state] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// TestDeleteCompleted: only completed jobs finalized before the horizon go,
// up to max a call, and a row another transaction holds is skipped, not
// waited for. The jobs River completes itself are found the same way.
func TestDeleteCompleted(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	done := make(chan struct{}, 3)
	worker := &pinWorker{work: func(context.Context, *river.Job[pinArgs]) error { done <- struct{}{}; return nil }}
	client := newClient(t, pool, "clean-client-1", worker, true)
	for range 3 {
		insert(t, client, pinArgs{WebhookID: "w1"})
	}
	for range 3 {
		<-done
	}
	require.Eventually(t, func() bool { return jobStates(t, pool)["completed"] == 3 }, 10*time.Second, 10*time.Millisecond)
	n, err := riverjob.DeleteCompleted(ctx, pool, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Equal(t, 3, n, "the jobs River completed")

	finished(t, pool, "completed", 2*time.Hour, 5)
	finished(t, pool, "completed", 10*time.Minute, 2)
	finished(t, pool, "discarded", 2*time.Hour, 2)
	finished(t, pool, "cancelled", 2*time.Hour, 1)
	finished(t, pool, "available", 0, 2)

	held, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer held.Rollback(ctx)
	_, err = held.Exec(ctx, `SELECT id FROM river_job WHERE state = 'completed' AND finalized_at < now() - interval '1 hour'
		ORDER BY finalized_at LIMIT 1 FOR UPDATE`)
	require.NoError(t, err)

	before := time.Now().Add(-time.Hour)
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err = riverjob.DeleteCompleted(waitCtx, pool, before, 3)
	require.NoError(t, err)
	require.Equal(t, 3, n, "max a call")
	n, err = riverjob.DeleteCompleted(waitCtx, pool, before, 3)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the held row is skipped")
	require.NoError(t, held.Rollback(ctx))
	n, err = riverjob.DeleteCompleted(ctx, pool, before, 3)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the row once released")
	require.Equal(t, map[string]int{"completed": 2, "discarded": 2, "cancelled": 1, "available": 2}, jobStates(t, pool))

	cancelled, stop := context.WithCancel(ctx)
	stop()
	_, err = riverjob.DeleteCompleted(cancelled, pool, before, 3)
	require.ErrorContains(t, err, "error deleting completed jobs")
}

// TestCleanCompleted: the cleaner deletes a backlog larger than one
// statement's batch, leaves younger jobs, and returns once its context ends.
func TestCleanCompleted(t *testing.T) {
	pool := dbtest.NewPool(t)
	finished(t, pool, "completed", 2*time.Hour, 2500)
	finished(t, pool, "completed", time.Minute, 4)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		riverjob.CleanCompleted(ctx, pool, time.Hour, nil)
	}()
	require.Eventually(t, func() bool { return jobStates(t, pool)["completed old"] == 0 }, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, map[string]int{"completed": 4}, jobStates(t, pool))
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("CleanCompleted did not return once its context ended")
	}
}
