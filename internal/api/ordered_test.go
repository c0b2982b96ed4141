package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOrderedWebhookSkipAndRetry: an ordered webhook's failing head holds
// back the later changes of its resource, which the log shows waiting
// behind it; a retry sends it, and a skip lets the next go. Turning ordering
// off sends what waits.
func TestOrderedWebhookSkipAndRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := deliveringBundle(t, []time.Duration{}) // no retries: a failure is final
	key := b.ws.keys["owner"]

	var mu sync.Mutex
	refuse := map[string]bool{} // pipeline names the receiver refuses
	var got []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Payload struct{ Name string } `json:"payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if refuse[env.Payload.Name] {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		got = append(got, env.Payload.Name)
	}))
	t.Cleanup(receiver.Close)
	arrived := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}

	body := validWebhook()
	body["url"], body["events"], body["ordered"] = receiver.URL+"/hooks", []string{"pipeline.updated"}, "yes"
	res := b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusUnprocessableEntity, res.status)
	require.Contains(t, string(res.body), `"field":"ordered"`)
	require.Contains(t, string(res.body), "must be true or false")
	body["ordered"] = true
	res = b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	hook := res.json(t)
	require.Equal(t, true, hook["ordered"])
	hookID := hook["id"].(string)

	var a, bb string
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'a0') RETURNING id`, b.ws.id, b.ws.users["owner"]).Scan(&a))
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'b0') RETURNING id`, b.ws.id, b.ws.users["owner"]).Scan(&bb))
	mu.Lock()
	refuse["a1"] = true
	mu.Unlock()
	for _, step := range [][2]string{{a, "a1"}, {a, "a2"}, {a, "a3"}, {bb, "b1"}} {
		_, err := b.pool.Exec(ctx, `UPDATE pipelines SET name = $2 WHERE id = $1`, step[0], step[1])
		require.NoError(t, err)
	}

	// b1 goes; a1 fails for good, and a2, a3 wait behind it.
	var head string
	require.Eventually(t, func() bool {
		res := b.do(t, key, "GET", "/v1/webhooks/"+hookID+"/deliveries?status=failed", nil)
		data := res.json(t)["data"].([]any)
		if len(data) != 1 {
			return false
		}
		head = data[0].(map[string]any)["id"].(string)
		return true
	}, time.Minute, 20*time.Millisecond)
	require.Eventually(t, func() bool { return len(arrived()) == 1 }, time.Minute, 20*time.Millisecond)
	require.Equal(t, []string{"b1"}, arrived())
	// b1's success is recorded a moment after it arrives.
	var pending []any
	require.Eventually(t, func() bool {
		res = b.do(t, key, "GET", "/v1/webhooks/"+hookID+"/deliveries?status=pending", nil)
		pending = res.json(t)["data"].([]any)
		return len(pending) == 2
	}, time.Minute, 20*time.Millisecond)
	for _, p := range pending {
		m := p.(map[string]any)
		require.Equal(t, head, m["waitingBehind"], "a waiting message names its head")
		require.Equal(t, "pipeline/"+a, m["resource"])
		// A waiting message cannot be retried or skipped: its head can.
		res := b.do(t, key, "POST", "/v1/messages/"+m["id"].(string)+"/retry", nil)
		require.Equal(t, http.StatusConflict, res.status)
		require.Contains(t, string(res.body), "waits behind")
		res = b.do(t, key, "POST", "/v1/messages/"+m["id"].(string)+"/skip", nil)
		require.Equal(t, http.StatusConflict, res.status)
		require.Contains(t, string(res.body), "skip that one")
	}
	res = b.do(t, key, "GET", "/v1/messages/"+pending[0].(map[string]any)["id"].(string), nil)
	require.Equal(t, head, res.json(t)["waitingBehind"])
	time.Sleep(200 * time.Millisecond) // nothing of a goes meanwhile
	require.Equal(t, []string{"b1"}, arrived())

	// A retry of the head, still refused, keeps the rest waiting; a skip
	// lets a2 go, then a3, in order.
	res = b.do(t, key, "POST", "/v1/messages/"+head+"/retry", nil)
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	require.Eventually(t, func() bool {
		res := b.do(t, key, "GET", "/v1/messages/"+head, nil)
		m := res.json(t)
		return m["state"] == "failed" && m["attemptCount"] == float64(2)
	}, time.Minute, 20*time.Millisecond)
	require.Equal(t, []string{"b1"}, arrived())
	// Its job may not be finished in River yet, a moment after the attempt:
	// a skip is refused until it is.
	require.Eventually(t, func() bool {
		res = b.do(t, key, "POST", "/v1/messages/"+head+"/skip", nil)
		if res.status == http.StatusConflict {
			require.Contains(t, string(res.body), "is being sent, or its attempt is finishing")
		}
		return res.status == http.StatusOK
	}, time.Minute, 20*time.Millisecond)
	skipped := res.json(t)
	require.Equal(t, "cancelled", skipped["state"])
	require.Contains(t, skipped["lastError"], "skipped by "+email(t, b.pool, b.ws.users["owner"])+":")
	require.Contains(t, skipped["lastError"], "pipeline/"+a)
	require.Eventually(t, func() bool { return len(arrived()) == 3 }, time.Minute, 20*time.Millisecond)
	require.Equal(t, []string{"b1", "a2", "a3"}, arrived())
	res = b.do(t, key, "POST", "/v1/messages/"+head+"/skip", nil)
	require.Equal(t, http.StatusConflict, res.status, "skipped already")

	// Retried after its successors went, the skipped a1 is sent (asked for).
	mu.Lock()
	delete(refuse, "a1")
	mu.Unlock()
	res = b.do(t, key, "POST", "/v1/messages/"+head+"/retry", nil)
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	require.Eventually(t, func() bool { return len(arrived()) == 4 }, time.Minute, 20*time.Millisecond)
	require.Equal(t, []string{"b1", "a2", "a3", "a1"}, arrived())
	res = b.do(t, key, "GET", "/v1/messages/"+head, nil)
	attempts := res.json(t)["attempts"].([]any)
	require.Equal(t, "manual_retry", attempts[len(attempts)-1].(map[string]any)["triggeredBy"], "requeued by a retry, and said so")

	// Waiting messages go at once when ordering is turned off.
	mu.Lock()
	refuse["a1"] = true
	mu.Unlock()
	for _, name := range []string{"a1", "a2"} {
		_, err := b.pool.Exec(ctx, `UPDATE pipelines SET name = $2 WHERE id = $1`, a, name)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		res := b.do(t, key, "GET", "/v1/webhooks/"+hookID+"/deliveries?status=pending", nil)
		data := res.json(t)["data"].([]any)
		return len(data) == 1 && data[0].(map[string]any)["waitingBehind"] != nil
	}, time.Minute, 20*time.Millisecond)
	res = b.do(t, key, "PATCH", "/v1/webhooks/"+hookID, map[string]any{"ordered": false})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Equal(t, false, res.json(t)["ordered"])
	require.Eventually(t, func() bool { return len(arrived()) == 5 }, time.Minute, 20*time.Millisecond)
	require.Equal(t, "a2", arrived()[4])
	var queued int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.ordered_queue`).Scan(&queued))
	require.Zero(t, queued)
}

