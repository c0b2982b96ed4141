package jobs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/jobs"
)

// TestRetentionRemovesWholePartitions: slices past the retention are
// removed whole, with their events, messages and attempts, unless a message
// in them is still to be delivered; later slices stay, and slices are made
// ahead.
func TestRetentionRemovesWholePartitions(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	hook := dbtest.Webhook(t, pool, ws, owner, "https://example.com/h")
	today := queryID(t, pool, `SELECT min(from_at)::text FROM webhooks.partitions`)
	// Three days before today's slice: the oldest with a message still
	// retrying, the next two done.
	exec(t, pool, `SELECT webhooks.add_partition(d, d + interval '1 day')
		FROM generate_series($1::timestamptz - interval '3 days', $1::timestamptz - interval '1 day', interval '1 day') d`, today)
	seed := func(from string, state string) {
		t.Helper()
		exec(t, pool, `INSERT INTO webhooks.outbox (event_id, event_type, resource_type, resource_id, workspace_id, payload, captured_at, expanded_at)
			SELECT webhooks.gen_id(), 'pipeline.created', 'pipeline', 'p' || i, $1, '{}', $2::timestamptz + i * interval '1 second', now()
			FROM generate_series(1, 1000) i`, ws, from)
		rows, err := pool.Query(t.Context(), `SELECT id, captured_at FROM webhooks.outbox
			WHERE captured_at >= $1::timestamptz AND captured_at < $1::timestamptz + interval '1 day'`, from)
		require.NoError(t, err)
		events, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
			ID         int64
			CapturedAt time.Time
		}])
		require.NoError(t, err)
		var messages []dbtest.Message
		for _, o := range events {
			m := dbtest.Message{ID: fmt.Sprintf("msg_%027d", o.ID), OutboxID: o.ID, WebhookID: hook, WorkspaceID: ws, EventType: "pipeline.created",
				State: "succeeded", CapturedAt: o.CapturedAt}
			if o.ID%500 == 0 {
				m.State = state
			}
			messages = append(messages, m)
		}
		ids := dbtest.Messages(t, pool, messages...)
		var attempts []dbtest.Attempt
		for i, m := range messages {
			attempts = append(attempts, dbtest.Attempt{MessageID: ids[i], WebhookID: m.WebhookID, WorkspaceID: m.WorkspaceID, EventType: m.EventType,
				Attempt: 1, URL: "https://example.com/h", StartedAt: m.CapturedAt, DurationMs: 1, Succeeded: m.State == "succeeded", CapturedAt: m.CapturedAt})
		}
		dbtest.Attempts(t, pool, attempts...)
	}
	held := queryID(t, pool, `SELECT ($1::timestamptz - interval '3 days')::text`, today)
	seed(held, "retrying")
	seed(queryID(t, pool, `SELECT ($1::timestamptz - interval '2 days')::text`, today), "failed")
	seed(queryID(t, pool, `SELECT ($1::timestamptz - interval '1 day')::text`, today), "cancelled")
	exec(t, pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'today')`, ws, owner)
	require.Equal(t, 3, count(t, pool, `SELECT count(DISTINCT tableoid) FROM webhooks.outbox`), "today's event is queued until expanded")
	before := count(t, pool, `SELECT count(*) FROM webhooks.partitions`)

	// A retention of an hour takes in every slice before today's. The held
	// slice's retrying message waits for its delivery job, due in an hour
	// (this client works no deliveries).
	client := startClient(t, pool, jobs.Config{ExpandOnly: true, Retention: time.Hour, PartitionsAhead: 10})
	var retrying jobs.DeliverArgs
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT id, captured_at, webhook_id, event_type FROM webhooks.messages WHERE state = 'retrying'`).
		Scan(&retrying.MessageID, &retrying.CapturedAt, &retrying.WebhookID, &retrying.EventType))
	retryJob, err := client.Insert(t.Context(), retrying, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	nextAttempt := func() *time.Time {
		t.Helper()
		var next *time.Time
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT next_attempt_at FROM webhooks.message_status WHERE message_id = $1`, retrying.MessageID).Scan(&next))
		return next
	}
	require.NotNil(t, nextAttempt(), "message_status shows when the job runs")
	require.WithinDuration(t, retryJob.Job.ScheduledAt, *nextAttempt(), time.Microsecond)
	_, err = client.Insert(t.Context(), jobs.RetentionArgs{}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM webhooks.partitions WHERE from_at < $1::timestamptz`, today) == 1
	}, time.Minute, 20*time.Millisecond)

	// The held slice is whole: its 1,000 events, messages and attempts.
	for _, table := range []string{"outbox", "messages", "delivery_attempts"} {
		require.Equal(t, 1000, count(t, pool, `SELECT count(*) FROM webhooks.`+table+` WHERE captured_at < $1::timestamptz`, today), table)
		require.Equal(t, 1000, count(t, pool, `SELECT count(*) FROM webhooks.`+table+` WHERE captured_at >= $1::timestamptz AND captured_at < $1::timestamptz + interval '1 day'`, held), table)
		// The removed slices' tables are gone, not emptied.
		require.Equal(t, 1, count(t, pool, `SELECT count(*) FROM pg_class WHERE relnamespace = 'webhooks'::regnamespace
			AND relname LIKE $1 || '\_%' AND relkind = 'r' AND relname < webhooks.partition_name($1, $2::timestamptz)`, table, today), table)
	}
	waitExpanded(t, pool)
	require.Equal(t, 1, count(t, pool, `SELECT count(*) FROM webhooks.outbox WHERE captured_at >= $1::timestamptz`, today), "today's event stays")
	require.Equal(t, 1, count(t, pool, `SELECT count(*) FROM webhooks.partitions WHERE from_at < $1::timestamptz`, today), "the held slice alone is listed")

	// Slices are made ahead: ten after the current one.
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM webhooks.partitions WHERE from_at > now()`) >= 10
	}, time.Minute, 20*time.Millisecond)
	require.Greater(t, count(t, pool, `SELECT count(*) FROM webhooks.partitions`), before-2)

	// Once its message is done with (its job cancelled), the held slice goes
	// too, at the next run (inserted once this one has finished: one runs at
	// a time).
	_, err = client.JobCancel(t.Context(), retryJob.Job.ID)
	require.NoError(t, err)
	require.Nil(t, nextAttempt(), "a cancelled job runs no more")
	exec(t, pool, `UPDATE webhooks.messages SET state = 'cancelled', open_state = 'cancelled' WHERE state = 'retrying'`)
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM river_job WHERE kind = 'webhooks_retention' AND finalized_at IS NULL`) == 0
	}, time.Minute, 20*time.Millisecond)
	_, err = client.Insert(t.Context(), jobs.RetentionArgs{}, nil)
	require.NoError(t, err)
	// The slice is forgotten last, once its partitions are gone.
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM webhooks.partitions WHERE from_at < $1::timestamptz`, today) == 0
	}, time.Minute, 20*time.Millisecond)
	require.Zero(t, count(t, pool, `SELECT count(*) FROM webhooks.outbox WHERE captured_at < $1::timestamptz`, today))
}

// TestRetentionFinishesAnInterruptedRemoval: a slice whose removal stopped
// half way (one partition dropped, one detached, one attached) is removed
// at the next run.
func TestRetentionFinishesAnInterruptedRemoval(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	today := queryID(t, pool, `SELECT min(from_at)::text FROM webhooks.partitions`)
	from := queryID(t, pool, `SELECT ($1::timestamptz - interval '1 day')::text`, today)
	exec(t, pool, `SELECT webhooks.add_partition($1::timestamptz, $2::timestamptz)`, from, today)
	exec(t, pool, `ALTER TABLE webhooks.delivery_attempts DETACH PARTITION webhooks.`+queryID(t, pool, `SELECT webhooks.partition_name('delivery_attempts', $1::timestamptz)`, from))
	exec(t, pool, `DROP TABLE webhooks.`+queryID(t, pool, `SELECT webhooks.partition_name('delivery_attempts', $1::timestamptz)`, from))
	exec(t, pool, `ALTER TABLE webhooks.messages DETACH PARTITION webhooks.`+queryID(t, pool, `SELECT webhooks.partition_name('messages', $1::timestamptz)`, from))
	require.Equal(t, "gone", queryID(t, pool, `SELECT webhooks.partition_state('delivery_attempts', $1::timestamptz)`, from))
	require.Equal(t, "detached", queryID(t, pool, `SELECT webhooks.partition_state('messages', $1::timestamptz)`, from))
	require.Equal(t, "attached", queryID(t, pool, `SELECT webhooks.partition_state('outbox', $1::timestamptz)`, from))

	client := startClient(t, pool, jobs.Config{ExpandOnly: true, Retention: time.Hour})
	_, err := client.Insert(t.Context(), jobs.RetentionArgs{}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM webhooks.partitions WHERE from_at = $1::timestamptz`, from) == 0
	}, time.Minute, 20*time.Millisecond)
	for _, table := range []string{"outbox", "messages", "delivery_attempts"} {
		require.Equal(t, "gone", queryID(t, pool, `SELECT webhooks.partition_state($1, $2::timestamptz)`, table, from), table)
	}
}

