package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// replayReceiver counts arrivals by payload id, and when each came.
type replayReceiver struct {
	mu      sync.Mutex
	arrived map[string]time.Time
	delay   time.Duration
}

func newReplayReceiver(t *testing.T, delay time.Duration) (*replayReceiver, string) {
	rr := &replayReceiver{arrived: map[string]time.Time{}, delay: delay}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Payload struct{ ID string } `json:"payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		time.Sleep(rr.delay)
		rr.mu.Lock()
		defer rr.mu.Unlock()
		if _, ok := rr.arrived[env.Payload.ID]; !ok {
			rr.arrived[env.Payload.ID] = time.Now()
		}
	}))
	t.Cleanup(srv.Close)
	return rr, srv.URL
}

func (rr *replayReceiver) count() int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return len(rr.arrived)
}

func (rr *replayReceiver) got(id string) (time.Time, bool) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	at, ok := rr.arrived[id]
	return at, ok
}

// TestReplayCountsWhatArrives: a member's webhook, made after the events,
// replays them: the dry run's count is what arrives, events from before the
// webhook included, and none the member may not read.
func TestReplayCountsWhatArrives(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := deliveringBundle(t, []time.Duration{})
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	owner := b.ws.users["owner"]
	var visible, private []string
	for i := range 30 {
		visibility := "Workspace"
		if i%3 == 0 {
			visibility = "Private"
		}
		var id string
		require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO pipelines (workspace_id, created_by, name, visibility) VALUES ($1, $2, 'p', $3) RETURNING id`,
			b.ws.id, owner, visibility).Scan(&id))
		if visibility == "Private" {
			private = append(private, id)
		} else {
			visible = append(visible, id)
		}
	}
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.capture_queue`).Scan(&n))
		return n == 0
	}, time.Minute, 20*time.Millisecond, "the events are expanded (to no webhook)")

	rr, url := newReplayReceiver(t, 0)
	body := validWebhook()
	body["url"], body["events"] = url+"/hooks", []string{"pipeline.created"}
	res := b.do(t, b.ws.keys["member"], "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	hook := res.json(t)["id"].(string)
	path := "/v1/webhooks/" + hook + "/replay"

	res = b.do(t, b.ws.keys["member"], "POST", path, map[string]any{"since": since, "dryRun": true})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.EqualValues(t, len(visible), res.json(t)["events"], "the member's webhook takes the Workspace pipelines only")
	require.Zero(t, rr.count(), "a dry run sends nothing")

	res = b.do(t, b.ws.keys["member"], "POST", path, map[string]any{"since": since})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	replay := res.json(t)
	require.Equal(t, "running", replay["state"])
	require.EqualValues(t, len(visible), replay["total"])
	require.Equal(t, "/v1/replays/"+replay["id"].(string), res.header.Get("Location"))

	require.Eventually(t, func() bool {
		res := b.do(t, b.ws.keys["member"], "GET", "/v1/replays/"+replay["id"].(string), nil)
		return res.json(t)["state"] == "finished"
	}, time.Minute, 50*time.Millisecond)
	res = b.do(t, b.ws.keys["member"], "GET", "/v1/replays/"+replay["id"].(string), nil)
	done := res.json(t)
	require.EqualValues(t, len(visible), done["sent"])
	require.EqualValues(t, len(visible), done["queued"])
	require.EqualValues(t, 0, done["pending"])
	require.Equal(t, len(visible), rr.count())
	for _, id := range visible {
		_, ok := rr.got(id)
		require.True(t, ok, "visible pipeline %s arrived", id)
	}
	for _, id := range private {
		_, ok := rr.got(id)
		require.False(t, ok, "private pipeline %s must not arrive", id)
	}
	// The log shows the replay's attempts as the replay's.
	res = b.do(t, b.ws.keys["member"], "GET", "/v1/webhooks/"+hook+"/deliveries", nil)
	msg := res.json(t)["data"].([]any)[0].(map[string]any)
	res = b.do(t, b.ws.keys["member"], "GET", "/v1/messages/"+msg["id"].(string), nil)
	require.Equal(t, "replay", res.json(t)["attempts"].([]any)[0].(map[string]any)["triggeredBy"])
	res = b.do(t, b.ws.keys["member"], "GET", "/v1/webhooks/"+hook+"/replays", nil)
	require.Len(t, res.json(t)["data"].([]any), 1)

	// Another workspace's key sees none of it.
	other := newWorkspace(t, b.pool, "Globex")
	res = b.do(t, other.keys["owner"], "GET", "/v1/replays/"+replay["id"].(string), nil)
	require.Equal(t, http.StatusNotFound, res.status)
	res = b.do(t, b.ws.keys["member"], "POST", "/v1/replays/"+replay["id"].(string)+"/cancel", nil)
	require.Equal(t, http.StatusConflict, res.status, "finished already")
}

// TestReplayRefusals: what a replay refuses, each with the field to fix.
func TestReplayRefusals(t *testing.T) {
	t.Parallel()
	b, _ := deliveringBundle(t, []time.Duration{})
	key := b.ws.keys["owner"]
	rr, url := newReplayReceiver(t, 0)
	_ = rr
	body := validWebhook()
	body["url"], body["events"] = url+"/hooks", []string{"pipeline.*"}
	res := b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	hook := res.json(t)["id"].(string)
	path := "/v1/webhooks/" + hook + "/replay"
	hourAgo := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		body         any
		field, wants string
	}{
		{map[string]any{}, "since", "is required"},
		{map[string]any{"since": "yesterday"}, "since", "RFC 3339"},
		{map[string]any{"since": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "since", "must not be in the future"},
		{map[string]any{"since": hourAgo, "until": time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)}, "until", "must be after since"},
		{map[string]any{"since": hourAgo, "eventTypes": []string{"memo.created"}}, "eventTypes", "not an event type the webhook takes"},
		{map[string]any{"since": hourAgo, "eventTypes": []string{}}, "eventTypes", "at least one"},
		{map[string]any{"since": hourAgo, "eventTypes": []string{"pipeline.*"}}, "eventTypes", "a wildcard is not one either"},
		{map[string]any{"since": hourAgo, "dryRun": "yes"}, "dryRun", "must be true or false"},
		{map[string]any{"since": hourAgo, "speed": 2}, "speed", "unknown field"},
		{map[string]any{"since": "2001-01-01T00:00:00Z"}, "since", "no longer kept"},
	} {
		res := b.do(t, key, "POST", path, tt.body)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, "%v: %s", tt.body, res.body)
		require.Contains(t, string(res.body), `"field":"`+tt.field+`"`, "%v: %s", tt.body, res.body)
		require.Contains(t, string(res.body), tt.wants, "%v: %s", tt.body, res.body)
	}

	// One running replay per webhook; a disabled webhook replays nothing.
	_, err := b.pool.Exec(context.Background(), `INSERT INTO webhooks.replays (webhook_id, workspace_id, created_by, since, until, total)
		VALUES ($1, $2, $3, now() - interval '1 hour', now(), 0)`, hook, b.ws.id, b.ws.users["owner"])
	require.NoError(t, err)
	res = b.do(t, key, "POST", path, map[string]any{"since": hourAgo})
	require.Equal(t, http.StatusConflict, res.status, string(res.body))
	require.Contains(t, string(res.body), "a replay of this webhook is running")
	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/disable", map[string]any{})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	res = b.do(t, key, "POST", path, map[string]any{"since": hourAgo})
	require.Equal(t, http.StatusConflict, res.status)
	require.Contains(t, string(res.body), "is disabled")
}

// TestReplayCancelAndLiveTraffic: a 10,000-event replay runs behind live
// traffic (live events arrive while it still runs), and a cancel stops it:
// what it queued and has not sent is cancelled unsent.
func TestReplayCancelAndLiveTraffic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := deliveringBundle(t, []time.Duration{})
	key := b.ws.keys["owner"]
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	_, err := b.pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'old ' || i FROM generate_series(1, 10000) i`,
		b.ws.id, b.ws.users["owner"])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.capture_queue`).Scan(&n))
		return n == 0
	}, 2*time.Minute, 50*time.Millisecond)
	until := time.Now().UTC().Add(time.Second).Truncate(time.Second)
	time.Sleep(time.Until(until))

	rr, url := newReplayReceiver(t, 2*time.Millisecond)
	body := validWebhook()
	body["url"], body["events"] = url+"/hooks", []string{"pipeline.created"}
	res := b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	hook := res.json(t)["id"].(string)
	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/replay", map[string]any{"since": since, "until": until.Format(time.RFC3339)})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	replay := "/v1/replays/" + res.json(t)["id"].(string)
	require.Eventually(t, func() bool { return rr.count() >= 500 }, time.Minute, 20*time.Millisecond)

	// Live events while the replay runs: each arrives before it ends.
	var live []string
	committed := map[string]time.Time{}
	for range 20 {
		var id string
		require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'live') RETURNING id`,
			b.ws.id, b.ws.users["owner"]).Scan(&id))
		committed[id] = time.Now()
		live = append(live, id)
		time.Sleep(50 * time.Millisecond)
	}
	var latencies []time.Duration
	require.Eventually(t, func() bool {
		for _, id := range live {
			if _, ok := rr.got(id); !ok {
				return false
			}
		}
		return true
	}, time.Minute, 10*time.Millisecond)
	for _, id := range live {
		at, _ := rr.got(id)
		latencies = append(latencies, at.Sub(committed[id]))
	}
	progress := b.do(t, key, "GET", replay, nil).json(t)
	require.Equal(t, "running", progress["state"], "the live events did not wait for the replay")
	t.Logf("live events during the replay, commit to arrival: %v; replay at %v of %v sent", latencies, progress["sent"], progress["total"])

	res = b.do(t, key, "POST", replay+"/cancel", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Equal(t, "cancelled", res.json(t)["state"])
	require.Eventually(t, func() bool {
		p := b.do(t, key, "GET", replay, nil).json(t)
		return p["pending"] == float64(0)
	}, time.Minute, 20*time.Millisecond)
	arrived := rr.count()
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, arrived, rr.count(), "nothing arrives after the cancel settles")
	p := b.do(t, key, "GET", replay, nil).json(t)
	require.Less(t, arrived, 10000+20, "the replay stopped short")
	require.EqualValues(t, p["queued"], p["sent"].(float64)+p["cancelled"].(float64)+p["failed"].(float64))
	t.Logf("cancelled: %v of %v queued were sent, %v cancelled unsent", p["sent"], p["queued"], p["cancelled"])
}

