package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/segmentio/ksuid"

	"github.com/countercyclical/webhooks/db"
)

// ExpandArgs are the (empty) args of outbox_expand: a job expands whatever
// is unexpanded when it runs.
type ExpandArgs struct{}

// Kind is the job's kind.
func (ExpandArgs) Kind() string { return "outbox_expand" }

// InsertOpts puts expansion on its own queue.
func (ExpandArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueExpand, MaxAttempts: 5}
}

// ExpandWorker turns outbox rows into one webhook_deliver job per webhook
// that may see each.
type ExpandWorker struct {
	river.WorkerDefaults[ExpandArgs]
	pool     *pgxpool.Pool
	client   *river.Client[pgx.Tx]
	batch    int
	schedule []time.Duration
	// beforeCommit, in tests, holds a batch open to crash the process in it.
	beforeCommit func()
}

// Work expands batches until none is left.
func (w *ExpandWorker) Work(ctx context.Context, job *river.Job[ExpandArgs]) error {
	for {
		n, err := w.ExpandBatch(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// ExpandBatch claims up to a batch of unexpanded rows and, in one
// transaction, records a message per (event, webhook), inserts their
// delivery jobs and marks the rows expanded. Rows another expander holds are
// skipped, so any number of processes share the work and none expands a row
// twice; a crash rolls the whole batch back for another to take. It returns
// how many rows it expanded.
func (w *ExpandWorker) ExpandBatch(ctx context.Context) (int, error) {
	queries := db.New()
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("error beginning expansion: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck

	ids, err := queries.OutboxClaim(ctx, tx, int32(w.batch))
	if err != nil {
		return 0, fmt.Errorf("error claiming outbox rows: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	matches, err := queries.OutboxMatch(ctx, tx, ids)
	if err != nil {
		return 0, fmt.Errorf("error matching webhooks: %w", err)
	}
	if len(matches) > 0 {
		msg := db.MessageInsertManyParams{}
		jobs := make([]river.InsertManyParams, 0, len(matches))
		for _, m := range matches {
			id := "msg_" + ksuid.New().String()
			msg.Ids = append(msg.Ids, id)
			msg.OutboxIds = append(msg.OutboxIds, m.OutboxID)
			msg.WebhookIds = append(msg.WebhookIds, m.WebhookID)
			msg.WorkspaceIds = append(msg.WorkspaceIds, m.WorkspaceID)
			msg.EventTypes = append(msg.EventTypes, m.EventType)
			jobs = append(jobs, river.InsertManyParams{
				Args:       DeliverArgs{MessageID: id, WebhookID: m.WebhookID, EventType: m.EventType},
				InsertOpts: &river.InsertOpts{MaxAttempts: 1 + len(w.schedule)},
			})
		}
		if err := queries.MessageInsertMany(ctx, tx, msg); err != nil {
			return 0, fmt.Errorf("error inserting messages: %w", err)
		}
		if _, err := w.client.InsertManyFastTx(ctx, tx, jobs); err != nil {
			return 0, fmt.Errorf("error inserting delivery jobs: %w", err)
		}
	}
	if _, err := queries.OutboxMarkExpanded(ctx, tx, ids); err != nil {
		return 0, fmt.Errorf("error marking outbox rows expanded: %w", err)
	}
	if w.beforeCommit != nil {
		w.beforeCommit()
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("error committing expansion: %w", err)
	}
	return len(ids), nil
}
