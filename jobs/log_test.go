package jobs_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/jobs"
)

// logBuffer collects what the workers log, as JSON lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records are the log's lines with this message.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if strings.HasPrefix(rec["msg"].(string), msg) {
			out = append(out, rec)
		}
	}
	return out
}

// TestFailuresAreLogged: each failed attempt is a warning naming the
// message, the webhook, the endpoint's scheme and host, the attempt, the
// error class and the status; each discarded job and each webhook the
// pipeline disables is an error. No line holds a URL's path or query, where
// receivers keep tokens, nor a signing secret.
func TestFailuresAreLogged(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusGone)
	}))
	defer gone.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // nothing listens there any more: a connection error

	failingHook := dbtest.Webhook(t, pool, ws, owner, failing.URL+"/hooks/private-path?token=tok-failing")
	goneHook := dbtest.Webhook(t, pool, ws, owner, gone.URL+"/gone-path?token=tok-gone")
	closedHook := dbtest.Webhook(t, pool, ws, owner, closedURL+"/closed-path?token=tok-closed")

	startRunner(t, pool, jobs.Config{Logger: logger, SafetyNet: time.Hour, Delivery: delivery.Config{
		Policy: loopback(), Schedule: []time.Duration{10 * time.Millisecond}, Timeout: 5 * time.Second,
	}})

	exec(t, pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'Sourcing')`, ws, owner)
	// Two attempts each for the failing endpoints (the schedule has one
	// retry), then discards; one attempt for the gone one, then its
	// webhook is disabled.
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND state IN ('discarded', 'cancelled')`) == 3 &&
			len(logs.records(t, "delivery failed for good")) == 2 && len(logs.records(t, "webhook disabled")) == 1
	}, time.Minute, 20*time.Millisecond, "logs: %s", logs.String())

	endpointOf := func(url string) string { return strings.SplitN(url, "/", 4)[0] + "//" + strings.SplitN(url, "/", 4)[2] }
	messageOf := func(hook string) string {
		return queryID(t, pool, `SELECT id FROM webhooks.messages WHERE webhook_id = $1`, hook)
	}

	failed := logs.records(t, "delivery attempt failed")
	require.Len(t, failed, 5, "2 + 2 + 1 failed attempts")
	byHook := map[string][]map[string]any{}
	for _, rec := range failed {
		require.Equal(t, "WARN", rec["level"])
		byHook[rec["webhook_id"].(string)] = append(byHook[rec["webhook_id"].(string)], rec)
	}
	for _, tt := range []struct {
		hook, url, class string
		status           float64
	}{
		{failingHook, failing.URL, "status", 500},
		{closedHook, closedURL, "connection", 0},
		{goneHook, gone.URL, "status", 410},
	} {
		recs := byHook[tt.hook]
		require.NotEmpty(t, recs, tt.hook)
		for i, rec := range recs {
			require.Equal(t, messageOf(tt.hook), rec["message_id"])
			require.Equal(t, endpointOf(tt.url), rec["endpoint"], "scheme and host")
			require.Equal(t, float64(i+1), rec["attempt"])
			require.Equal(t, tt.class, rec["error_class"])
			if tt.status != 0 {
				require.Equal(t, tt.status, rec["status_code"])
			} else {
				require.NotContains(t, rec, "status_code", "no answer, no status")
				require.Contains(t, rec["error"], "connection refused")
			}
		}
	}

	discarded := logs.records(t, "delivery failed for good")
	for _, rec := range discarded {
		require.Equal(t, "ERROR", rec["level"])
		require.Contains(t, []string{failingHook, closedHook}, rec["webhook_id"])
		require.Equal(t, messageOf(rec["webhook_id"].(string)), rec["message_id"])
		require.Equal(t, float64(2), rec["attempts"])
		require.NotEmpty(t, rec["error_class"])
		require.NotEmpty(t, rec["endpoint"])
	}
	disabled := logs.records(t, "webhook disabled")[0]
	require.Equal(t, "ERROR", disabled["level"])
	require.Equal(t, goneHook, disabled["webhook_id"])
	require.Equal(t, endpointOf(gone.URL), disabled["endpoint"])
	require.Equal(t, "the endpoint answered 410 Gone", disabled["reason"])

	all := logs.String()
	for _, hook := range []string{failingHook, goneHook, closedHook} {
		secret := queryID(t, pool, `SELECT secret FROM webhooks.signing_secrets WHERE webhook_id = $1`, hook)
		require.NotContains(t, all, secret)
		require.NotContains(t, all, strings.TrimPrefix(secret, "whsec_"))
	}
	for _, leak := range []string{"private-path", "gone-path", "closed-path", "token", "tok-"} {
		require.NotContains(t, all, leak)
	}
}
