package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/api"
	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/netguard"
	"github.com/countercyclical/webhooks/internal/server"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/webhook"
)

// workingBundle is a server with working delivery (retries after the waits
// of schedule), and an owner's webhook of pipeline events pointed at a
// receiver that answers failStatus until ok is set.
func workingBundle(t *testing.T, schedule []time.Duration, failStatus int) (b *testBundle, hook string, ok *atomic.Bool, client *river.Client[pgx.Tx]) {
	t.Helper()
	b, client = deliveringBundle(t, schedule)
	ok = &atomic.Bool{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ok.Load() {
			http.Error(w, "down for maintenance", failStatus)
		}
	}))
	t.Cleanup(receiver.Close)
	body := validWebhook()
	body["url"], body["events"] = receiver.URL+"/hooks", []string{"pipeline.*"}
	res := b.do(t, b.ws.keys["owner"], "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	return b, res.json(t)["id"].(string), ok, client
}

// deliveringBundle is a server whose River client expands and delivers,
// retrying after the waits of schedule, with a workspace of every role.
func deliveringBundle(t *testing.T, schedule []time.Duration) (*testBundle, *river.Client[pgx.Tx]) {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	allowed, _ := netguard.ParseCIDRs("127.0.0.0/8")
	policy := netguard.Policy{AllowHTTP: true, Allowed: allowed}
	deliveryConfig := delivery.Config{Policy: policy, Schedule: schedule}
	client, err := jobs.NewClient(pool, jobs.Config{Work: true, SafetyNet: 50 * time.Millisecond, Delivery: deliveryConfig})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { require.NoError(t, client.Stop(ctx)) })
	srv := httptest.NewServer(newHandler(t, server.Config{Pool: pool, API: api.Config{Policy: policy, River: client, MaxAttempts: deliveryConfig.MaxAttempts()}}))
	t.Cleanup(srv.Close)
	b := &testBundle{pool: pool, url: srv.URL, client: srv.Client()}
	b.ws = newWorkspace(t, pool, "Acme")
	return b, client
}

// TestDeliveriesRetryRecover: a delivery fails for good, shows in the
// webhook's deliveries and its message, then succeeds by retry and by recover.
func TestDeliveriesRetryRecover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, hook, ok, _ := workingBundle(t, []time.Duration{}, http.StatusServiceUnavailable) // no retries
	pool, key := b.pool, b.ws.keys["owner"]

	insert := func() {
		_, err := pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, b.ws.id, b.ws.users["owner"])
		require.NoError(t, err)
	}
	waitState := func(state string, n int) []any {
		var data []any
		require.Eventually(t, func() bool {
			res := b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries?status="+state, nil)
			data = res.json(t)["data"].([]any)
			return len(data) == n
		}, time.Minute, 20*time.Millisecond, "waiting for %d %s", n, state)
		return data
	}

	insert()
	failed := waitState("failed", 1)
	msg := failed[0].(map[string]any)
	require.Equal(t, "pipeline.created", msg["eventType"])
	require.EqualValues(t, 503, msg["lastStatusCode"])

	res := b.do(t, key, "GET", "/v1/messages/"+msg["id"].(string), nil)
	require.Equal(t, http.StatusOK, res.status)
	attempts := res.json(t)["attempts"].([]any)
	require.Len(t, attempts, 1)
	require.Equal(t, "down for maintenance\n", attempts[0].(map[string]any)["responseExcerpt"])

	ok.Store(true)
	res = b.do(t, key, "POST", "/v1/messages/"+msg["id"].(string)+"/retry", nil)
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	waitState("succeeded", 1)
	res = b.do(t, key, "GET", "/v1/messages/"+msg["id"].(string), nil)
	attempts = res.json(t)["attempts"].([]any)
	require.Len(t, attempts, 2)
	require.EqualValues(t, 2, attempts[1].(map[string]any)["attempt"])
	require.Equal(t, true, attempts[1].(map[string]any)["succeeded"])

	// Two more fail; recover sends them again.
	ok.Store(false)
	insert()
	insert()
	waitState("failed", 2)
	ok.Store(true)
	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/recover", map[string]any{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	require.EqualValues(t, 2, res.json(t)["queued"])
	waitState("succeeded", 3)

	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/recover", map[string]any{"since": "yesterday"})
	require.Equal(t, http.StatusUnprocessableEntity, res.status)
	res = b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries?status=lost", nil)
	require.Equal(t, http.StatusBadRequest, res.status)
	res = b.do(t, key, "GET", "/v1/messages/msg_nope", nil)
	require.Equal(t, http.StatusNotFound, res.status)
	other := newWorkspace(t, pool, "Globex")
	res = b.do(t, other.keys["owner"], "GET", "/v1/messages/"+msg["id"].(string), nil)
	require.Equal(t, http.StatusNotFound, res.status, "another workspace's message")
	res = b.do(t, b.ws.keys["member"], "GET", "/v1/messages/"+msg["id"].(string), nil)
	require.Equal(t, http.StatusNotFound, res.status, "a colleague's webhook's message")
}

