package delivery

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/dbtest"
)

// A batch whose commit succeeded but whose answer was lost (the connection
// dropped after COMMIT) is retried; the retry finds it in the log and writes
// nothing again. A retry of a batch that was not committed writes it.
func TestRecordRetryAfterLostCommitLogsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.NewDB(t))
	require.NoError(t, err)
	defer pool.Close()
	ws, owner, hook := dbtest.OneWebhook(t, pool, "https://example.com/h")
	var outboxID int64
	_, err = pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, ws, owner)
	require.NoError(t, err)
	var capturedAt time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT id, captured_at FROM webhooks.capture_queue`).Scan(&outboxID, &capturedAt))
	msgID := dbtest.Messages(t, pool, dbtest.Message{OutboxID: outboxID, WebhookID: hook, WorkspaceID: ws, EventType: "pipeline.created", CapturedAt: capturedAt})[0]

	r := newRecorder(pool, time.Hour, slog.New(slog.DiscardHandler), nil)
	attempt := func(started time.Time) ([]Attempt, []byte) {
		batch := []Attempt{{MessageID: msgID, EventID: "e", WebhookID: hook, WorkspaceID: ws, EventType: "pipeline.created",
			URL: "https://example.com/h", StartedAt: started.Truncate(time.Microsecond), DurationMs: 1, Succeeded: true, State: "succeeded", RiverJobID: 1,
			CapturedAt: capturedAt}}
		data, err := json.Marshal(batch)
		require.NoError(t, err)
		return batch, data
	}
	logged := func() (rows, attempts int) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhooks.delivery_attempts WHERE message_id = $1),
			(SELECT attempts FROM webhooks.messages WHERE id = $1)`, msgID).Scan(&rows, &attempts))
		return rows, attempts
	}

	batch, data := attempt(time.Now())
	_, err = r.try(batch, data, false)
	require.NoError(t, err)
	_, err = r.try(batch, data, true)
	require.NoError(t, err)
	rows, attempts := logged()
	require.Equal(t, 1, rows, "the retry wrote nothing again")
	require.Equal(t, 1, attempts)

	batch, data = attempt(time.Now().Add(time.Second))
	_, err = r.try(batch, data, true)
	require.NoError(t, err)
	rows, attempts = logged()
	require.Equal(t, 2, rows, "a retry of a batch not committed writes it")
	require.Equal(t, 2, attempts)
}

// A batch whose writes fail is given up on when the deliverer closes, not
// retried for recordPatience after the process began to stop.
func TestRecordGivesUpWhenClosed(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: every try fails to connect.
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=1")
	require.NoError(t, err)
	defer pool.Close()
	closed := make(chan struct{})
	r := newRecorder(pool, time.Hour, slog.New(slog.DiscardHandler), closed)
	tries := make(chan struct{}, 100)
	r.beforeWrite = func([]Attempt) { tries <- struct{}{} }
	done := make(chan error, 1)
	go func() {
		_, err := r.write([]Attempt{{MessageID: "msg_x", StartedAt: time.Now()}})
		done <- err
	}()
	<-tries
	<-tries // it failed once, and tries again
	close(closed)
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(recordPatience / 2):
		t.Fatal("the recorder went on retrying after it was closed")
	}
}

// Recording a message's success changes no indexed column, so PostgreSQL
// updates it in place (a HOT update): no new entry in any of its indexes and
// no dead row for vacuum, at one update a delivery. An index that covers
// state (or another column the recorder sets) breaks this for every message.
func TestRecordUpdatesMessagesInPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)
	ws, _, hook := dbtest.OneWebhook(t, tx, "https://example.com/h")
	captured := time.Now().Truncate(time.Microsecond) // as PostgreSQL keeps it, or no message matches
	const n = 5                                       // a few, so that their new versions fit on their page
	ms := make([]dbtest.Message, n)
	for i := range ms {
		ms[i] = dbtest.Message{OutboxID: int64(i + 1), WebhookID: hook, WorkspaceID: ws, EventType: "pipeline.created", CapturedAt: captured}
	}
	ids := dbtest.Messages(t, tx, ms...)
	records := make([]Attempt, n)
	for i, id := range ids {
		records[i] = Attempt{N: i, MessageID: id, EventID: "evt", WebhookID: hook, WorkspaceID: ws, EventType: "pipeline.created",
			URL: "https://example.com/h", StartedAt: captured, DurationMs: 1, Succeeded: true, State: StateSucceeded,
			RiverJobID: int64(i + 1), TriggeredBy: TriggerSchedule, CapturedAt: captured}
	}
	data, err := json.Marshal(records)
	require.NoError(t, err)
	_, err = db.New().AttemptRecordMany(ctx, tx, db.AttemptRecordManyParams{Records: data, DisableAfterSeconds: 3600})
	require.NoError(t, err)

	var updated, hot, succeeded int
	require.NoError(t, tx.QueryRow(ctx, `SELECT pg_stat_get_xact_tuples_updated(m.tableoid), pg_stat_get_xact_tuples_hot_updated(m.tableoid),
		count(*) FILTER (WHERE m.state = 'succeeded')
		FROM webhooks.messages m WHERE m.id = ANY ($1) GROUP BY m.tableoid`, ids).Scan(&updated, &hot, &succeeded))
	require.Equal(t, n, succeeded)
	require.Equal(t, n, updated)
	require.Equal(t, n, hot, "every message's update was in place (HOT)")
}

// The recorder sets open_state with state: the state filter, recover and
// retention read it, and a check refuses a message whose open_state does
// not follow its state.
func TestRecordSetsOpenState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)
	ws, _, hook := dbtest.OneWebhook(t, tx, "https://example.com/h")
	captured := time.Now().Truncate(time.Microsecond)
	states := []string{StateSucceeded, StateRetrying, StateFailed}
	ms := make([]dbtest.Message, len(states))
	for i := range ms {
		ms[i] = dbtest.Message{OutboxID: int64(i + 1), WebhookID: hook, WorkspaceID: ws, EventType: "pipeline.created", CapturedAt: captured}
	}
	ids := dbtest.Messages(t, tx, ms...)
	records := make([]Attempt, len(states))
	for i, id := range ids {
		records[i] = Attempt{N: i, MessageID: id, EventID: "evt", WebhookID: hook, WorkspaceID: ws, EventType: "pipeline.created",
			URL: "https://example.com/h", StartedAt: captured, DurationMs: 1, Succeeded: states[i] == StateSucceeded, State: states[i],
			RiverJobID: int64(i + 1), TriggeredBy: TriggerSchedule, CapturedAt: captured}
	}
	data, err := json.Marshal(records)
	require.NoError(t, err)
	_, err = db.New().AttemptRecordMany(ctx, tx, db.AttemptRecordManyParams{Records: data, DisableAfterSeconds: 3600})
	require.NoError(t, err)

	for i, id := range ids {
		var state string
		var open *string
		require.NoError(t, tx.QueryRow(ctx, `SELECT state, open_state FROM webhooks.messages WHERE id = $1`, id).Scan(&state, &open))
		require.Equal(t, states[i], state)
		if states[i] == StateSucceeded {
			require.Nil(t, open, "a succeeded message is not in the state index")
		} else {
			require.NotNil(t, open)
			require.Equal(t, states[i], *open)
		}
	}

	_, err = tx.Exec(ctx, `UPDATE webhooks.messages SET state = 'cancelled' WHERE id = $1`, ids[0])
	require.ErrorContains(t, err, "messages_open_state_check")
}
