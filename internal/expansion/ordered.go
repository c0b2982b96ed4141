package expansion

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/batch"
	"github.com/countercyclical/webhooks/internal/delivery"
)

// Ordered webhooks get the changes of one resource one at a time, in commit
// order. Their messages wait in webhooks.ordered_queue without a delivery
// job; the first of a resource is released (its job made) when none of the
// resource is under way, and the next when it finishes. Unordered webhooks
// never touch the queue.
//
// Every change of the queue but expansion's inserts takes one lock first
// (OrderedLock), so no resource ever has two messages released. What
// releases:
//   - the end of each expansion batch, for the resources it queued for and
//     those a concurrent expansion held back at an earlier one;
//   - a delivery that finishes (succeeded, or cancelled), in batches;
//   - a retry, recover or skip asked for through the API, and a replay;
//   - every cleanEvery, a sweep of every resource that also finds
//     deliveries that finished without saying so (a crash between record
//     and finish), and released messages whose job is gone.

// orderedKey is a resource of an ordered webhook.
type orderedKey struct {
	webhookID, resource string
}

// enqueueOrdered adds a message to the rows that put it in its resource's
// queue.
func enqueueOrdered(q *db.OrderedQueueInsertManyParams, messageID, webhookID, resource string, outboxID int64, capturedAt time.Time, eventType string) {
	q.WebhookIds = append(q.WebhookIds, webhookID)
	q.Resources = append(q.Resources, resource)
	q.OutboxIds = append(q.OutboxIds, outboxID)
	q.MessageIds = append(q.MessageIds, messageID)
	q.CapturedAts = append(q.CapturedAts, capturedAt)
	q.EventTypes = append(q.EventTypes, eventType)
}

// ReleaseOrdered releases, in tx, the next message of each given resource
// of ordered webhooks that has none under way, or of every resource when
// keys is nil, and inserts their delivery jobs. It takes the queue's lock.
func ReleaseOrdered(ctx context.Context, tx pgx.Tx, enqueue Enqueue, webhookIDs, resources []string) (int, error) {
	queries := db.New()
	if err := queries.OrderedLock(ctx, tx); err != nil {
		return 0, fmt.Errorf("error locking the ordered queue: %w", err)
	}
	return releaseLocked(ctx, tx, enqueue, webhookIDs, resources)
}

