package expansion

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// queueVacuumEvery is how often VacuumQueue vacuums the capture queue.
const queueVacuumEvery = 5 * time.Second

// vacuumQueue removes the rows expansion deleted from the capture queue, and
// their index entries. SKIP_LOCKED: another process's vacuum (or
// autovacuum's) does the work. INDEX_CLEANUP ON: the entries are what
// claims step over, and vacuum leaves them when the dead rows sit on few
// pages. A role that does not own the table is refused with a warning, not
// an error: autovacuum then does the work alone, as before.
const vacuumQueue = `VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON) webhooks.capture_queue`

// VacuumQueue vacuums the capture queue at once, then every
// queueVacuumEvery, until ctx ends. Expansion deletes every row that
// capture inserts, and autovacuum visits a database once a minute
// (autovacuum_naptime) however low the table's thresholds. Between its
// visits the queue's index filled with the entries of the rows expanded,
// and every claim, which reads the queue in id order from the first entry,
// stepped over them: in a 30-minute soak at 1,137 events a second, up to
// 68,000 dead rows, and OutboxClaim took 1.08 ms on average (15 % of a
// core) for a queue of a few hundred events.
func VacuumQueue(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(queueVacuumEvery)
	defer tick.Stop()
	failing := false
	for {
		// The simple protocol: VACUUM runs outside any transaction.
		_, err := pool.Exec(ctx, vacuumQueue, pgx.QueryExecModeSimpleProtocol)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			logger.WarnContext(ctx, "capture queue not vacuumed; retrying", "error", err)
			failing = true
		case err == nil:
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