// TestReplayOrderedKeepsResourceOrder: replayed to an ordered webhook, each
// resource's changes arrive in the order they were committed.
func TestReplayOrderedKeepsResourceOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := deliveringBundle(t, []time.Duration{})
	key := b.ws.keys["owner"]
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	var ids []string
	for range 10 {
		var id string
		require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, '0') RETURNING id`,
			b.ws.id, b.ws.users["owner"]).Scan(&id))
		ids = append(ids, id)
	}
	for v := 1; v <= 10; v++ {
		_, err := b.pool.Exec(ctx, `UPDATE pipelines SET name = $1 WHERE id = ANY ($2)`, strconv.Itoa(v), ids)
		require.NoError(t, err)
	}

	var mu sync.Mutex
	got := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Payload struct{ ID, Name string } `json:"payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		time.Sleep(time.Millisecond) // deliveries overlap
		mu.Lock()
		got[env.Payload.ID] = append(got[env.Payload.ID], env.Payload.Name)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	body := validWebhook()
	body["url"], body["events"], body["ordered"] = srv.URL+"/hooks", []string{"pipeline.*"}, true
	res := b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	hook := res.json(t)["id"].(string)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.capture_queue`).Scan(&n))
		return n == 0
	}, time.Minute, 20*time.Millisecond)
	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/replay", map[string]any{"since": since})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	require.EqualValues(t, 110, res.json(t)["total"])
	replay := "/v1/replays/" + res.json(t)["id"].(string)
	require.Eventually(t, func() bool { return b.do(t, key, "GET", replay, nil).json(t)["state"] == "finished" }, time.Minute, 50*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
	for _, id := range ids {
		require.Equal(t, want, got[id], id)
	}
	var by string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT string_agg(DISTINCT triggered_by, ',') FROM webhooks.delivery_attempts`).Scan(&by))
	require.Equal(t, "replay", by, "the replay's attempts say so, on an ordered webhook too")
}

