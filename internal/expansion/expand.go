package expansion

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/ksuid"

	"github.com/countercyclical/webhooks/db"
)

// Expander turns captured events into one message per webhook that may
// see each, and their delivery jobs (or, for an ordered webhook, a place in
// its resource's queue).
type Expander struct {
	Pool *pgxpool.Pool
	// Batch is how many events one transaction expands.
	Batch   int
	Enqueue Enqueue
	Orderer *Orderer
	Logger  *slog.Logger
	// BeforeCommit, in tests, holds a batch open to crash the process in it.
	BeforeCommit func()
}

// Run expands batches until none is left. After each, it releases the
// messages of ordered webhooks that may go: those it made, and those a
// concurrent expansion held back because this one held an earlier event.
func (w *Expander) Run(ctx context.Context) error {
	for {
		n, queued, err := w.expandBatch(ctx)
		if err != nil {
			return err
		}
		if err := w.Orderer.sweep(ctx, queued); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// ExpandBatch claims up to a batch of captured events from the queue and, in
// one transaction, records a message per (event, webhook), inserts their
// delivery jobs and moves the events into the outbox. Rows another expander
// holds are skipped, so any number of processes share the work and none
// expands a row twice; a crash rolls the whole batch back for another to
// take. It returns how many rows it expanded.
func (w *Expander) ExpandBatch(ctx context.Context) (int, error) {
	n, _, err := w.expandBatch(ctx)
	return n, err
}

// expandBatch is ExpandBatch, which also returns the resources of ordered
// webhooks it queued messages for.
func (w *Expander) expandBatch(ctx context.Context) (int, []orderedKey, error) {
	queries := db.New()
	tx, err := w.Pool.Begin(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("error beginning expansion: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck

	claimed, err := queries.OutboxClaim(ctx, tx, int32(w.Batch))
	if err != nil {
		return 0, nil, fmt.Errorf("error claiming outbox rows: %w", err)
	}
	if len(claimed) == 0 {
		return 0, nil, nil
	}
	ids := make([]int64, len(claimed))
	for i, c := range claimed {
		ids[i] = c.ID
	}
	matches, err := queries.OutboxMatch(ctx, tx, ids)
	if err != nil {
		return 0, nil, fmt.Errorf("error matching webhooks: %w", err)
	}
	var timestamps map[string]map[string]bool
	if len(matches) > 0 {
		if timestamps, err = timestampColumns(ctx, tx); err != nil {
			return 0, nil, err
		}
		matches = w.filter(ctx, matches, claimed, timestamps)
	}
	var queued db.OrderedQueueInsertManyParams
	if len(matches) > 0 {
		msg := db.MessageInsertManyParams{}
		deliveries := make([]Delivery, 0, len(matches))
		for _, m := range matches {
			id := "msg_" + ksuid.New().String()
			msg.Ids = append(msg.Ids, id)
			msg.OutboxIds = append(msg.OutboxIds, m.OutboxID)
			msg.WebhookIds = append(msg.WebhookIds, m.WebhookID)
			msg.WorkspaceIds = append(msg.WorkspaceIds, m.WorkspaceID)
			msg.EventTypes = append(msg.EventTypes, m.EventType)
			msg.CapturedAts = append(msg.CapturedAts, m.CapturedAt)
			if m.Ordered {
				// Its job is made when it is released (Orderer.sweep).
				enqueueOrdered(&queued, id, m.WebhookID, m.Resource, m.OutboxID, m.CapturedAt, m.EventType)
				continue
			}
			deliveries = append(deliveries, Delivery{MessageID: id, CapturedAt: m.CapturedAt, WebhookID: m.WebhookID, EventType: m.EventType})
		}
		if err := queries.MessageInsertMany(ctx, tx, msg); err != nil {
			return 0, nil, fmt.Errorf("error inserting messages: %w", err)
		}
		if len(queued.MessageIds) > 0 {
			if err := queries.OrderedQueueInsertMany(ctx, tx, queued); err != nil {
				return 0, nil, fmt.Errorf("error queueing ordered messages: %w", err)
			}
		}
		if len(deliveries) > 0 {
			if err := w.Enqueue(ctx, tx, deliveries); err != nil {
				return 0, nil, fmt.Errorf("error inserting delivery jobs: %w", err)
			}
		}
	}
	rendered, err := render(claimed, matches, timestamps)
	if err != nil {
		return 0, nil, err
	}
	if _, err := queries.OutboxExpand(ctx, tx, db.OutboxExpandParams{Ids: ids, Rendered: rendered}); err != nil {
		return 0, nil, fmt.Errorf("error moving events into the outbox: %w", err)
	}
	if w.BeforeCommit != nil {
		w.BeforeCommit()
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, nil, fmt.Errorf("error committing expansion: %w", err)
	}
	var keys []orderedKey
	for i := range queued.MessageIds {
		keys = append(keys, orderedKey{webhookID: queued.WebhookIds[i], resource: queued.Resources[i]})
	}
	return len(ids), keys, nil
}

// renderedEvent is one event as receivers get it, for OutboxExpand.
type renderedEvent struct {
	ID       int64           `json:"id"`
	Payload  json.RawMessage `json:"payload"`
	Previous json.RawMessage `json:"previous,omitempty"`
}

// timestampColumns reads the timestamp columns of each tracked table, by
// resource type, as the catalog says now.
func timestampColumns(ctx context.Context, tx pgx.Tx) (map[string]map[string]bool, error) {
	columns, err := db.New().TrackedTimestampColumns(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("error reading timestamp columns: %w", err)
	}
	timestamps := make(map[string]map[string]bool)
	for _, c := range columns {
		if timestamps[c.ResourceType] == nil {
			timestamps[c.ResourceType] = make(map[string]bool)
		}
		timestamps[c.ResourceType][c.ColumnName] = true
	}
	return timestamps, nil
}

// render renders, once, the events that have messages, and returns them as
// a JSON array; the others keep their image as captured.
func render(claimed []db.OutboxClaimRow, matches []db.OutboxMatchRow, timestamps map[string]map[string]bool) ([]byte, error) {
	matched := make(map[int64]bool, len(matches))
	for _, m := range matches {
		matched[m.OutboxID] = true
	}
	events := make([]renderedEvent, 0, len(matched))
	for _, c := range claimed {
		if !matched[c.ID] {
			continue
		}
		payload, err := renderPayload(c.Payload, timestamps[c.ResourceType])
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", c.ID, err)
		}
		previous, err := renderPayload(c.PreviousAttributes, timestamps[c.ResourceType])
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", c.ID, err)
		}
		events = append(events, renderedEvent{ID: c.ID, Payload: payload, Previous: previous})
	}
	data, err := json.Marshal(events)
	if err != nil {
		return nil, fmt.Errorf("error encoding rendered events: %w", err)
	}
	return data, nil
}
