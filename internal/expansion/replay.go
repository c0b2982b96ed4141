package expansion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/ksuid"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/delivery"
)

// A replay sends a webhook the events of a time range again: those its
// subscription, filters and creator's role choose today, from before the
// webhook existed too, within the retention. It makes new messages (new
// webhook-ids, the events' own eventIds) a window at a time, at a lower
// River priority than live deliveries, so that live traffic goes first; the
// webhook's rate limit and in-flight cap apply to both.

// MaxReplay is the most events one replay sends.
const MaxReplay = 100_000

// replayWindow is the most messages of a replay under way at once.
const replayWindow = 200

// replayPage is how many candidate events one query reads.
const replayPage = 1000

// Takes says whether a subscription takes an event type, as expansion
// matches them: by name, by its resource's "type.*", or by "*", which takes
// the app's resources, not events about webhooks and messages.
func Takes(subscription []string, eventType string) bool {
	resource := eventType
	if i := strings.LastIndexByte(eventType, '.'); i >= 0 {
		resource = eventType[:i]
	}
	return slices.Contains(subscription, eventType) || slices.Contains(subscription, resource+".*") ||
		(slices.Contains(subscription, "*") && resource != "webhook" && resource != "message")
}

// ReplayRequest is a replay asked for.
type ReplayRequest struct {
	WebhookID, WorkspaceID, CreatedBy string
	Since, Until                      time.Time
	// EventTypes narrows the webhook's subscription; nil: all of it.
	EventTypes []string
}

// Errors of StartReplay and CountReplay that say what to change.
var (
	ErrReplayRunning = errors.New("a replay of this webhook is running; cancel it or wait for it to finish")
)

// ReplayTooLargeError is a range with more events than MaxReplay.
type ReplayTooLargeError struct{ Events int64 }

func (e *ReplayTooLargeError) Error() string {
	return fmt.Sprintf("the range holds more than %d events (counted %d before stopping); a replay sends at most %d: narrow the range or the event types", MaxReplay, e.Events, MaxReplay)
}

// ReplayBeforeRetentionError is a range that begins before the oldest
// events kept.
type ReplayBeforeRetentionError struct{ Oldest time.Time }

func (e *ReplayBeforeRetentionError) Error() string {
	return fmt.Sprintf("must not be before %s: older events are no longer kept (WEBHOOKS_RETENTION)", e.Oldest.UTC().Format(time.RFC3339))
}

// replayEvent is an event a replay sends.
type replayEvent struct {
	id         int64
	capturedAt time.Time
	eventType  string
	resource   string
}

// replayEvents reads, after afterID, up to limit events of the request that
// pass the webhook's filters, and the last event id it looked at (to go on
// from); fewer than limit only when none is left.
func replayEvents(ctx context.Context, tx pgx.Tx, wh db.WebhooksWebhook, req ReplayRequest, afterID int64, limit int) ([]replayEvent, int64, error) {
	queries := db.New()
	var timestamps map[string]map[string]bool
	filtering := wh.Filter != nil || len(wh.ChangedColumns) > 0
	if filtering {
		var err error
		if timestamps, err = timestampColumns(ctx, tx); err != nil {
			return nil, 0, err
		}
	}
	expander := &Expander{}
	var out []replayEvent
	for len(out) < limit {
		rows, err := queries.ReplayCandidates(ctx, tx, db.ReplayCandidatesParams{
			WebhookID: wh.ID, Since: req.Since, Until: req.Until, AfterID: afterID, EventTypes: req.EventTypes, Max: replayPage,
		})
		if err != nil {
			return nil, 0, fmt.Errorf("error reading events to replay: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		matches := make([]db.OutboxMatchRow, len(rows))
		claimed := make([]db.OutboxClaimRow, len(rows))
		byID := make(map[int64]db.ReplayCandidatesRow, len(rows))
		for i, r := range rows {
			matches[i] = db.OutboxMatchRow{OutboxID: r.ID, CapturedAt: r.CapturedAt, WebhookID: wh.ID, EventType: r.EventType,
				Filter: wh.Filter, ChangedColumns: wh.ChangedColumns}
			claimed[i] = db.OutboxClaimRow{ID: r.ID, ResourceType: r.ResourceType, Payload: r.Payload, PreviousAttributes: r.PreviousAttributes}
			byID[r.ID] = r
		}
		if filtering {
			matches = expander.filter(ctx, matches, claimed, timestamps)
		}
		for _, m := range matches {
			if len(out) == limit {
				return out, afterID, nil
			}
			r := byID[m.OutboxID]
			out = append(out, replayEvent{id: r.ID, capturedAt: r.CapturedAt, eventType: r.EventType, resource: r.Resource})
			afterID = r.ID
		}
		if len(rows) < replayPage {
			break
		}
		afterID = max(afterID, rows[len(rows)-1].ID)
	}
	return out, afterID, nil
}

// CountReplay counts the events a replay would send (its dry run), up to
// MaxReplay + 1.
func CountReplay(ctx context.Context, pool *pgxpool.Pool, req ReplayRequest) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		n, err = countReplay(ctx, tx, req)
		return err
	})
	return n, err
}