// TestReplayBehindAFailedHead: on an ordered webhook whose resource waits
// behind a head that failed for good, a replay of the same events queues
// its own messages behind the live ones, and once the head is retried,
// everything arrives: the live changes in order, then the replay's.
func TestReplayBehindAFailedHead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := deliveringBundle(t, []time.Duration{}) // no retries: a failure is final
	key := b.ws.keys["owner"]
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	var mu sync.Mutex
	refuse := true
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Payload struct{ Name string } `json:"payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		got = append(got, env.Payload.Name)
	}))
	t.Cleanup(srv.Close)
	body := validWebhook()
	body["url"], body["events"], body["ordered"] = srv.URL+"/hooks", []string{"pipeline.*"}, true
	res := b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	hook := res.json(t)["id"].(string)
	var id string
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'v0') RETURNING id`,
		b.ws.id, b.ws.users["owner"]).Scan(&id))
	_, err := b.pool.Exec(ctx, `UPDATE pipelines SET name = 'v1' WHERE id = $1`, id)
	require.NoError(t, err)
	var head string
	require.Eventually(t, func() bool {
		data := b.do(t, key, "GET", "/v1/webhooks/"+hook+"/deliveries?status=failed", nil).json(t)["data"].([]any)
		if len(data) == 1 {
			head = data[0].(map[string]any)["id"].(string)
		}
		return len(data) == 1
	}, time.Minute, 20*time.Millisecond)

	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/replay", map[string]any{"since": since})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	require.EqualValues(t, 2, res.json(t)["total"])
	replay := "/v1/replays/" + res.json(t)["id"].(string)
	require.Eventually(t, func() bool { return b.do(t, key, "GET", replay, nil).json(t)["queued"] == float64(2) }, time.Minute, 20*time.Millisecond)
	require.Equal(t, "running", b.do(t, key, "GET", replay, nil).json(t)["state"], "its messages wait behind the failed head")

	mu.Lock()
	refuse = false
	mu.Unlock()
	res = b.do(t, key, "POST", "/v1/messages/"+head+"/retry", nil)
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	require.Eventually(t, func() bool { return b.do(t, key, "GET", replay, nil).json(t)["state"] == "finished" }, time.Minute, 20*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"v0", "v1", "v0", "v1"}, got, "the live changes, then the replay's, each in commit order")
}