// TestCaptureIntoNewestPartition: with slices an hour long made ahead, an
// app's write, once expanded, lands in the slice of its capture time, and a
// row with no slice is refused rather than kept anywhere (there is no
// DEFAULT).
func TestCaptureIntoNewestPartition(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	last := queryID(t, pool, `SELECT max(to_at)::text FROM webhooks.partitions`)
	require.Equal(t, 3, count(t, pool, `SELECT webhooks.make_partitions($1::timestamptz + interval '3 hours', interval '1 hour')`, last))
	exec(t, pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, ws, owner)
	startClient(t, pool, jobs.Config{ExpandOnly: true})
	waitExpanded(t, pool)
	require.Equal(t, queryID(t, pool, `SELECT 'webhooks.' || webhooks.partition_name('outbox', from_at) FROM webhooks.partitions WHERE from_at <= now() AND to_at > now()`),
		queryID(t, pool, `SELECT tableoid::regclass::text FROM webhooks.outbox`))
	// An hour-long slice lands where the day-long ones end. The row is
	// written expanded: an unexpanded one is the retention job's to requeue,
	// and the job the client started runs at any moment.
	exec(t, pool, `INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, payload, captured_at, expanded_at)
		VALUES ('pipeline.created', 'pipeline', 'p', $1, '{}', $2::timestamptz + interval '90 minutes', now())`, ws, last)
	require.Equal(t, queryID(t, pool, `SELECT 'webhooks.' || webhooks.partition_name('outbox', $1::timestamptz + interval '1 hour')`, last),
		queryID(t, pool, `SELECT tableoid::regclass::text FROM webhooks.outbox WHERE captured_at > now() + interval '1 day'`))
	_, err := pool.Exec(t.Context(), `INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, payload, captured_at)
		VALUES ('pipeline.created', 'pipeline', 'p', $1, '{}', $2::timestamptz + interval '3 hours')`, ws, last)
	require.ErrorContains(t, err, "no partition of relation")
}

