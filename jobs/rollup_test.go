package jobs_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/stretchr/testify/require"
)

// TestRollupsMatchAttempts: after a mixed run (successes, failures,
// retries, discards, over several webhooks), the health roll-ups say what a
// count of the raw attempts says: attempts and successes per five-minute
// bucket, the last attempt, success and failure, and the failures since the
// last success. One worker, so that attempts are recorded in their order.
func TestRollupsMatchAttempts(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback(), Schedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}}, 1)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/down":
			http.Error(w, "down", http.StatusInternalServerError)
		default: // every third answer fails
			if n.Add(1)%3 == 0 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
			}
		}
	}))
	defer srv.Close()
	hooks := []string{
		dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL+"/ok"),
		dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL+"/down"),
		dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL+"/flaky"),
	}
	exec(t, b.pool, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'p' || i FROM generate_series(1, 30) i`, b.ws, b.owner)
	require.Eventually(t, func() bool {
		return count(t, b.pool, `SELECT count(*) FROM webhooks.messages WHERE state IN ('succeeded', 'failed')`) == 90
	}, time.Minute, 20*time.Millisecond)
	require.Positive(t, count(t, b.pool, `SELECT count(*) FROM webhooks.messages WHERE state = 'failed'`))
	require.Positive(t, count(t, b.pool, `SELECT count(*) FROM webhooks.delivery_attempts WHERE NOT succeeded AND webhook_id = $1`, hooks[2]))

	require.Zero(t, count(t, b.pool, `SELECT count(*) FROM (
		SELECT webhook_id, bucket, attempts, succeeded FROM webhooks.webhook_stats
		EXCEPT
		SELECT webhook_id, webhooks.stats_bucket(started_at), count(*), count(*) FILTER (WHERE succeeded) FROM webhooks.delivery_attempts GROUP BY 1, 2
	) d`), "every bucket as counted")
	require.Equal(t, count(t, b.pool, `SELECT count(*) FROM webhooks.delivery_attempts`), count(t, b.pool, `SELECT sum(attempts) FROM webhooks.webhook_stats`))
	require.Zero(t, count(t, b.pool, `SELECT count(*) FROM (
		SELECT webhook_id, last_attempt_at, last_success_at, last_failure_at, failures_since_success FROM webhooks.webhook_health
		EXCEPT
		SELECT a.webhook_id, max(a.started_at), max(a.started_at) FILTER (WHERE a.succeeded), max(a.started_at) FILTER (WHERE NOT a.succeeded),
			count(*) FILTER (WHERE NOT a.succeeded AND a.started_at > coalesce(s.at, '-infinity'))
		FROM webhooks.delivery_attempts a
		LEFT JOIN LATERAL (SELECT max(x.started_at) AS at FROM webhooks.delivery_attempts x WHERE x.webhook_id = a.webhook_id AND x.succeeded) s ON true
		GROUP BY a.webhook_id, s.at
	) d`), "every webhook's health as counted")
	require.Equal(t, 3, count(t, b.pool, `SELECT count(*) FROM webhooks.webhook_health`))
	require.Equal(t, 90, count(t, b.pool, `SELECT failures_since_success FROM webhooks.webhook_health WHERE webhook_id = $1`, hooks[1]), "30 messages × 3 attempts, none succeeded")
}
