package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/batch"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// maxLoadBatch bounds the messages read in one query.
const maxLoadBatch = 500

// messageKey finds a message: its id, in the partition of its event's
// capture (zero: in any).
type messageKey struct {
	id         string
	capturedAt time.Time
}

// Bounds of captured_at that take in every partition.
var (
	capturedEver  = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	capturedNever = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// load reads messages by key, from the partitions between the earliest and
// the latest of their captures; a message that no longer exists is nil.
func (d *Deliverer) load(keys []messageKey) ([]*db.MessageGetForDeliveryManyRow, error) {
	// Not any one job's context: the batch serves them all.
	ctx, cancel := context.WithTimeout(context.Background(), batch.Timeout)
	defer cancel()
	params := db.MessageGetForDeliveryManyParams{Ids: make([]string, len(keys)), CapturedFrom: keys[0].capturedAt, CapturedTo: keys[0].capturedAt}
	for i, k := range keys {
		params.Ids[i] = k.id
		params.CapturedFrom, params.CapturedTo = minTime(params.CapturedFrom, k.capturedAt), maxTime(params.CapturedTo, k.capturedAt)
	}
	if params.CapturedFrom.IsZero() {
		params.CapturedFrom, params.CapturedTo = capturedEver, capturedNever
	}
	// A plan for any captures, kept for the session: the plan for this
	// batch's captures prunes the partitions they are not in, so PostgreSQL
	// always chose it over the one it keeps, and planning it took longer
	// than running it (1.54 ms and 0.42 ms a batch in the soak, measured
	// with pg_stat_statements). The plan kept prunes them as it starts.
	rows, err := db.New().MessageGetForDeliveryMany(ctx, keptPlan{d.pool}, params)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*db.MessageGetForDeliveryManyRow, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	out := make([]*db.MessageGetForDeliveryManyRow, len(keys))
	for i, k := range keys {
		out[i] = byID[k.id]
	}
	return out, nil
}

// keptPlan runs a query of sqlc's with the plan the session keeps for it
// (plan_cache_mode = force_generic_plan), without parallel workers, for its
// transaction only. BEGIN, the two SET LOCALs, the query and COMMIT go out
// as one batch, one round trip where a transaction of pgx's takes five. It
// runs queries only.
//
// No workers: the plan kept is costed over every partition, and with the
// partitioned tables' own statistics missing (autovacuum never analyzes a
// partitioned table) PostgreSQL made it a parallel plan. Starting two
// workers took 11-23 ms a batch of 40 messages that the plan without them
// reads in 0.5 ms (EXPLAIN ANALYZE in a soak).
type keptPlan struct{ pool *pgxpool.Pool }

func (k keptPlan) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue("SET LOCAL plan_cache_mode = force_generic_plan")
	batch.Queue("SET LOCAL max_parallel_workers_per_gather = 0")
	batch.Queue(sql, args...)
	batch.Queue("COMMIT")
	results := k.pool.SendBatch(ctx, batch)
	for range 3 {
		if _, err := results.Exec(); err != nil {
			results.Close()
			return nil, err
		}
	}
	rows, err := results.Query()
	if err != nil {
		results.Close()
		return nil, err
	}
	return &keptPlanRows{Rows: rows, results: results}, nil
}

func (keptPlan) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, errors.New("keptPlan runs queries only")
}

func (keptPlan) QueryRow(context.Context, string, ...any) pgx.Row {
	return errRow{errors.New("keptPlan runs queries only")}
}

// keptPlanRows ends the batch with the rows: the COMMIT of a read (should
// it fail, the pool drops the connection left in its transaction), then the
// connection back to the pool.
type keptPlanRows struct {
	pgx.Rows
	results pgx.BatchResults
	closed  bool
}

func (r *keptPlanRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	_, _ = r.results.Exec()
	_ = r.results.Close()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
