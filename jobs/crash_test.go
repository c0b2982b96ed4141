package jobs

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/expansion"
)

const crashChildEnv = "WEBHOOKS_TEST_CRASH_CHILD_DATABASE_URL"

// TestExpandCrash kills (SIGKILL) a process in the middle of an expansion
// batch, after it inserted messages and delivery jobs and marked the rows,
// before it committed. Nothing of that batch may survive, and expansion
// afterwards makes exactly one job per (event, webhook).
func TestExpandCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	for i := range 3 {
		dbtest.Webhook(t, pool, ws, owner, fmt.Sprintf("https://example.com/%d", i))
	}
	_, err = pool.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name) SELECT $1, $2, 'i' || n FROM generate_series(1, 1000) n`, ws, owner)
	require.NoError(t, err)

	child := startCrashChild(t, "TestExpandCrashChild", crashChildEnv+"="+url)
	var held int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crash-child' AND state = 'idle in transaction'`).Scan(&held))
	require.Equal(t, 1, held, "the child holds its batch open")
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()

	// The server notices the dead client and rolls its transaction back.
	require.Eventually(t, func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crash-child'`).Scan(&n)
		return n == 0
	}, time.Minute, 10*time.Millisecond)
	var messages, jobs, expanded int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhooks.messages), (SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver'),
		(SELECT count(*) FROM webhooks.outbox WHERE expanded_at IS NOT NULL)`).Scan(&messages, &jobs, &expanded))
	require.Zero(t, messages+jobs+expanded, "nothing of the crashed batch survives")

	client, err := NewClient(pool, Config{})
	require.NoError(t, err)
	w := newExpander(pool, client)
	require.NoError(t, w.Run(ctx))
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(DISTINCT (outbox_id, webhook_id)) FROM webhooks.messages), (SELECT count(DISTINCT args ->> 'messageId') FROM river_job WHERE kind = 'webhook_deliver'),
		(SELECT count(*) FROM webhooks.outbox WHERE expanded_at IS NOT NULL)`).Scan(&messages, &jobs, &expanded))
	require.Equal(t, 3000, messages)
	require.Equal(t, 3000, jobs)
	require.Equal(t, 1000, expanded)
}

// startCrashChild runs the test named of this test binary in a child
// process, with env added, and returns once it prints CRASH-CHILD-READY:
// the point where the caller kills it.
func startCrashChild(t *testing.T, test string, env ...string) *exec.Cmd {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	child.Env = append(os.Environ(), env...)
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	ready := make(chan bool, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if strings.Contains(scanner.Text(), "CRASH-CHILD-READY") {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "the child ended before it was ready to be killed")
	case <-time.After(2 * time.Minute):
		_ = child.Process.Kill()
		t.Fatal("the child never got ready to be killed")
	}
	return child
}

// TestExpandCrashChild is the process TestExpandCrash kills.
func TestExpandCrashChild(t *testing.T) {
	url := os.Getenv(crashChildEnv)
	if url == "" {
		t.Skip("run by TestExpandCrash")
	}
	ctx := context.Background()
	config, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	config.ConnConfig.RuntimeParams["application_name"] = "crash-child"
	pool, err := pgxpool.NewWithConfig(ctx, config)
	require.NoError(t, err)
	client, err := NewClient(pool, Config{})
	require.NoError(t, err)
	w := newExpander(pool, client)
	w.BeforeCommit = func() {
		fmt.Println("CRASH-CHILD-READY")
		time.Sleep(time.Hour) // until killed
	}
	_, err = w.ExpandBatch(ctx)
	require.NoError(t, err)
	t.Fatal("the child was not killed")
}

// newExpander is an expander of batches of 300 that makes its delivery jobs
// on client.
func newExpander(pool *pgxpool.Pool, client *river.Client[pgx.Tx]) *expansion.Expander {
	enqueue := enqueuer(client, 8)
	return &expansion.Expander{Pool: pool, Batch: 300, Enqueue: enqueue, Orderer: expansion.NewOrderer(pool, enqueue, slog.New(slog.DiscardHandler))}
}
