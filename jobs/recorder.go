package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/countercyclical/webhooks/db"
)

// attemptRecord is one attempt as webhooks.record_attempts reads it.
type attemptRecord struct {
	N               int       `json:"n"`
	MessageID       string    `json:"message_id"`
	EventID         string    `json:"event_id"`
	WebhookID       string    `json:"webhook_id"`
	WorkspaceID     string    `json:"workspace_id"`
	EventType       string    `json:"event_type"`
	URL             string    `json:"url"`
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
}

// health is what recording an attempt tells of its webhook: for a webhook
// that only failed in the batch, since when it has been failing and whether
// that is past WEBHOOKS_DISABLE_AFTER.
type health struct {
	failingSince     time.Time
	pastDisableAfter bool
}

// recorder writes the attempts of concurrent deliveries in batches: one
// statement, one commit for all that arrived while the previous batch was
// being written (group commit, as River's completer does for jobs). A
// delivery waits for its batch, so its job completes only once its attempt
// is in the log; a crash before that leaves the job running, and River's
// rescue delivers it again: at least once, never lost.
//
// A batch that fails to be written (the database restarting, a dropped
// connection) is retried until recordPatience has passed, so that a blip
// costs no attempt of the log; the deliveries waiting for it keep waiting
// unless their jobs end first, in which case River retries them and the
// record is still written when the database is back.
type recorder struct {
	pool         *pgxpool.Pool
	disableAfter time.Duration
	logger       *slog.Logger

	mu       sync.Mutex
	queue    []*pendingRecord
	flushing bool
}

type pendingRecord struct {
	record attemptRecord
	done   chan struct{}
	health health
	err    error
}

// recordPatience is how long a batch is retried before its attempts are
// given up on and logged as lost from the log.
const recordPatience = 2 * time.Minute

// maxRecordBatch bounds a batch, and so its statement.
const maxRecordBatch = 1000

func newRecorder(pool *pgxpool.Pool, disableAfter time.Duration, logger *slog.Logger) *recorder {
	return &recorder{pool: pool, disableAfter: disableAfter, logger: logger}
}

// record queues an attempt and waits until it is written, or ctx ends; the
// attempt is written all the same in the latter case, if it can be.
func (r *recorder) record(ctx context.Context, rec attemptRecord) (health, error) {
	p := &pendingRecord{record: rec, done: make(chan struct{})}
	r.mu.Lock()
	r.queue = append(r.queue, p)
	if !r.flushing {
		// No goroutine outlives the work: one runs while records wait.
		r.flushing = true
		go r.flush()
	}
	r.mu.Unlock()
	select {
	case <-p.done:
		return p.health, p.err
	case <-ctx.Done():
		return health{}, fmt.Errorf("error recording attempt: %w", ctx.Err())
	}
}

// flush writes batches while records wait.
func (r *recorder) flush() {
	for {
		r.mu.Lock()
		n := min(len(r.queue), maxRecordBatch)
		batch := r.queue[:n:n]
		r.queue = r.queue[n:]
		if n == 0 {
			r.queue = nil
			r.flushing = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		r.write(batch)
	}
}

func (r *recorder) write(batch []*pendingRecord) {
	records := make([]attemptRecord, len(batch))
	for i, p := range batch {
		records[i] = p.record
		records[i].N = i
	}
	data, err := json.Marshal(records)
	var rows []db.AttemptRecordManyRow
	if err == nil {
		start := time.Now()
		for wait := 50 * time.Millisecond; ; wait = min(wait*2, 2*time.Second) {
			rows, err = db.New().AttemptRecordMany(context.Background(), r.pool, db.AttemptRecordManyParams{
				Records: data, DisableAfterSeconds: r.disableAfter.Seconds(),
			})
			if err == nil || errors.Is(err, puddle.ErrClosedPool) || time.Since(start) > recordPatience {
				break
			}
			r.logger.Warn("recording attempts failed; retrying", "attempts", len(batch), "error", err)
			time.Sleep(wait)
		}
	}
	if err != nil {
		err = fmt.Errorf("error recording attempts: %w", err)
		r.logger.Error("attempts made but not recorded", "attempts", len(batch), "error", err)
	}
	byWebhook := make(map[string]health, len(rows))
	for _, row := range rows {
		byWebhook[row.WebhookID] = health{failingSince: row.FailingSince, pastDisableAfter: row.PastDisableAfter}
	}
	for _, p := range batch {
		p.health, p.err = byWebhook[p.record.WebhookID], err
		close(p.done)
	}
}
