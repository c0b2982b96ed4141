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
// their index entries, when there are enough of them that autovacuum would
// (its threshold, 50 rows and a hundredth of the table, set by migration
// 000014, is about 50 for a queue this small): an idle installation's queue
// is not vacuumed every 5 s. SKIP_LOCKED: another process's vacuum (or
// autovacuum's) does the work. INDEX_CLEANUP ON: the entries are what claims
// step over, and vacuum leaves them when the dead rows sit on few pages.
// TRUNCATE OFF: giving the emptied end of the table back takes a lock that
// the app's captures would wait for; the queue fills it again within
// seconds. A role that does not own the table is refused with a warning,
// not an error: autovacuum then does the work alone, as before.
const (
	queueDead   = `SELECT coalesce((SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'webhooks.capture_queue'::regclass), 0)`
	vacuumQueue = `VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON, TRUNCATE OFF) webhooks.capture_queue`
	// queueDeadEnough is the dead rows worth a vacuum.
	queueDeadEnough = 50
)

// VacuumQueue vacuums the capture queue, when it has dead rows enough, at
// once and then every queueVacuumEvery, until ctx ends. Expansion deletes
// every row that capture inserts, and autovacuum visits a database once a
// minute (autovacuum_naptime) however low the table's thresholds. Between
// its visits the queue's index filled with the entries of the rows
// expanded, and every claim, which reads the queue in id order from the
// first entry, stepped over them: in a 30-minute soak at 1,137 events a
// second, up to 68,000 dead rows, and OutboxClaim took 1.08 ms on average
// (14 % of a core) for a queue of a few hundred events.
func VacuumQueue(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(queueVacuumEvery)
	defer tick.Stop()
	failing := false
	for {
		var dead int64
		err := pool.QueryRow(ctx, queueDead).Scan(&dead)
		if err == nil && dead >= queueDeadEnough {
			// The simple protocol: VACUUM runs outside any transaction.
			_, err = pool.Exec(ctx, vacuumQueue, pgx.QueryExecModeSimpleProtocol)
		}
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