func countReplay(ctx context.Context, tx pgx.Tx, req ReplayRequest) (int64, error) {
	queries := db.New()
	oldest, err := queries.OldestKept(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("error reading the retention: %w", err)
	}
	if req.Since.Before(oldest) {
		return 0, &ReplayBeforeRetentionError{Oldest: oldest}
	}
	wh, err := queries.WebhookGetByID(ctx, tx, db.WebhookGetByIDParams{ID: req.WebhookID, WorkspaceID: req.WorkspaceID})
	if err != nil {
		return 0, fmt.Errorf("error loading webhook: %w", err)
	}
	events, _, err := replayEvents(ctx, tx, wh, req, 0, MaxReplay+1)
	if err != nil {
		return 0, err
	}
	return int64(len(events)), nil
}

// CountReplayTx is CountReplay in tx.
func CountReplayTx(ctx context.Context, tx pgx.Tx, req ReplayRequest) (int64, error) {
	return countReplay(ctx, tx, req)
}

// Replayer queues replays' messages a window at a time.
type Replayer struct {
	Pool    *pgxpool.Pool
	Enqueue Enqueue
	Logger  *slog.Logger
}

// Step queues the next window of a replay's messages, if the last window
// has room, and says whether the replay goes on (to step again after a
// pause); it ends the replay when nothing is left to queue or under way.
func (w *Replayer) Step(ctx context.Context, replayID string) (more bool, err error) {
	queries := db.New()
	row, err := queries.ReplayGet(ctx, w.Pool, db.ReplayGetParams{ID: replayID})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // its webhook was deleted
	}
	if err != nil {
		return false, fmt.Errorf("error loading replay: %w", err)
	}
	replay := row.WebhooksReplay
	if replay.State != "running" {
		return false, nil
	}
	// A webhook disabled meanwhile ends its replay: what it queued is
	// cancelled unsent, as the webhook's every delivery.
	wh, err := queries.WebhookGetByID(ctx, w.Pool, db.WebhookGetByIDParams{ID: replay.WebhookID, WorkspaceID: replay.WorkspaceID})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("error loading webhook: %w", err)
	}
	if !wh.Enabled {
		if _, err := queries.ReplayEnd(ctx, w.Pool, db.ReplayEndParams{ID: replay.ID, State: "cancelled"}); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, fmt.Errorf("error cancelling replay: %w", err)
		}
		w.Logger.WarnContext(ctx, "replay cancelled: its webhook is disabled", "replay_id", replay.ID, "webhook_id", replay.WebhookID)
		return false, nil
	}
	room := replayWindow - int(row.Pending)
	if room <= 0 {
		return true, nil
	}
	var queued int
	err = pgx.BeginFunc(ctx, w.Pool, func(tx pgx.Tx) error {
		running, err := queries.ReplayLockRunning(ctx, tx, replay.ID)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !running) {
			return nil // cancelled meanwhile, or gone with its webhook: nothing more is queued
		}
		if err != nil {
			return fmt.Errorf("error locking replay: %w", err)
		}
		req := ReplayRequest{WebhookID: wh.ID, WorkspaceID: wh.WorkspaceID, Since: replay.Since, Until: replay.Until, EventTypes: replay.EventTypes}
		// No more than the count it began with, should its webhook take
		// more events now.
		events, afterID, err := replayEvents(ctx, tx, wh, req, replay.AfterID, min(room, int(replay.Total-replay.Queued)))
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		if err := w.queue(ctx, tx, wh, replay.ID, events); err != nil {
			return err
		}
		queued = len(events)
		return queries.ReplayAdvance(ctx, tx, db.ReplayAdvanceParams{ID: replay.ID, Queued: int64(queued), AfterID: afterID})
	})
	if err != nil {
		return false, err
	}
	if queued == 0 && row.Pending == 0 {
		_, err := queries.ReplayEnd(ctx, w.Pool, db.ReplayEndParams{ID: replay.ID, State: "finished"})
		switch {
		case errors.Is(err, pgx.ErrNoRows): // cancelled meanwhile
		case err != nil:
			return false, fmt.Errorf("error finishing replay: %w", err)
		default:
			w.Logger.InfoContext(ctx, "replay finished", "replay_id", replay.ID, "webhook_id", replay.WebhookID, "messages", replay.Queued)
		}
		return false, nil
	}
	return true, nil
}