// TestRetentionRequeuesStrandedEvents: an event left unexpanded in the outbox
// (written by a capture that began before migration 000014 moved capture to
// the queue) is moved to the queue by the retention job, which runs at
// start, and expanded like any other.
func TestRetentionRequeuesStrandedEvents(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	hook := dbtest.Webhook(t, pool, ws, owner, "https://example.com/h")
	stranded := queryID(t, pool, `INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, payload)
		VALUES ('pipeline.created', 'pipeline', 'p1', $1, json_build_object('id', 'p1', 'workspace_id', $1::text, 'created_by', $2::text, 'visibility', 'Workspace'))
		RETURNING id::text`, ws, owner)
	startClient(t, pool, jobs.Config{ExpandOnly: true})
	exec(t, pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p2')`, ws, owner)
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM webhooks.outbox WHERE expanded_at IS NULL`) == 0
	}, time.Minute, 20*time.Millisecond)
	waitExpanded(t, pool)
	require.Equal(t, 1, count(t, pool, `SELECT count(*) FROM webhooks.outbox WHERE id = $1::bigint AND rendered AND event_id IS NOT NULL`, stranded))
	require.Equal(t, 2, count(t, pool, `SELECT count(*) FROM webhooks.messages WHERE webhook_id = $1`, hook))
}

// TestRunnerDeletesCompletedJobs: a runner deletes River's completed jobs
// once JobRetention old, and none younger; River's cleaner, told to keep
// them, does not race it. Discarded jobs stay as long as the logs.
func TestRunnerDeletesCompletedJobs(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	insertJobs := func(state string, ago time.Duration, n int) {
		exec(t, pool, `INSERT INTO river_job (kind, args, queue, state, finalized_at, max_attempts)
			SELECT 'webhook_deliver', '{}', 'default', $1::river_job_state, now() - make_interval(secs => $2), 5
			FROM generate_series(1, $3)`, state, ago.Seconds(), n)
	}
	insertJobs("completed", 2*time.Hour, 1500)
	insertJobs("completed", 10*time.Minute, 3)
	insertJobs("discarded", 2*time.Hour, 2)
	startRunner(t, pool, jobs.Config{JobRetention: time.Hour})
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM river_job WHERE state = 'completed' AND finalized_at < now() - interval '1 hour'`) == 0
	}, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, 3, count(t, pool, `SELECT count(*) FROM river_job WHERE state = 'completed' AND queue = 'default'`))
	require.Equal(t, 2, count(t, pool, `SELECT count(*) FROM river_job WHERE state = 'discarded'`))
}

