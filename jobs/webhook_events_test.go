package jobs_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
)

// collector is an endpoint that keeps the envelopes it gets, and answers
// 500 while failing.
type collector struct {
	*httptest.Server
	failing atomic.Bool
	mu      sync.Mutex
	got     []map[string]any
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if c.failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		var env map[string]any
		_ = json.Unmarshal(body, &env)
		c.mu.Lock()
		c.got = append(c.got, env)
		c.mu.Unlock()
	}))
	t.Cleanup(c.Close)
	return c
}

// ofType returns the envelopes of an event type got so far.
func (c *collector) ofType(eventType string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, env := range c.got {
		if env["eventType"] == eventType {
			out = append(out, env)
		}
	}
	return out
}

func (c *collector) wait(t *testing.T, eventType string, n int) []map[string]any {
	t.Helper()
	require.Eventually(t, func() bool { return len(c.ofType(eventType)) >= n }, time.Minute, 10*time.Millisecond, "waiting for %d %s", n, eventType)
	return c.ofType(eventType)
}

// TestEventsAboutWebhooks: a webhook's endpoint failing, exhausting a
// message's retries, recovering and being disabled are delivered, signed
// and logged like any event, to the webhooks of owners and admins that
// subscribe to them: not to a member's, not to "*", and never about a
// webhook through itself while it fails. webhook.failing comes again only
// an hour after it was last sent.
func TestEventsAboutWebhooks(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback(), Schedule: []time.Duration{10 * time.Millisecond}})
	member := dbtest.Member(t, b.pool, b.ws, "member")
	flaky, ops, members, star := newCollector(t), newCollector(t), newCollector(t), newCollector(t)
	flaky.failing.Store(true)
	subject := dbtest.Webhook(t, b.pool, b.ws, b.owner, flaky.URL, "pipeline.*", "webhook.*", "message.*")
	opsHook := dbtest.Webhook(t, b.pool, b.ws, b.owner, ops.URL, "webhook.*", "message.exhausted")
	dbtest.Webhook(t, b.pool, b.ws, member, members.URL, "webhook.*", "message.*")
	dbtest.Webhook(t, b.pool, b.ws, b.owner, star.URL, "*")

	// Two attempts fail: the run of failures starts, the message runs out.
	pipeline := b.event(t)
	failing := ops.wait(t, "webhook.failing", 1)[0]
	payload := failing["payload"].(map[string]any)
	require.Equal(t, subject, payload["webhookId"])
	require.Equal(t, flaky.URL, payload["url"])
	require.Equal(t, "answered 500 Internal Server Error", payload["lastError"])
	require.EqualValues(t, 500, payload["lastStatusCode"])
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, payload["failingSince"])
	require.Equal(t, opsHook, failing["applicationId"])
	exhausted := ops.wait(t, "message.exhausted", 1)[0]["payload"].(map[string]any)
	require.Equal(t, subject, exhausted["webhookId"])
	require.Equal(t, "pipeline.created", exhausted["eventType"])
	require.EqualValues(t, 2, exhausted["attempts"])
	require.Equal(t, queryID(t, b.pool, `SELECT id FROM webhooks.messages WHERE webhook_id = $1 AND event_type = 'pipeline.created'`, subject), exhausted["messageId"])
	require.Equal(t, queryID(t, b.pool, `SELECT event_id FROM webhooks.outbox WHERE resource_id = $1`, pipeline), exhausted["eventId"])
	// Logged like any event: a message and its attempt for ops.
	require.Equal(t, 1, count(t, b.pool, `SELECT count(*) FROM webhooks.messages WHERE webhook_id = $1 AND event_type = 'webhook.failing' AND state = 'succeeded'`, opsHook))

	// A second failure within the hour is no new webhook.failing; one after
	// an hour since the last is.
	b.event(t)
	require.Eventually(t, func() bool { return len(ops.ofType("message.exhausted")) == 2 }, time.Minute, 10*time.Millisecond)
	require.Len(t, ops.ofType("webhook.failing"), 1)
	exec(t, b.pool, `UPDATE webhooks.webhooks SET failing_notified_at = now() - interval '61 minutes' WHERE id = $1`, subject)
	b.event(t)
	again := ops.wait(t, "webhook.failing", 2)[1]["payload"].(map[string]any)
	require.Equal(t, payload["failingSince"], again["failingSince"], "the same run of failures")
	require.Greater(t, again["failuresSinceSuccess"], payload["failuresSinceSuccess"])

	// The endpoint recovers, once the third message has run out: the
	// failing webhook gets this one too.
	ops.wait(t, "message.exhausted", 3)
	flaky.failing.Store(false)
	b.event(t)
	recovered := ops.wait(t, "webhook.recovered", 1)[0]["payload"].(map[string]any)
	require.Equal(t, subject, recovered["webhookId"])
	require.EqualValues(t, 6, recovered["failures"], "three events, two attempts each")
	flaky.wait(t, "webhook.recovered", 1)

	// Disabled by hand.
	exec(t, b.pool, `UPDATE webhooks.webhooks SET enabled = false, disabled_at = now(), disabled_reason = 'maintenance' WHERE id = $1`, subject)
	disabled := ops.wait(t, "webhook.disabled", 1)[0]["payload"].(map[string]any)
	require.Equal(t, "maintenance", disabled["reason"])
	require.Nil(t, disabled["failingSince"])

	// Nothing about itself reached the failing webhook but recovered, and
	// nothing reached the member's webhook or "*".
	require.Empty(t, flaky.ofType("webhook.failing"))
	require.Empty(t, flaky.ofType("message.exhausted"))
	require.Equal(t, 0, count(t, b.pool, `SELECT count(*) FROM webhooks.messages WHERE webhook_id = $1 AND event_type IN ('webhook.failing', 'message.exhausted')`, subject))
	members.mu.Lock()
	require.Empty(t, members.got)
	members.mu.Unlock()
	star.mu.Lock()
	for _, env := range star.got {
		require.Equal(t, "pipeline.created", env["eventType"])
	}
	star.mu.Unlock()
}

// TestWebhookEventTypesReserved: an app table cannot be tracked under the
// resource types of events about webhooks.
func TestWebhookEventTypesReserved(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	exec(t, pool, `CREATE TABLE hooks (id text PRIMARY KEY, workspace_id text NOT NULL, updated_at timestamptz)`)
	for _, name := range []string{"webhook", "message"} {
		_, err := pool.Exec(t.Context(), `SELECT webhooks.track('hooks', $1)`, name)
		require.ErrorContains(t, err, "tracked_tables_resource_type_reserved", name)
	}
	exec(t, pool, `SELECT webhooks.track('hooks', 'hook')`)
}

// TestWebhookDisabledEventOnGone: a webhook the pipeline disables, here
// for a 410 Gone, is reported as one disabled by hand is, with the reason.
func TestWebhookDisabledEventOnGone(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback()})
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	t.Cleanup(gone.Close)
	ops := newCollector(t)
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, gone.URL, "pipeline.*")
	dbtest.Webhook(t, b.pool, b.ws, b.owner, ops.URL, "webhook.disabled")
	b.event(t)
	disabled := ops.wait(t, "webhook.disabled", 1)[0]["payload"].(map[string]any)
	require.Equal(t, hook, disabled["webhookId"])
	require.Equal(t, "the endpoint answered 410 Gone", disabled["reason"])
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, disabled["disabledAt"])
}