// TestMessageShowsEnvelope: GET /v1/messages/{id} shows the envelope byte
// for byte as the receiver got it and its signature covers, for a created
// and an updated event (previousAttributes), with text JSON escapes.
func TestMessageShowsEnvelope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	allowed, _ := netguard.ParseCIDRs("127.0.0.0/8")
	policy := netguard.Policy{AllowHTTP: true, Allowed: allowed}
	client, err := jobs.NewClient(pool, jobs.Config{Work: true, SafetyNet: 50 * time.Millisecond, Delivery: delivery.Config{Policy: policy}})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { require.NoError(t, client.Stop(ctx)) })
	srv := httptest.NewServer(newHandler(t, server.Config{Pool: pool, API: api.Config{Policy: policy, River: client}}))
	t.Cleanup(srv.Close)
	b := &testBundle{pool: pool, url: srv.URL, client: srv.Client()}
	b.ws = newWorkspace(t, pool, "Acme")
	key := b.ws.keys["owner"]

	var mu sync.Mutex
	received := map[string][]byte{} // webhook-id → body
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		received[r.Header.Get(webhook.HeaderID)] = body
		mu.Unlock()
	}))
	defer receiver.Close()
	body := validWebhook()
	body["url"], body["events"] = receiver.URL+"/hooks", []string{"pipeline.*"}
	res := b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	hook := res.json(t)["id"].(string)

	var pipeline string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, '<p & q>') RETURNING id`,
		b.ws.id, b.ws.users["owner"]).Scan(&pipeline))
	_, err = pool.Exec(ctx, `UPDATE pipelines SET name = 'é "quoted"' WHERE id = $1`, pipeline)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		res := b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries?status=succeeded", nil)
		return len(res.json(t)["data"].([]any)) == 2
	}, time.Minute, 20*time.Millisecond)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, received, 2)
	for id, sent := range received {
		res := b.do(t, key, "GET", "/v1/messages/"+id, nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		var msg struct {
			EventType string
			Envelope  json.RawMessage
		}
		require.NoError(t, json.Unmarshal(res.body, &msg))
		require.Equal(t, string(sent), string(msg.Envelope), "%s: the envelope as sent, byte for byte", msg.EventType)
		var envelope webhook.Envelope
		require.NoError(t, json.Unmarshal(msg.Envelope, &envelope))
		require.Equal(t, id, envelope.ID)
		require.Equal(t, hook, envelope.ApplicationID)
		if msg.EventType == "pipeline.updated" {
			require.JSONEq(t, `{"name": "<p & q>"}`, string(envelope.PreviousAttributes))
		}
	}

	// A message not sent yet shows the envelope it will be sent with; a
	// page of deliveries does not carry envelopes.
	require.NoError(t, client.Stop(ctx))
	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/test", map[string]any{"eventType": "memo.updated"})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	res = b.do(t, key, "GET", "/v1/messages/"+res.json(t)["id"].(string), nil)
	require.Equal(t, "pending", res.json(t)["state"])
	envelope := res.json(t)["envelope"].(map[string]any)
	require.Equal(t, "memo.updated", envelope["eventType"])
	require.Equal(t, map[string]any{"title": "Previous title"}, envelope["previousAttributes"], "a column memos have")
	res = b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries", nil)
	require.NotContains(t, string(res.body), `"envelope"`)
}

// TestDeliveriesStateFilters: each status filter lists the messages in that
// state alone. Messages that are not pending or succeeded are read through
// their own index (open_state); pending ones are those waiting for a
// delivery job, found from the webhook's oldest job still to run.
func TestDeliveriesStateFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	// Expansion alone: delivery jobs wait, their messages pending.
	client, err := jobs.NewClient(pool, jobs.Config{Work: true, ExpandOnly: true, SafetyNet: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { require.NoError(t, client.Stop(ctx)) })
	srv := httptest.NewServer(newHandler(t, server.Config{Pool: pool, API: api.Config{River: client}}))
	t.Cleanup(srv.Close)
	b := &testBundle{pool: pool, url: srv.URL, client: srv.Client()}
	b.ws = newWorkspace(t, pool, "Acme")
	key := b.ws.keys["owner"]
	hooks := make([]string, 2)
	for i := range hooks {
		body := validWebhook()
		body["events"] = []string{"pipeline.*"}
		res := b.do(t, key, "POST", "/v1/webhooks", body)
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		hooks[i] = res.json(t)["id"].(string)
	}
	hook := hooks[0]
	list := func(status string) []string {
		t.Helper()
		res := b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries?status="+status, nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		var ids []string
		for _, m := range res.json(t)["data"].([]any) {
			ids = append(ids, m.(map[string]any)["id"].(string))
		}
		return ids
	}

	_, err = pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'p' || n FROM generate_series(1, 6) n`,
		b.ws.id, b.ws.users["owner"])
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(list("pending")) == 6 }, time.Minute, 20*time.Millisecond)

	// Outcomes, oldest first: one message in each state, two still pending.
	var ids []string
	rows, err := pool.Query(ctx, `SELECT id FROM webhooks.messages WHERE webhook_id = $1 ORDER BY created_at, id`, hook)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ids, 6)
	states := []string{"succeeded", "failed", "retrying", "cancelled"}
	for i, state := range states {
		_, err := pool.Exec(ctx, `UPDATE webhooks.messages SET state = $1, open_state = webhooks.open_state($1) WHERE id = $2`, state, ids[i])
		require.NoError(t, err)
	}
	for i, state := range states {
		require.Equal(t, []string{ids[i]}, list(state), state)
	}
	// No message is ever delivering (migration 000022): the filter is
	// refused, not answered empty.
	res := b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries?status=delivering", nil)
	require.Equal(t, http.StatusBadRequest, res.status, string(res.body))
	require.Contains(t, string(res.body), `"field":"status"`)
	// Newest first.
	require.Equal(t, []string{ids[5], ids[4]}, list("pending"))

	// The other webhook's messages are its own.
	res = b.do(t, key, "GET", "/v1/webhooks/"+hooks[1]+"/deliveries?status=pending", nil)
	require.Len(t, res.json(t)["data"].([]any), 6)

	// With its delivery jobs gone, no message of the webhook waits.
	jobRows, err := client.JobList(ctx, river.NewJobListParams().Kinds("webhook_deliver").First(100))
	require.NoError(t, err)
	for _, j := range jobRows.Jobs {
		var args jobs.DeliverArgs
		require.NoError(t, json.Unmarshal(j.EncodedArgs, &args))
		if args.WebhookID == hook {
			_, err := client.JobCancel(ctx, j.ID)
			require.NoError(t, err)
		}
	}
	require.Empty(t, list("pending"))
	require.Equal(t, []string{ids[2]}, list("retrying"))
}