// queue makes the events' messages and their delivery jobs, or, for an
// ordered webhook, puts them in their resources' queues.
func (w *Replayer) queue(ctx context.Context, tx pgx.Tx, wh db.WebhooksWebhook, replayID string, events []replayEvent) error {
	queries := db.New()
	msg := db.MessageInsertReplayParams{WebhookID: wh.ID, WorkspaceID: wh.WorkspaceID, ReplayID: &replayID}
	queued := db.OrderedQueueInsertManyParams{Trigger: delivery.TriggerReplay}
	var deliveries []Delivery
	for _, e := range events {
		id := "msg_" + ksuid.New().String()
		msg.Ids = append(msg.Ids, id)
		msg.OutboxIds = append(msg.OutboxIds, e.id)
		msg.EventTypes = append(msg.EventTypes, e.eventType)
		msg.CapturedAts = append(msg.CapturedAts, e.capturedAt)
		if wh.Ordered {
			enqueueOrdered(&queued, id, wh.ID, e.resource, e.id, e.capturedAt, e.eventType)
			continue
		}
		deliveries = append(deliveries, Delivery{MessageID: id, CapturedAt: e.capturedAt, WebhookID: wh.ID, EventType: e.eventType,
			Trigger: delivery.TriggerReplay, Replay: true})
	}
	if err := queries.MessageInsertReplay(ctx, tx, msg); err != nil {
		return fmt.Errorf("error inserting replay messages: %w", err)
	}
	if wh.Ordered {
		// The queue's lock first, as every change of the queue but
		// expansion's takes it.
		if err := queries.OrderedLock(ctx, tx); err != nil {
			return fmt.Errorf("error locking the ordered queue: %w", err)
		}
		if err := queries.OrderedQueueInsertMany(ctx, tx, queued); err != nil {
			return fmt.Errorf("error queueing replay messages: %w", err)
		}
		_, err := ReleaseOrdered(ctx, tx, w.Enqueue, queued.WebhookIds, queued.Resources)
		return err
	}
	if err := w.Enqueue(ctx, tx, deliveries); err != nil {
		return fmt.Errorf("error inserting replay delivery jobs: %w", err)
	}
	return nil
}
