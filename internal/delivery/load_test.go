package delivery

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
)

// TestKeptPlan: a query through keptPlan runs with the plan kept, in a
// transaction of its own; afterwards the connection is back in the pool,
// idle and with the session's setting, whether the query succeeded or
// failed. The pool has one connection, so each check reads the one used.
func TestKeptPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	config, err := pgxpool.ParseConfig(dbtest.NewDB(t))
	require.NoError(t, err)
	config.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, config)
	require.NoError(t, err)
	defer pool.Close()

	var defaultWorkers string
	require.NoError(t, pool.QueryRow(ctx, "SELECT current_setting('max_parallel_workers_per_gather')").Scan(&defaultWorkers))
	idle := func() {
		t.Helper()
		conn, err := pool.Acquire(ctx)
		require.NoError(t, err)
		defer conn.Release()
		require.Equal(t, byte('I'), conn.Conn().PgConn().TxStatus())
		var mode, workers string
		require.NoError(t, conn.QueryRow(ctx, "SELECT current_setting('plan_cache_mode'), current_setting('max_parallel_workers_per_gather')").Scan(&mode, &workers))
		require.Equal(t, "auto", mode, "SET LOCAL ended with its transaction")
		require.Equal(t, defaultWorkers, workers, "SET LOCAL ended with its transaction")
	}

	rows, err := keptPlan{pool}.Query(ctx, "SELECT current_setting('plan_cache_mode'), current_setting('max_parallel_workers_per_gather'), now() = statement_timestamp() FROM generate_series(1, $1::int)", 3)
	require.NoError(t, err)
	type row struct {
		Mode, Workers string
		SameMoment    bool
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	require.NoError(t, err)
	require.Equal(t, []row{{"force_generic_plan", "0", false}, {"force_generic_plan", "0", false}, {"force_generic_plan", "0", false}}, got, "in a transaction begun before the statement")
	idle()

	// A failure comes from Query or with the rows, as pgx reads it.
	for _, bad := range []struct{ sql, want string }{
		{"SELECT 1 / n FROM generate_series(1, 0, -1) n", "division by zero"}, // after a row
		{"SELECT 1 / $1::int", "division by zero"},
		{"SELECT no_such_column", "no_such_column"},
	} {
		var args []any
		if bad.sql == "SELECT 1 / $1::int" {
			args = []any{0}
		}
		rows, err = keptPlan{pool}.Query(ctx, bad.sql, args...)
		if err == nil {
			_, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		}
		require.ErrorContains(t, err, bad.want, bad.sql)
		idle()
	}

	_, err = keptPlan{pool}.Exec(ctx, "SELECT 1")
	require.ErrorContains(t, err, "keptPlan runs queries only")
	require.ErrorContains(t, keptPlan{pool}.QueryRow(ctx, "SELECT 1").Scan(), "keptPlan runs queries only")
}