// TestExpiredPartitionsNotCompiled: the retention's check of expired slices
// is not JIT-compiled, whatever the server's thresholds (its estimate is
// far above jit_above_cost, its work a few index pages). auto_explain sends
// the plan of the function's own query, run with JIT forced on.
func TestExpiredPartitionsNotCompiled(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	var plans []string
	config := pool.Config().ConnConfig.Copy()
	config.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { plans = append(plans, n.Message) }
	conn, err := pgx.ConnectConfig(ctx, config)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var jit bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_jit_available()`).Scan(&jit))
	if !jit {
		t.Skip("this PostgreSQL has no JIT")
	}
	for _, sql := range []string{`LOAD 'auto_explain'`, `SET auto_explain.log_min_duration = 0`,
		`SET auto_explain.log_nested_statements = on`, `SET auto_explain.log_analyze = on`,
		`SET auto_explain.log_level = notice`, `SET jit_above_cost = 0`} {
		_, err := conn.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	// What the test relies on: with these settings a query is compiled.
	plans = nil
	_, err = conn.Exec(ctx, `SELECT count(*) FROM webhooks.partitions`)
	require.NoError(t, err)
	require.Len(t, plans, 1)
	require.Contains(t, plans[0], "JIT:")

	plans = nil
	_, err = conn.Exec(ctx, `SELECT * FROM webhooks.expired_partitions(now())`)
	require.NoError(t, err)
	var inner []string
	for _, p := range plans {
		if strings.Contains(p, "river_job") {
			inner = append(inner, p)
		}
	}
	require.Len(t, inner, 1, "the function's own query, in %q", plans)
	require.NotContains(t, inner[0], "JIT:")
}
