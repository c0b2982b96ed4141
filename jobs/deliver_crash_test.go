package jobs

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/netguard"
)

const (
	deliverCrashURLEnv   = "WEBHOOKS_TEST_DELIVER_CRASH_DATABASE_URL"
	deliverCrashPointEnv = "WEBHOOKS_TEST_DELIVER_CRASH_POINT"
)

// receiverLog counts the POSTs an endpoint received, by webhook-id.
type receiverLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *receiverLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, r.Header.Get("webhook-id"))
}

func (l *receiverLog) received() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}

func loopbackPolicy(t *testing.T) netguard.Policy {
	allowed, err := netguard.ParseCIDRs("127.0.0.0/8")
	require.NoError(t, err)
	return netguard.Policy{AllowHTTP: true, Allowed: allowed}
}

// crashSetup makes a database of the test's own, with a pool on it, and a
// webhook pointed at a receiver that logs what it gets.
func crashSetup(t *testing.T) (url string, pool *pgxpool.Pool, recv *receiverLog, ws, owner, hook string) {
	t.Helper()
	url = dbtest.NewDB(t)
	// The pool serve and worker run with, not pgxpool's default of four,
	// so that these tests deliver as they do.
	config, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	config.MaxConns = MaxConns
	pool, err = pgxpool.NewWithConfig(context.Background(), config)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	recv = &receiverLog{}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	ws, owner, hook = dbtest.OneWebhook(t, pool, srv.URL)
	return url, pool, recv, ws, owner, hook
}

// startWorking starts a client that works both queues until the test ends.
func startWorking(t *testing.T, pool *pgxpool.Pool, config Config) {
	t.Helper()
	config.Work = true
	client, err := NewClient(pool, config)
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(ctx))
	})
}

