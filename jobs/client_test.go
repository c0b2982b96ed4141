package jobs

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
)

// River's reindexer names indexes of River's table; each must exist once
// our migrations have run, or River warns every day (and an upgrade of River
// that adds one shows here).
func TestRiverReindexesIndexesThatExist(t *testing.T) {
	pool, err := pgxpool.New(t.Context(), dbtest.NewDB(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	names := riverReindexed()
	require.NotEmpty(t, names)
	require.NotContains(t, names, "river_job_args_index")
	for _, name := range names {
		var exists bool
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists))
		require.True(t, exists, "River reindexes %s, which our migrations do not leave", name)
	}
	var args bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT to_regclass('river_job_args_index') IS NOT NULL`).Scan(&args))
	require.False(t, args, "migration 000015 drops River's index on args")
}
