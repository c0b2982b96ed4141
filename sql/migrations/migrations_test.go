package migrations_test

import (
	"context"
	"io/fs"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/sql/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func tableCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'river\_%' AND table_name <> 'schema_migrations'`).Scan(&n))
	return n
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)

	version, dirty, err := migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.False(t, dirty)
	require.Equal(t, migrations.Latest(), version)
	require.Equal(t, 10, tableCount(t, pool), "the reference app's tables")

	// Up on a current database changes nothing.
	require.NoError(t, migrations.Up(ctx, pool))
	version, _, err = migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, migrations.Latest(), version)

	ups, err := fs.Glob(migrations.FS, "*.up.sql")
	require.NoError(t, err)
	require.NoError(t, migrations.Down(ctx, pool, len(ups)))
	version, _, err = migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.Zero(t, version)
	require.Zero(t, tableCount(t, pool), "down to zero leaves none of the project's tables")
	var riverTables int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'river_job'`).Scan(&riverTables))
	require.Equal(t, 1, riverTables, "River's tables are River's migrator's to remove")

	require.NoError(t, migrations.Up(ctx, pool))
	version, _, err = migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, migrations.Latest(), version)
	require.Equal(t, 10, tableCount(t, pool), "the reference app's tables")
}

func TestDownRefusesMoreStepsThanApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)

	err := migrations.Down(ctx, pool, int(migrations.Latest())+1)
	require.ErrorContains(t, err, "steps asked but only")
	require.ErrorContains(t, migrations.Down(ctx, pool, 0), "at least 1")

	version, _, err := migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, migrations.Latest(), version, "a refused down changes nothing")
}

func TestGeneratedIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)

	seen := map[string]bool{}
	for range 100 {
		var id string
		require.NoError(t, tx.QueryRow(ctx, `INSERT INTO workspaces (name) VALUES ('w') RETURNING id`).Scan(&id))
		require.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9_-]{24}$`), id)
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestResourceDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)

	var workspaceID, userID string
	require.NoError(t, tx.QueryRow(ctx, `INSERT INTO workspaces (name) VALUES ('w') RETURNING id`).Scan(&workspaceID))
	require.NoError(t, tx.QueryRow(ctx, `INSERT INTO users (email) VALUES ('a@example.com') RETURNING id`).Scan(&userID))

	for _, table := range []string{"investments", "pipelines"} {
		var visibility string
		var teamID *string
		require.NoError(t, tx.QueryRow(ctx, `INSERT INTO `+table+` (workspace_id, created_by, name) VALUES ($1, $2, 'n') RETURNING visibility, team_id`,
			workspaceID, userID).Scan(&visibility, &teamID), table)
		require.Equal(t, "Workspace", visibility, table)
		require.Nil(t, teamID, table)
	}

	_, err := tx.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name, visibility) VALUES ($1, $2, 'n', 'Everyone')`, workspaceID, userID)
	require.ErrorContains(t, err, "investments_visibility_check")
}
