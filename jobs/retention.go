package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/countercyclical/webhooks/db"
)

// DefaultRetention is how long events, messages and attempts are kept.
const DefaultRetention = 30 * 24 * time.Hour

// DefaultPartitionStep is how much time one partition of the logs covers.
const DefaultPartitionStep = 24 * time.Hour

// DefaultPartitionsAhead is how many partitions are kept ready after the
// current one.
const DefaultPartitionsAhead = 4

// logTables are the partitioned logs, in the order their partitions are
// removed: attempts before their messages before their events, so that a
// removal cut off half way leaves nothing that points nowhere.
var logTables = []string{"delivery_attempts", "messages", "outbox"}

// RetentionArgs are the args of webhooks_retention, which runs hourly (more
// often with partitions shorter than four hours).
type RetentionArgs struct{}

// Kind is the job's kind.
func (RetentionArgs) Kind() string { return "webhooks_retention" }

// InsertOpts runs retention on its own queue, one at a time. A completed run does not hold the next back (River's default
// unique states include completed, which kept the periodic job from being
// inserted again until River deleted the completed one).
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// RetentionWorker keeps the logs' partitions: it makes them ahead of time,
// so that the app's writes always find one, and removes whole partitions
// once past the retention, never deleting row by row.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	pool      *pgxpool.Pool
	retention time.Duration
	step      time.Duration
	ahead     int
	logger    *slog.Logger
}

// retentionPeriod is how often webhooks_retention runs: hourly, or four
// times a partition when partitions are shorter than four hours.
func retentionPeriod(step time.Duration) time.Duration {
	return max(min(time.Hour, step/4), time.Second)
}

// Work makes partitions ahead, removes those past the retention, and
// deletes what else has expired (roll-ups, rate windows, portal sessions).
// First it requeues events left unexpanded in the outbox (OutboxRequeue),
// for the expander's next run.
func (w *RetentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	queries := db.New()
	requeued, err := queries.OutboxRequeue(ctx, w.pool)
	if err != nil {
		return fmt.Errorf("error requeueing unexpanded outbox rows: %w", err)
	}
	if requeued > 0 {
		w.logger.InfoContext(ctx, "unexpanded outbox rows requeued", "events", requeued)
	}
	made, err := queries.PartitionMake(ctx, w.pool, db.PartitionMakeParams{
		Until: time.Now().Add(time.Duration(w.ahead+1) * w.step), StepSeconds: w.step.Seconds(),
	})
	if err != nil {
		return fmt.Errorf("error making partitions: %w", err)
	}
	if made > 0 {
		w.logger.InfoContext(ctx, "partitions made ahead", "slices", made, "step", w.step)
	}
	before := time.Now().Add(-w.retention)
	expired, err := queries.PartitionExpiredList(ctx, w.pool, before)
	if err != nil {
		return fmt.Errorf("error listing expired partitions: %w", err)
	}
	for _, p := range expired {
		if p.Unexpanded > 0 || p.Undelivered > 0 {
			w.logger.WarnContext(ctx, "partition past the retention kept: it still has events to expand or messages to deliver",
				"from", p.FromAt, "to", p.ToAt, "unexpanded", p.Unexpanded, "undelivered", p.Undelivered)
			continue
		}
		if err := w.remove(ctx, p.FromAt); err != nil {
			return err
		}
	}
	if _, err := queries.WebhookStatsDeleteBefore(ctx, w.pool, before); err != nil {
		return fmt.Errorf("error deleting expired webhook stats: %w", err)
	}
	if err := queries.RateWindowDeleteStale(ctx, w.pool); err != nil {
		return fmt.Errorf("error deleting stale rate windows: %w", err)
	}
	if _, err := queries.PortalSessionDeleteExpired(ctx, w.pool); err != nil {
		return fmt.Errorf("error deleting expired portal sessions: %w", err)
	}
	return nil
}

// remove removes a slice's partitions. Each is detached CONCURRENTLY, which
// takes no lock that the app's writes to the outbox wait for (a plain DROP
// would take an ACCESS EXCLUSIVE lock on the parent), then dropped. A
// removal cut off half way (a crash, a lost connection) is taken up where it
// stopped at the next run: a detach left pending is finalised.
func (w *RetentionWorker) remove(ctx context.Context, from time.Time) error {
	queries := db.New()
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("error acquiring connection: %w", err)
	}
	defer conn.Release()
	for _, table := range logTables {
		part, err := queries.PartitionState(ctx, conn, db.PartitionStateParams{Base: table, FromAt: from})
		if err != nil {
			return fmt.Errorf("error reading partition state: %w", err)
		}
		var steps []string
		switch part.State {
		case "attached":
			steps = []string{fmt.Sprintf("ALTER TABLE webhooks.%s DETACH PARTITION %s CONCURRENTLY", table, part.Name)}
		case "detaching":
			steps = []string{fmt.Sprintf("ALTER TABLE webhooks.%s DETACH PARTITION %s FINALIZE", table, part.Name)}
		}
		if part.State != "gone" {
			steps = append(steps, "DROP TABLE IF EXISTS "+part.Name)
		}
		for _, sql := range steps {
			// The simple protocol: DETACH … CONCURRENTLY must be a
			// statement of its own, outside any transaction.
			if _, err := conn.Conn().PgConn().Exec(ctx, sql).ReadAll(); err != nil {
				return fmt.Errorf("error removing partition %s: %w", part.Name, err)
			}
		}
	}
	if err := queries.PartitionForget(ctx, conn, from); err != nil {
		return fmt.Errorf("error forgetting partition: %w", err)
	}
	w.logger.InfoContext(ctx, "partition past the retention removed", "from", from)
	return nil
}
