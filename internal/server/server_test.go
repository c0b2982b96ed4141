package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/server"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/sql/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func get(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func start(t *testing.T, config server.Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h, err := server.New(ctx, config)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		http.DefaultClient.CloseIdleConnections()
		time.Sleep(50 * time.Millisecond) // River UI's goroutines see ctx end
	})
	return srv.URL
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	url := start(t, server.Config{Pool: pool})
	code, body := get(t, url+"/readyz", "", "")
	require.Equal(t, 200, code, body)
	code, _ = get(t, url+"/healthz", "", "")
	require.Equal(t, 200, code)

	require.NoError(t, migrations.Down(context.Background(), pool, 1))
	code, body = get(t, url+"/readyz", "", "")
	require.Equal(t, 503, code)
	require.Contains(t, body, "run `webhooks migrate up`")
}

// TestReadyzPartitionsAhead: with fewer than two partitions of the logs
// ready after the current one, the app's writes are close to failing:
// /readyz says so, and the metric shows how many are left.
func TestReadyzPartitionsAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	url := start(t, server.Config{Pool: pool})
	_, body := get(t, url+"/metrics", "", "")
	require.Regexp(t, `webhooks_partitions_ahead [4-9]\n`, body)

	// Only the current slice and the next one are left.
	_, err := pool.Exec(ctx, `DO $$
		DECLARE p record;
		BEGIN
			FOR p IN SELECT from_at FROM webhooks.partitions WHERE from_at > now() + interval '1 day' LOOP
				EXECUTE format('DROP TABLE webhooks.%I, webhooks.%I, webhooks.%I', webhooks.partition_name('outbox', p.from_at),
					webhooks.partition_name('messages', p.from_at), webhooks.partition_name('delivery_attempts', p.from_at));
				DELETE FROM webhooks.partitions WHERE from_at = p.from_at;
			END LOOP;
		END $$`)
	require.NoError(t, err)
	code, body := get(t, url+"/readyz", "", "")
	require.Equal(t, 503, code)
	require.Contains(t, body, "1 partitions of the logs ready after the current one, fewer than 2")
	_, body = get(t, url+"/metrics", "", "")
	require.Contains(t, body, "webhooks_partitions_ahead 1\n")
}

// TestMetricsInvalidRiverIndexes: a rebuild of River's reindexer cut off
// leaves an invalid copy of its index; the metric counts such copies, and
// not the copy of a build still under way.
func TestMetricsInvalidRiverIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	url := start(t, server.Config{Pool: pool})
	_, body := get(t, url+"/metrics", "", "")
	require.Contains(t, body, "webhooks_river_job_invalid_indexes 0\n")

	// A concurrent build waits for a write under way to end, its index
	// already there and invalid.
	writer, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer writer.Rollback(ctx) //nolint:errcheck
	_, err = writer.Exec(ctx, `INSERT INTO river_job (kind, args, max_attempts, queue) VALUES ('w', '{}', 1, 'q')`)
	require.NoError(t, err)
	built := make(chan error, 1)
	go func() {
		_, err := pool.Exec(ctx, `CREATE INDEX CONCURRENTLY river_job_queue_ccnew ON river_job (queue)`)
		built <- err
	}()
	require.Eventually(t, func() bool {
		var building bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('river_job_queue_ccnew') AND NOT indisvalid)`).Scan(&building))
		return building
	}, 30*time.Second, 10*time.Millisecond, "the build under way")
	_, body = get(t, url+"/metrics", "", "")
	require.Contains(t, body, "webhooks_river_job_invalid_indexes 0\n", "a build under way is no alarm")
	require.NoError(t, writer.Rollback(ctx))
	require.NoError(t, <-built)

	// A concurrent build that fails, as one cut off does, leaves its index
	// behind, invalid: here two jobs of one kind under a unique index.
	_, err = pool.Exec(ctx, `INSERT INTO river_job (kind, args, max_attempts, queue) VALUES ('k', '{}', 1, 'q'), ('k', '{}', 1, 'q')`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY river_job_kind_ccnew ON river_job (kind)`)
	require.ErrorContains(t, err, "could not create unique index")
	_, body = get(t, url+"/metrics", "", "")
	require.Contains(t, body, "webhooks_river_job_invalid_indexes 1\n")
}

func TestReadyzDatabaseDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: the database is down.
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/webhooks")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	url := start(t, server.Config{Pool: pool})
	code, body := get(t, url+"/readyz", "", "")
	require.Equal(t, 503, code)
	require.Contains(t, body, "not ready: database unreachable")
	code, _ = get(t, url+"/healthz", "", "")
	require.Equal(t, 200, code, "the process is up all the same")
	code, body = get(t, url+"/metrics", "", "")
	require.Equal(t, 200, code)
	require.Contains(t, body, "webhooks_metrics_database_up 0\n")
}

func TestRiverUI(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	client, err := jobs.NewClient(pool, jobs.Config{})
	require.NoError(t, err)

	t.Run("NotServedWithoutCredentials", func(t *testing.T) {
		url := start(t, server.Config{Pool: pool, River: client})
		code, _ := get(t, url+"/riverui/", "", "")
		require.Equal(t, 404, code)
	})

	t.Run("BehindBasicAuth", func(t *testing.T) {
		url := start(t, server.Config{Pool: pool, River: client, RiverUIUsername: "ops", RiverUIPassword: "s3cret"})
		code, body := get(t, url+"/riverui/", "", "")
		require.Equal(t, 401, code)
		require.Contains(t, body, "RIVERUI_USERNAME")
		code, _ = get(t, url+"/riverui/", "ops", "wrong")
		require.Equal(t, 401, code)
		code, body = get(t, url+"/riverui/", "ops", "s3cret")
		require.Equal(t, 200, code)
		require.True(t, strings.Contains(strings.ToLower(body), "<html"), body)
		code, body = get(t, url+"/riverui/api/jobs?state=available", "ops", "s3cret")
		require.Equal(t, 200, code, body)
		code, _ = get(t, url+"/riverui/api/jobs?state=available", "", "")
		require.Equal(t, 401, code, "its JSON API is guarded too")
	})
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "w")
	user := dbtest.User(t, pool)
	_, err := pool.Exec(context.Background(), `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'p' FROM generate_series(1, 3)`, ws, user)
	require.NoError(t, err)
	_, err = pool.Exec(context.Background(), `UPDATE webhooks.capture_queue SET captured_at = now() - interval '90 seconds'`)
	require.NoError(t, err)

	url := start(t, server.Config{Pool: pool})
	code, body := get(t, url+"/metrics", "", "")
	require.Equal(t, 200, code)
	require.Contains(t, body, "webhooks_outbox_backlog 3\n")
	require.Regexp(t, `webhooks_expansion_lag_seconds 9\d\.\d+`, body)
	require.Contains(t, body, "webhooks_metrics_database_up 1\n")
	require.Contains(t, body, "# TYPE webhooks_delivery_attempt_seconds histogram")
}
