package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/countercyclical/webhooks/db"
)

// DefaultRetention is how long events, messages and attempts are kept.
const DefaultRetention = 30 * 24 * time.Hour

// RetentionArgs are the args of webhooks_retention, which runs hourly.
type RetentionArgs struct{}

// Kind is the job's kind.
func (RetentionArgs) Kind() string { return "webhooks_retention" }

// InsertOpts runs retention beside expansion, off the delivery queue.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueExpand, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// RetentionWorker deletes what is older than the retention, in batches of
// its own transactions, so that no lock is held long and the tables stop
// growing under a steady load.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	pool      *pgxpool.Pool
	retention time.Duration
	batch     int
}

// Work deletes until nothing is left to delete.
func (w *RetentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	queries := db.New()
	before := time.Now().Add(-w.retention)
	for {
		n, err := queries.OutboxDeleteExpired(ctx, w.pool, db.OutboxDeleteExpiredParams{Before: before, Max: int32(w.batch)})
		if err != nil {
			return fmt.Errorf("error deleting expired events: %w", err)
		}
		if n < int64(w.batch) {
			break
		}
	}
	if err := queries.RateWindowDeleteStale(ctx, w.pool); err != nil {
		return fmt.Errorf("error deleting stale rate windows: %w", err)
	}
	if _, err := queries.PortalSessionDeleteExpired(ctx, w.pool); err != nil {
		return fmt.Errorf("error deleting expired portal sessions: %w", err)
	}
	return nil
}
