package jobs

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/countercyclical/webhooks/internal/expansion"
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

// ExpandWorker runs the expansion until the outbox is empty.
type ExpandWorker struct {
	river.WorkerDefaults[ExpandArgs]
	expander *expansion.Expander
}

// Work expands until nothing is left.
func (w *ExpandWorker) Work(ctx context.Context, job *river.Job[ExpandArgs]) error {
	return w.expander.Run(ctx)
}

// replayPriority is River's priority of a replay's deliveries: after live
// ones (priority 1), which River fetches first.
const replayPriority = 4

// enqueuer makes expansion's delivery jobs on client, each with
// maxAttempts: one per wait of the schedule, and the first.
func enqueuer(client *river.Client[pgx.Tx], maxAttempts int) expansion.Enqueue {
	return func(ctx context.Context, tx pgx.Tx, deliveries []expansion.Delivery) error {
		params := make([]river.InsertManyParams, len(deliveries))
		for i, d := range deliveries {
			params[i] = river.InsertManyParams{
				Args: DeliverArgs{MessageID: d.MessageID, CapturedAt: d.CapturedAt, WebhookID: d.WebhookID, EventType: d.EventType,
					Trigger: d.Trigger, Ordered: d.Ordered},
				InsertOpts: &river.InsertOpts{MaxAttempts: maxAttempts},
			}
			if d.Replay {
				params[i].InsertOpts.Priority = replayPriority
			}
		}
		_, err := client.InsertManyFastTx(ctx, tx, params)
		return err
	}
}

// ReleaseOrdered releases, in tx, the next message of each given resource
// of ordered webhooks that has none under way, and inserts their delivery
// jobs (expansion.ReleaseOrdered).
func ReleaseOrdered(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], maxAttempts int, webhookIDs, resources []string) (int, error) {
	return expansion.ReleaseOrdered(ctx, tx, enqueuer(client, maxAttempts), webhookIDs, resources)
}
