package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAttemptsSayWhatMadeThem: an attempt is the schedule's (a delivery and
// its retries), a manual retry's (the API's, or River UI's Retry button), a
// recover's or a test's, in the API and in webhooks.delivery_log; a job's
// retries after its first attempt are the schedule's whatever made the job.
func TestAttemptsSayWhatMadeThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// One retry: each job makes two attempts at most.
	b, hook, ok, client := workingBundle(t, []time.Duration{10 * time.Millisecond}, http.StatusServiceUnavailable)
	pool, key := b.pool, b.ws.keys["owner"]

	// triggers waits until a message has n attempts and the last is in
	// state, and returns what made each.
	triggers := func(msgID, state string, n int) []string {
		t.Helper()
		var out []string
		require.Eventually(t, func() bool {
			m := b.do(t, key, "GET", "/v1/messages/"+msgID, nil).json(t)
			attempts, _ := m["attempts"].([]any)
			if m["state"] != state || len(attempts) != n {
				return false
			}
			out = nil
			for _, a := range attempts {
				out = append(out, a.(map[string]any)["triggeredBy"].(string))
			}
			return true
		}, time.Minute, 20*time.Millisecond, "message %s never had %d attempts and state %s", msgID, n, state)
		return out
	}

	_, err := pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, b.ws.id, b.ws.users["owner"])
	require.NoError(t, err)
	var msgID string
	require.Eventually(t, func() bool {
		return pool.QueryRow(ctx, `SELECT id FROM webhooks.messages WHERE webhook_id = $1`, hook).Scan(&msgID) == nil
	}, time.Minute, 20*time.Millisecond)
	require.Equal(t, []string{"schedule", "schedule"}, triggers(msgID, "failed", 2))

	// River UI's Retry button on the discarded job: one more attempt.
	var jobID int64
	require.Eventually(t, func() bool { // River discards it just after its attempt is recorded
		return pool.QueryRow(ctx, `SELECT id FROM river_job WHERE args ->> 'messageId' = $1 AND state = 'discarded'`, msgID).Scan(&jobID) == nil
	}, time.Minute, 20*time.Millisecond)
	_, err = client.JobRetry(ctx, jobID)
	require.NoError(t, err)
	require.Equal(t, []string{"schedule", "schedule", "manual_retry"}, triggers(msgID, "failed", 3))

	res := b.do(t, key, "POST", "/v1/messages/"+msgID+"/retry", nil)
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	require.Equal(t, []string{"schedule", "schedule", "manual_retry", "manual_retry", "schedule"}, triggers(msgID, "failed", 5),
		"the retry's job made its first attempt; its retry is the schedule's")

	ok.Store(true)
	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/recover", map[string]any{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	made := []string{"schedule", "schedule", "manual_retry", "manual_retry", "schedule", "recover"}
	require.Equal(t, made, triggers(msgID, "succeeded", 6))

	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/test", map[string]any{"eventType": "pipeline.created"})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	testID := res.json(t)["id"].(string)
	require.Equal(t, []string{"test"}, triggers(testID, "succeeded", 1))

	// The admins' view says the same.
	rows, err := pool.Query(ctx, `SELECT triggered_by FROM webhooks.delivery_log WHERE message_id = $1 ORDER BY attempt`, msgID)
	require.NoError(t, err)
	var logged []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		logged = append(logged, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, made, logged)

	// A worker of an earlier release records attempts without the field:
	// they are the schedule's.
	var eventID, webhookURL string
	require.NoError(t, pool.QueryRow(ctx, `SELECT event_id FROM webhooks.delivery_attempts WHERE message_id = $1 LIMIT 1`, msgID).Scan(&eventID))
	require.NoError(t, pool.QueryRow(ctx, `SELECT url FROM webhooks.webhooks WHERE id = $1`, hook).Scan(&webhookURL))
	old, err := json.Marshal([]map[string]any{{
		"n": 0, "message_id": msgID, "event_id": eventID, "webhook_id": hook, "workspace_id": b.ws.id, "event_type": "pipeline.created",
		"url": webhookURL, "started_at": time.Now(), "duration_ms": 1.0, "succeeded": true, "status_code": 200,
		"river_job_id": 0, "state": "succeeded",
	}})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `SELECT * FROM webhooks.record_attempts($1::json, 3600)`, old)
	require.NoError(t, err)
	require.Equal(t, "schedule", triggers(msgID, "succeeded", 7)[6])

	// And a database that refuses what is none of these.
	_, err = pool.Exec(ctx, `UPDATE webhooks.delivery_attempts SET triggered_by = 'whim' WHERE message_id = $1`, msgID)
	require.ErrorContains(t, err, "delivery_attempts_triggered_by_check")
}