// TestReplayFiltered: a filtered webhook's replay counts, and sends, the
// events its filter passes, judged on their payloads as receivers get them.
func TestReplayFiltered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := deliveringBundle(t, []time.Duration{})
	key := b.ws.keys["owner"]
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	_, err := b.pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, CASE WHEN i % 4 = 0 THEN 'keep' ELSE 'drop' END
		FROM generate_series(1, 40) i`, b.ws.id, b.ws.users["owner"])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.capture_queue`).Scan(&n))
		return n == 0
	}, time.Minute, 20*time.Millisecond)
	rr, url := newReplayReceiver(t, 0)
	body := validWebhook()
	body["url"], body["events"], body["filter"] = url+"/hooks", []string{"pipeline.created"}, map[string]any{"name": "keep"}
	res := b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	hook := res.json(t)["id"].(string)
	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/replay", map[string]any{"since": since, "dryRun": true})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.EqualValues(t, 10, res.json(t)["events"])
	res = b.do(t, key, "POST", "/v1/webhooks/"+hook+"/replay", map[string]any{"since": since})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	replay := "/v1/replays/" + res.json(t)["id"].(string)
	require.Eventually(t, func() bool { return b.do(t, key, "GET", replay, nil).json(t)["state"] == "finished" }, time.Minute, 20*time.Millisecond)
	require.Equal(t, 10, rr.count())
}
