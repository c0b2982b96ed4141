package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/batch"
)

// Attempt is one attempt as webhooks.record_attempts reads it.
type Attempt struct {
	N           int    `json:"n"`
	MessageID   string `json:"message_id"`
	EventID     string `json:"event_id"`
	WebhookID   string `json:"webhook_id"`
	WorkspaceID string `json:"workspace_id"`
	EventType   string `json:"event_type"`
	URL         string `json:"url"`
	// StartedAt is in microseconds, as PostgreSQL keeps it, so that a
	// retried batch finds its attempts by it (AttemptRecorded).
	StartedAt       time.Time `json:"started_at"`
	DurationMs      float64   `json:"duration_ms"`
	Succeeded       bool      `json:"succeeded"`
	StatusCode      *int32    `json:"status_code"`
	ErrorClass      *string   `json:"error_class"`
	ErrorMessage    *string   `json:"error_message"`
	ResponseExcerpt *string   `json:"response_excerpt"`
	RiverJobID      int64     `json:"river_job_id"`
	// State and LastError are the message's after this attempt.
	State     string  `json:"state"`
	LastError *string `json:"last_error"`
	// TriggeredBy is what made the attempt (TriggerSchedule, …).
	TriggeredBy string `json:"triggered_by"`
	// CapturedAt is when the message's event was captured: the partition
	// of its message and of the attempt.
	CapturedAt time.Time `json:"captured_at"`
}

// Health is what recording an attempt tells of its webhook: for a webhook
// that only failed in the batch, since when it has been failing and whether
// that is past WEBHOOKS_DISABLE_AFTER.
type Health struct {
	FailingSince     time.Time
	PastDisableAfter bool
}

// recorder writes the attempts of concurrent deliveries in batches (a
// batcher: one statement, one commit per batch). A delivery waits for its
// batch, so its job completes only once its attempt is in the log; a crash
// before that leaves the job running, and River's rescue delivers it again:
// at least once, never lost.
//
// A batch that fails to be written (the database restarting, a dropped
// connection) is retried until recordPatience has passed, so that a blip
// costs no attempt of the log. The deliveries waiting for it wait as long as
// their jobs' contexts allow (River's job timeout, shutdown); a job that ends
// first fails and River retries it, and its attempt is still written when
// the database is back.
type recorder struct {
	pool         *pgxpool.Pool
	disableAfter time.Duration
	logger       *slog.Logger
	batcher      *batch.Batcher[Attempt, Health]
	// closed ends the waits between tries: the process is stopping.
	closed <-chan struct{}
	// beforeWrite, in tests, is called before each try of a batch.
	beforeWrite func(attempts []Attempt)
}

// recordPatience is how long a batch is retried before its attempts are
// given up on and logged as missing from the log.
const recordPatience = time.Minute

// maxRecordBatch bounds a batch, and so its statement.
const maxRecordBatch = 1000

func newRecorder(pool *pgxpool.Pool, disableAfter time.Duration, logger *slog.Logger, closed <-chan struct{}) *recorder {
	r := &recorder{pool: pool, disableAfter: disableAfter, logger: logger, closed: closed}
	r.batcher = batch.New(maxRecordBatch, r.write)
	return r
}

// record writes an attempt with those of concurrent deliveries, and returns
// what it tells of its webhook. When ctx ends first the attempt is written
// all the same, if it can be.
func (r *recorder) record(ctx context.Context, rec Attempt) (Health, error) {
	h, err := r.batcher.Do(ctx, rec)
	if err != nil {
		return Health{}, fmt.Errorf("error recording attempt: %w", err)
	}
	return h, nil
}

func (r *recorder) write(attempts []Attempt) ([]Health, error) {
	for i := range attempts {
		attempts[i].N = i
	}
	data, err := json.Marshal(attempts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for try, wait := 0, 50*time.Millisecond; ; try, wait = try+1, min(wait*2, 2*time.Second) {
		if r.beforeWrite != nil {
			r.beforeWrite(attempts)
		}
		out, err := r.try(attempts, data, try > 0)
		if err == nil {
			return out, nil
		}
		if errors.Is(err, puddle.ErrClosedPool) || time.Since(start) > recordPatience {
			r.logger.Error("attempts made but not recorded", "attempts", len(attempts), "error", err)
			return nil, err
		}
		r.logger.Warn("recording attempts failed; retrying", "attempts", len(attempts), "error", err)
		select {
		case <-time.After(wait):
		case <-r.closed:
			r.logger.Error("attempts made but not recorded: the process is stopping", "attempts", len(attempts), "error", err)
			return nil, err
		}
	}
}

// try writes a batch once. A retry first asks whether the failed try was
// committed all the same, so that no attempt is logged twice; the health it
// then returns is empty (a webhook past WEBHOOKS_DISABLE_AFTER is disabled
// at its next failure).
func (r *recorder) try(attempts []Attempt, data []byte, retry bool) ([]Health, error) {
	ctx, cancel := context.WithTimeout(context.Background(), batch.Timeout)
	defer cancel()
	queries := db.New()
	out := make([]Health, len(attempts))
	if retry {
		recorded, err := queries.AttemptRecorded(ctx, r.pool, db.AttemptRecordedParams{MessageID: attempts[0].MessageID, StartedAt: attempts[0].StartedAt, CapturedAt: attempts[0].CapturedAt})
		if err != nil {
			return nil, err
		}
		if recorded {
			return out, nil
		}
	}
	rows, err := queries.AttemptRecordMany(ctx, r.pool, db.AttemptRecordManyParams{Records: data, DisableAfterSeconds: r.disableAfter.Seconds()})
	if err != nil {
		return nil, err
	}
	byWebhook := make(map[string]Health, len(rows))
	for _, row := range rows {
		byWebhook[row.WebhookID] = Health{FailingSince: row.FailingSince, PastDisableAfter: row.PastDisableAfter}
	}
	for i, rec := range attempts {
		out[i] = byWebhook[rec.WebhookID]
	}
	return out, nil
}
