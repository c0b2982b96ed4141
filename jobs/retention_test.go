package jobs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/jobs"
)

// TestRetention: with a retention of seconds, events older than it go, with
// their messages and attempts, unless still being delivered; newer ones stay.
func TestRetention(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ws := queryID(t, pool, `INSERT INTO workspaces (name) VALUES ('Acme') RETURNING id`)
	owner := newUser(t, pool, ws, "owner")
	hook := newWebhook(t, pool, ws, owner, "https://example.com/h")
	exec(t, pool, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'p' || n FROM generate_series(1, 2500) n`, ws, owner)
	exec(t, pool, `UPDATE webhooks.outbox SET expanded_at = now(), event_id = webhooks.gen_id()`)
	exec(t, pool, `INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, state)
		SELECT 'msg_' || lpad(id::text, 27, '0'), id, $1, workspace_id, event_type, CASE WHEN id % 500 = 0 THEN 'retrying' ELSE 'succeeded' END
		FROM webhooks.outbox`, hook)
	exec(t, pool, `INSERT INTO webhooks.delivery_attempts (message_id, event_id, webhook_id, workspace_id, event_type, attempt, url, started_at, duration_ms, succeeded)
		SELECT id, '', webhook_id, workspace_id, event_type, 1, 'https://example.com/h', now(), 1, true FROM webhooks.messages`)
	// 2,000 of them are a minute old; 4 of those still retrying.
	exec(t, pool, `UPDATE webhooks.outbox SET captured_at = now() - interval '1 minute' WHERE id <= (SELECT min(id) + 1999 FROM webhooks.outbox)`)
	retrying := count(t, pool, `SELECT count(*) FROM webhooks.messages m JOIN webhooks.outbox o ON o.id = m.outbox_id WHERE o.captured_at < now() - interval '30 seconds' AND m.state = 'retrying'`)
	require.Positive(t, retrying)

	client := startClient(t, pool, jobs.Config{ExpandOnly: true, Retention: 30 * time.Second})
	_, err := client.Insert(t.Context(), jobs.RetentionArgs{}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM webhooks.outbox`) == 500+retrying
	}, time.Minute, 20*time.Millisecond)
	require.Equal(t, 500+retrying, count(t, pool, `SELECT count(*) FROM webhooks.messages`))
	require.Equal(t, 500+retrying, count(t, pool, `SELECT count(*) FROM webhooks.delivery_attempts`))
	require.Zero(t, count(t, pool, `SELECT count(*) FROM webhooks.outbox WHERE captured_at < now() - interval '30 seconds' AND id NOT IN (SELECT outbox_id FROM webhooks.messages WHERE state = 'retrying')`))
}