// releaseLocked is ReleaseOrdered with the lock taken.
func releaseLocked(ctx context.Context, tx pgx.Tx, enqueue Enqueue, webhookIDs, resources []string) (int, error) {
	var rows []db.OrderedReleaseRow
	var err error
	if webhookIDs == nil {
		var all []db.OrderedReleaseAllRow
		all, err = db.New().OrderedReleaseAll(ctx, tx)
		for _, r := range all {
			rows = append(rows, db.OrderedReleaseRow(r))
		}
	} else {
		rows, err = db.New().OrderedRelease(ctx, tx, db.OrderedReleaseParams{WebhookIds: webhookIDs, Resources: resources})
	}
	if err != nil {
		return 0, fmt.Errorf("error releasing ordered messages: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	deliveries := make([]Delivery, len(rows))
	for i, r := range rows {
		deliveries[i] = Delivery{MessageID: r.MessageID, CapturedAt: r.CapturedAt, WebhookID: r.WebhookID, EventType: r.EventType,
			Trigger: r.Trigger, Ordered: true}
		if r.Trigger == delivery.TriggerReplay {
			deliveries[i].Replay = true // behind live deliveries, as an unordered replay's
		}
	}
	if err := enqueue(ctx, tx, deliveries); err != nil {
		return 0, fmt.Errorf("error inserting ordered delivery jobs: %w", err)
	}
	return len(rows), nil
}

// Orderer finishes ordered deliveries and sweeps the queue.
type Orderer struct {
	pool    *pgxpool.Pool
	enqueue Enqueue
	logger  *slog.Logger
	// finisher takes finished messages out of the queue in batches, and
	// releases what follows them.
	finisher *batch.Batcher[string, struct{}]

	mu        sync.Mutex
	lastClean time.Time
	// held are resources whose first message a concurrent expansion held
	// back, to release at the next sweep.
	held map[orderedKey]bool
}

// maxFinishBatch bounds the finished messages released in one transaction.
const maxFinishBatch = 1000

// cleanEvery is how often a sweep looks at every resource, and for released
// messages that finished without saying so or lost their job.
const cleanEvery = 10 * time.Second

// NewOrderer returns the orderer of a process, which enqueues what it
// releases with enqueue.
func NewOrderer(pool *pgxpool.Pool, enqueue Enqueue, logger *slog.Logger) *Orderer {
	o := &Orderer{pool: pool, enqueue: enqueue, logger: logger}
	o.finisher = batch.New(maxFinishBatch, o.finishBatch)
	return o
}

// Finish takes a finished message out of its resource's queue and releases
// the next, with those of concurrent deliveries.
func (o *Orderer) Finish(ctx context.Context, messageID string) error {
	if _, err := o.finisher.Do(ctx, messageID); err != nil {
		return fmt.Errorf("error releasing the next message of the resource: %w", err)
	}
	return nil
}

func (o *Orderer) finishBatch(ids []string) ([]struct{}, error) {
	ctx, cancel := context.WithTimeout(context.Background(), batch.Timeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
		queries := db.New()
		if err := queries.OrderedLock(ctx, tx); err != nil {
			return err
		}
		keys, err := queries.OrderedFinish(ctx, tx, ids)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		webhookIDs, resources := make([]string, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			webhookIDs[i], resources[i] = k.WebhookID, k.Resource
		}
		_, err = releaseLocked(ctx, tx, o.enqueue, webhookIDs, resources)
		return err
	})
	if err != nil {
		return nil, err
	}
	return make([]struct{}, len(ids)), nil
}

// sweep releases what may go after an expansion batch: the first waiting
// message of each resource the batch queued for, and of those an earlier
// sweep found held back by a concurrent expansion (remembered until they
// go). Every cleanEvery it also looks at every resource (which covers what
// a crash of another process left held back), takes out released messages
// that finished without saying so, and gives a new job to those whose job
// ended without finishing them.
func (o *Orderer) sweep(ctx context.Context, keys []orderedKey) error {
	o.mu.Lock()
	clean := time.Since(o.lastClean) >= cleanEvery
	if clean {
		o.lastClean = time.Now()
	}
	for k := range o.held {
		keys = append(keys, k)
	}
	o.mu.Unlock()
	if len(keys) == 0 && !clean {
		return nil
	}
	queries := db.New()
	var held []db.OrderedHeldRow
	err := pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
		if err := queries.OrderedLock(ctx, tx); err != nil {
			return fmt.Errorf("error locking the ordered queue: %w", err)
		}
		if clean {
			if err := o.clean(ctx, tx); err != nil {
				return err
			}
			_, err := releaseLocked(ctx, tx, o.enqueue, nil, nil)
			return err
		}
		webhookIDs, resources := make([]string, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			webhookIDs[i], resources[i] = k.webhookID, k.resource
		}
		if _, err := releaseLocked(ctx, tx, o.enqueue, webhookIDs, resources); err != nil {
			return err
		}
		var err error
		held, err = queries.OrderedHeld(ctx, tx, db.OrderedHeldParams{WebhookIds: webhookIDs, Resources: resources})
		if err != nil {
			return fmt.Errorf("error reading the ordered queue: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !clean {
		o.mu.Lock()
		o.held = make(map[orderedKey]bool, len(held))
		for _, h := range held {
			o.held[orderedKey{webhookID: h.WebhookID, resource: h.Resource}] = true
		}
		o.mu.Unlock()
	}
	return nil
}

// clean takes out of the queue the released messages that finished without
// saying so (a crash between a delivery's record and its finish) or no
// longer exist (retention removed them), and gives a new delivery job to
// those still to be sent whose job is gone.
func (o *Orderer) clean(ctx context.Context, tx pgx.Tx) error {
	queries := db.New()
	stale, err := queries.OrderedFinishedSweep(ctx, tx)
	if err != nil {
		return fmt.Errorf("error sweeping the ordered queue: %w", err)
	}
	if len(stale) > 0 {
		o.logger.WarnContext(ctx, "ordered messages found finished or removed; the next of their resources released", "messages", len(stale))
	}
	orphans, err := queries.OrderedOrphans(ctx, tx)
	if err != nil {
		return fmt.Errorf("error looking for ordered messages without a job: %w", err)
	}
	if len(orphans) == 0 {
		return nil
	}
	deliveries := make([]Delivery, len(orphans))
	for i, r := range orphans {
		deliveries[i] = Delivery{MessageID: r.MessageID, CapturedAt: r.CapturedAt, WebhookID: r.WebhookID, EventType: r.EventType,
			Trigger: r.Trigger, Ordered: true}
	}
	if err := o.enqueue(ctx, tx, deliveries); err != nil {
		return fmt.Errorf("error inserting jobs for ordered messages without one: %w", err)
	}
	o.logger.WarnContext(ctx, "ordered messages found released without a delivery job (one ended without finishing them); given a new one",
		"messages", len(orphans))
	return nil
}