// TestDeliverCrash kills (SIGKILL) a worker process at the two points where a
// delivery's effects are apart: after its POST, before the batch with its
// attempt is written; and after that batch, before River completes the job.
// River rescues the job, as after any crash. In the first case the message is
// delivered again (at least once: the receiver sees the same webhook-id twice,
// and the log has the attempt that was recorded); in the second, its success
// is recorded, so it is not sent again.
func TestDeliverCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		point        string
		wantReceived int
	}{
		{point: "before-record", wantReceived: 2},
		{point: "after-record", wantReceived: 1},
	} {
		t.Run(tc.point, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url, pool, recv, ws, owner, hook := crashSetup(t)
			_, err := pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'Sourcing')`, ws, owner)
			require.NoError(t, err)

			child := startCrashChild(t, "TestDeliverCrashChild", deliverCrashURLEnv+"="+url, deliverCrashPointEnv+"="+tc.point)
			require.NoError(t, child.Process.Kill())
			_ = child.Wait()
			require.Len(t, recv.received(), 1, "the child POSTed once")

			var state string
			var attempts int
			require.NoError(t, pool.QueryRow(ctx, `SELECT m.state, (SELECT count(*) FROM webhooks.delivery_attempts a WHERE a.message_id = m.id)
				FROM webhooks.messages m WHERE m.webhook_id = $1`, hook).Scan(&state, &attempts))
			if tc.point == "before-record" {
				require.Equal(t, "pending", state)
				require.Zero(t, attempts, "the crash came before the batch was written")
			} else {
				require.Equal(t, "succeeded", state)
				require.Equal(t, 1, attempts)
			}

			// River's rescuer makes a job running longer than
			// RescueStuckJobsAfter retryable; done here at once.
			_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now(),
				errors = array_append(errors, jsonb_build_object('at', now(), 'attempt', attempt, 'error', 'Stuck job rescued by Rescuer'))
				WHERE kind = 'webhook_deliver' AND state = 'running'`)
			require.NoError(t, err)
			startWorking(t, pool, Config{Delivery: delivery.Config{Policy: loopbackPolicy(t)}})
			require.Eventually(t, func() bool {
				var n int
				_ = pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND state = 'completed'`).Scan(&n)
				return n == 1
			}, time.Minute, 10*time.Millisecond, "the rescued job completes")

			received := recv.received()
			require.Len(t, received, tc.wantReceived)
			for _, id := range received {
				require.Equal(t, received[0], id, "the same message every time")
			}
			require.NoError(t, pool.QueryRow(ctx, `SELECT m.state, (SELECT count(*) FROM webhooks.delivery_attempts a WHERE a.message_id = m.id AND a.succeeded)
				FROM webhooks.messages m WHERE m.webhook_id = $1`, hook).Scan(&state, &attempts))
			require.Equal(t, "succeeded", state)
			require.Equal(t, 1, attempts, "one recorded success")
		})
	}
}

// TestDeliverCrashChild is the process TestDeliverCrash kills.
func TestDeliverCrashChild(t *testing.T) {
	url := os.Getenv(deliverCrashURLEnv)
	if url == "" {
		t.Skip("run by TestDeliverCrash")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	crash := func() {
		fmt.Println("CRASH-CHILD-READY")
		time.Sleep(time.Hour) // until killed
	}
	hooks := &delivery.Hooks{}
	switch os.Getenv(deliverCrashPointEnv) {
	case "before-record":
		hooks.BeforeRecord = func([]delivery.Attempt) { crash() }
	case "after-record":
		hooks.AfterRecord = func(delivery.Attempt) { crash() }
	}
	client, err := NewClient(pool, Config{Work: true, Delivery: delivery.Config{Policy: loopbackPolicy(t), Hooks: *hooks}})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	time.Sleep(time.Minute)
	t.Fatal("the child was not killed")
}

// TestDeliverRecordSurvivesDroppedConnection drops the connection writing a
// batch of attempts, in the middle of its statement: the batch is written
// again, so the log has every POST that was made, and the deliveries waiting
// for it complete without being sent again.
func TestDeliverRecordSurvivesDroppedConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, pool, recv, ws, owner, hook := crashSetup(t)

	admin, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer admin.Close(ctx)
	var dropped atomic.Int32
	hooks := &delivery.Hooks{BeforeRecord: func([]delivery.Attempt) {
		if !dropped.CompareAndSwap(0, 1) {
			return
		}
		// Hold the attempts table, so that the batch's statement waits;
		// terminate its connection while it does; then let go.
		tx, err := admin.Begin(ctx)
		if err != nil {
			panic(err)
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE webhooks.delivery_attempts IN ACCESS EXCLUSIVE MODE`); err != nil {
			panic(err)
		}
		go func() {
			defer tx.Rollback(ctx) //nolint:errcheck
			// Until the statement waits, up to two minutes: a loaded
			// machine is slow to reach the lock, and a try that waited
			// past its timeout is tried again, and waits again. A retry
			// first asks whether the try it follows was committed
			// (AttemptRecorded), and that statement waits on the lock as
			// well: either is the batch's statement.
			deadline := time.Now().Add(2 * time.Minute)
			for i := 0; time.Now().Before(deadline); i++ {
				// Inside a transaction, pg_stat_activity's queries and
				// states are a snapshot taken at its first read (only the
				// wait events are live): without a fresh one, a statement
				// begun after the first poll is never seen.
				if _, err := admin.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
					panic(err)
				}
				var n int
				err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ~ 'AttemptRecord(Many|ed)'`).Scan(&n)
				if n > 0 {
					dropped.Store(2)
					return
				}
				if i%1000 == 999 {
					// What the database is doing instead, for a test that fails.
					var activity string
					_ = admin.QueryRow(ctx, `SELECT string_agg(coalesce(wait_event_type, '-') || ' ' || state || ': ' || left(query, 60), E'\n')
						FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&activity)
					fmt.Printf("dropped-connection test: the batch's statement is not waiting yet (err %v, pool %d of %d acquired):\n%s\n",
						err, pool.Stat().AcquiredConns(), pool.Stat().MaxConns(), activity)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}}
	startWorking(t, pool, Config{Delivery: delivery.Config{Policy: loopbackPolicy(t), Hooks: *hooks}})
	_, err = pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'p' || n FROM generate_series(1, 20) n`, ws, owner)
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND state = 'completed'`).Scan(&n)
		return n == 20
	}, 3*time.Minute, 10*time.Millisecond)
	require.Equal(t, int32(2), dropped.Load(), "a batch's connection was dropped mid-statement")
	var attempts, succeeded int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhooks.delivery_attempts WHERE webhook_id = $1),
		(SELECT count(*) FROM webhooks.messages WHERE webhook_id = $1 AND state = 'succeeded')`, hook).Scan(&attempts, &succeeded))
	require.Len(t, recv.received(), 20, "each message POSTed once")
	require.Equal(t, 20, attempts, "every POST is in the log")
	require.Equal(t, 20, succeeded)
}

// TestSlotFreedAtPOSTEnd: a delivery whose attempt waits to be written (the
// database slow or restarting) no longer holds its endpoint's slot, so the
// endpoint does not look slow: with one slot, a second delivery is POSTed
// while the first's record still waits.
func TestSlotFreedAtPOSTEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.NewDB(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	recv := &receiverLog{}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	ws, owner, _ := dbtest.OneWebhook(t, pool, srv.URL)

	held := make(chan struct{})
	var release sync.Once
	hooks := &delivery.Hooks{BeforeRecord: func([]delivery.Attempt) { <-held }}
	startWorking(t, pool, Config{Delivery: delivery.Config{Policy: loopbackPolicy(t), MaxInflight: 1, Hooks: *hooks}})
	t.Cleanup(func() { release.Do(func() { close(held) }) }) // before the client stops
	_, err = pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'a'), ($1, $2, 'b')`, ws, owner)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(recv.received()) == 2 }, 30*time.Second, 10*time.Millisecond,
		"the second delivery is POSTed while the first one's record waits")
	release.Do(func() { close(held) })
	require.Eventually(t, func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.messages WHERE state = 'succeeded'`).Scan(&n)
		return n == 2
	}, time.Minute, 10*time.Millisecond, "both are recorded once the database answers")
}
