// Package retention keeps the logs (outbox, messages, delivery_attempts) as
// partitions by time: made ahead of the writes, removed whole once past the
// retention. It imports db.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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

// Period is how often webhooks_retention runs: hourly, or four
// times a partition when partitions are shorter than four hours.
func Period(step time.Duration) time.Duration {
	return max(min(time.Hour, step/4), time.Second)
}

// Keeper keeps the logs' partitions: it makes them ahead of time, so that
// the app's writes always find one, and removes whole partitions once past
// the retention, never deleting row by row.
type Keeper struct {
	Pool *pgxpool.Pool
	// Retention is how long events, messages and attempts are kept;
	// Step how much time a partition covers; Ahead how many are kept
	// ready after the current one.
	Retention, Step time.Duration
	Ahead           int
	Logger          *slog.Logger
}

// Run makes partitions ahead, removes those past the retention, and
// deletes what else has expired (roll-ups, rate windows, portal sessions).
// First it requeues events left unexpanded in the outbox (OutboxRequeue),
// for the expander's next run.
func (w *Keeper) Run(ctx context.Context) error {
	queries := db.New()
	requeued, err := queries.OutboxRequeue(ctx, w.Pool)
	if err != nil {
		return fmt.Errorf("error requeueing unexpanded outbox rows: %w", err)
	}
	if requeued > 0 {
		w.Logger.InfoContext(ctx, "unexpanded outbox rows requeued", "events", requeued)
	}
	made, err := queries.PartitionMake(ctx, w.Pool, db.PartitionMakeParams{
		Until: time.Now().Add(time.Duration(w.Ahead+1) * w.Step), StepSeconds: w.Step.Seconds(),
	})
	if err != nil {
		return fmt.Errorf("error making partitions: %w", err)
	}
	if made > 0 {
		w.Logger.InfoContext(ctx, "partitions made ahead", "slices", made, "step", w.Step)
	}
	before := time.Now().Add(-w.Retention)
	expired, err := queries.PartitionExpiredList(ctx, w.Pool, before)
	if err != nil {
		return fmt.Errorf("error listing expired partitions: %w", err)
	}
	for _, p := range expired {
		if p.Unexpanded > 0 || p.Undelivered > 0 {
			w.Logger.WarnContext(ctx, "partition past the retention kept: it still has events to expand or messages to deliver",
				"from", p.FromAt, "to", p.ToAt, "unexpanded", p.Unexpanded, "undelivered", p.Undelivered)
			continue
		}
		if err := w.remove(ctx, p.FromAt); err != nil {
			return err
		}
	}
	if _, err := queries.WebhookStatsDeleteBefore(ctx, w.Pool, before); err != nil {
		return fmt.Errorf("error deleting expired webhook stats: %w", err)
	}
	if err := queries.RateWindowDeleteStale(ctx, w.Pool); err != nil {
		return fmt.Errorf("error deleting stale rate windows: %w", err)
	}
	if _, err := queries.PortalSessionDeleteExpired(ctx, w.Pool); err != nil {
		return fmt.Errorf("error deleting expired portal sessions: %w", err)
	}
	return nil
}

// remove removes a slice's partitions. Each is detached CONCURRENTLY, which
// takes no lock that the app's writes to the outbox wait for (a plain DROP
// would take an ACCESS EXCLUSIVE lock on the parent), then dropped. A
// removal cut off half way (a crash, a lost connection) is taken up where it
// stopped at the next run: a detach left pending is finalised.
func (w *Keeper) remove(ctx context.Context, from time.Time) error {
	queries := db.New()
	conn, err := w.Pool.Acquire(ctx)
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
	w.Logger.InfoContext(ctx, "partition past the retention removed", "from", from)
	return nil
}
