package dbtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Each parallel test writes a row and commits; none sees another's.
func TestNewPoolIsolated(t *testing.T) {
	t.Parallel()
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := dbtest.NewPool(t)
			dbtest.Workspace(t, pool, fmt.Sprint("w", i))
			var names []string
			rows, err := pool.Query(ctx, `SELECT name FROM workspaces`)
			require.NoError(t, err)
			for rows.Next() {
				var name string
				require.NoError(t, rows.Scan(&name))
				names = append(names, name)
			}
			require.NoError(t, rows.Err())
			require.Equal(t, []string{fmt.Sprint("w", i)}, names)
		})
	}
}

// Transactions of parallel tests share a database but not their writes.
func TestNewTxIsolated(t *testing.T) {
	t.Parallel()
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tx := dbtest.NewTx(t)
			dbtest.Workspace(t, tx, fmt.Sprint("w", i))
			var n int
			require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM workspaces`).Scan(&n))
			require.Equal(t, 1, n)
		})
	}
}

func TestNewDBDroppedOnCleanup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var name string
	t.Run("inner", func(t *testing.T) {
		pool := dbtest.NewPool(t)
		require.NoError(t, pool.QueryRow(ctx, `SELECT current_database()`).Scan(&name))
	})
	admin := dbtest.NewTx(t)
	var exists bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists))
	require.False(t, exists, "database %s outlived its test", name)
}

// Cloning is what makes a database per test affordable.
func BenchmarkNewDB(b *testing.B) {
	for b.Loop() {
		dbtest.NewDB(b) // dropped when the benchmark ends
	}
}