// TestRetryNowAndDisabledWebhooks: a message waiting an hour to retry shows
// when, and a retry sends it at once, after the endpoint is fixed; sending
// anything to a disabled webhook is refused with the reason, not accepted
// and then cancelled unsent.
func TestRetryNowAndDisabledWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, hook, ok, _ := workingBundle(t, []time.Duration{time.Hour, 2 * time.Second}, http.StatusServiceUnavailable)
	key := b.ws.keys["owner"]
	_, err := b.pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, b.ws.id, b.ws.users["owner"])
	require.NoError(t, err)
	var msg string
	require.Eventually(t, func() bool {
		data := b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries?status=retrying", nil).json(t)["data"].([]any)
		if len(data) == 1 {
			msg = data[0].(map[string]any)["id"].(string)
		}
		return msg != ""
	}, time.Minute, 20*time.Millisecond)
	// Once River has put the job back (the message says retrying as soon
	// as its attempt is recorded), the read says when it runs.
	var read map[string]any
	require.Eventually(t, func() bool {
		read = b.do(t, key, "GET", "/v1/messages/"+msg, nil).json(t)
		return read["nextAttemptAt"] != nil
	}, time.Minute, 20*time.Millisecond)
	next, err := time.Parse(time.RFC3339, read["nextAttemptAt"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), next, 15*time.Minute, "the schedule's hour, ±20 %")

	// Retry now while the endpoint still fails: the scheduled job runs at
	// once, and its attempt says it was asked for; the schedule's next,
	// two seconds on, succeeds and says it was the schedule's.
	res := b.do(t, key, "POST", "/v1/messages/"+msg+"/retry", nil)
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	require.Equal(t, "retrying", res.json(t)["state"])
	triggers := func() []string {
		var out []string
		for _, a := range b.do(t, key, "GET", "/v1/messages/"+msg, nil).json(t)["attempts"].([]any) {
			a := a.(map[string]any)
			out = append(out, fmt.Sprintf("%v:%v", a["attempt"], a["triggeredBy"]))
		}
		slices.Sort(out)
		return out
	}
	require.Eventually(t, func() bool { return len(triggers()) == 2 }, time.Minute, 20*time.Millisecond, "sent now, not in an hour")
	require.Equal(t, []string{"1:schedule", "2:manual_retry"}, triggers())
	ok.Store(true)
	require.Eventually(t, func() bool {
		return b.do(t, key, "GET", "/v1/messages/"+msg, nil).json(t)["state"] == "succeeded"
	}, time.Minute, 20*time.Millisecond)
	read = b.do(t, key, "GET", "/v1/messages/"+msg, nil).json(t)
	require.Equal(t, []string{"1:schedule", "2:manual_retry", "3:schedule"}, triggers(), "the scheduled job itself, brought forward: no second job")
	require.NotContains(t, read, "nextAttemptAt")

	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/disable", map[string]any{"reason": "endpoint moving"})
	require.Equal(t, http.StatusOK, res.status)
	for _, req := range []struct{ path, body string }{
		{"/v1/messages/" + msg + "/retry", ""},
		{"/v1/webhooks/" + hook + "/test", `{"eventType": "pipeline.created"}`},
		{"/v1/webhooks/" + hook + "/recover", `{"since": "2020-01-01T00:00:00Z"}`},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		res := b.do(t, key, "POST", req.path, body)
		require.Equal(t, http.StatusConflict, res.status, req.path)
		require.Contains(t, res.json(t)["detail"], `webhook "Acme CRM" is disabled (endpoint moving); enable it, then send again`, req.path)
	}
	require.Equal(t, 1, len(b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries", nil).json(t)["data"].([]any)), "nothing was queued")
}

// TestWebhookStats: 24 hours, oldest first, whose counts are those of the
// attempts recorded: here one failure, then a success by retry.
func TestWebhookStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, hook, ok, _ := workingBundle(t, []time.Duration{10 * time.Millisecond}, http.StatusServiceUnavailable)
	key := b.ws.keys["owner"]
	_, err := b.pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, b.ws.id, b.ws.users["owner"])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.delivery_attempts WHERE webhook_id = $1`, hook).Scan(&n))
		if n == 1 {
			ok.Store(true)
		}
		return n == 2
	}, time.Minute, 5*time.Millisecond)
	res := b.do(t, key, "GET", "/v1/webhooks/"+hook+"/stats", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	hours := res.json(t)["data"].([]any)
	require.Len(t, hours, 24)
	first, _ := time.Parse(time.RFC3339, hours[0].(map[string]any)["hour"].(string))
	last, _ := time.Parse(time.RFC3339, hours[23].(map[string]any)["hour"].(string))
	require.Equal(t, 23*time.Hour, last.Sub(first))
	var attempts, succeeded, failed float64
	for _, h := range hours {
		attempts += h.(map[string]any)["attempts"].(float64)
		succeeded += h.(map[string]any)["succeeded"].(float64)
		failed += h.(map[string]any)["failed"].(float64)
	}
	require.Equal(t, []float64{2, 1, 1}, []float64{attempts, succeeded, failed})
	require.Equal(t, http.StatusNotFound, b.do(t, b.ws.keys["member"], "GET", "/v1/webhooks/"+hook+"/stats", nil).status, "another's webhook")
}