// TestOrderedSkipRefusedWhileSending: the head cannot be skipped while an
// attempt of it is under way: it could yet succeed after the next change
// had gone.
func TestOrderedSkipRefusedWhileSending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := deliveringBundle(t, []time.Duration{50 * time.Millisecond})
	key := b.ws.keys["owner"]
	var calls atomic.Int64
	sending, release := make(chan struct{}), make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "not now", http.StatusInternalServerError)
		case 2:
			close(sending)
			<-release
		}
	}))
	t.Cleanup(receiver.Close)
	body := validWebhook()
	body["url"], body["events"], body["ordered"] = receiver.URL+"/hooks", []string{"pipeline.*"}, true
	res := b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	hook := res.json(t)["id"].(string)
	_, err := b.pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p')`, b.ws.id, b.ws.users["owner"])
	require.NoError(t, err)
	<-sending
	data := b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries", nil).json(t)["data"].([]any)
	head := data[0].(map[string]any)["id"].(string)
	res = b.do(t, key, "POST", "/v1/messages/"+head+"/skip", nil)
	require.Equal(t, http.StatusConflict, res.status, string(res.body))
	require.Contains(t, string(res.body), "is being sent, or its attempt is finishing")
	close(release)
	require.Eventually(t, func() bool {
		return b.do(t, key, "GET", "/v1/messages/"+head, nil).json(t)["state"] == "succeeded"
	}, time.Minute, 20*time.Millisecond)
}
