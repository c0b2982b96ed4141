package api_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/api"
)

// TestWebhookQuota: a workspace has at most MaxWebhooksPerWorkspace
// webhooks, whoever made them; one more is a 422 naming the limit, another
// workspace is not affected, and deleting one makes room.
func TestWebhookQuota(t *testing.T) {
	t.Parallel()
	b := setup(t, api.Config{MaxWebhooksPerWorkspace: 3})
	owner := b.ws.keys["owner"]
	first := b.create(t, owner)["id"].(string)
	b.create(t, owner)
	b.create(t, b.ws.keys["member"])

	res := b.do(t, b.ws.keys["admin"], "POST", "/v1/webhooks", validWebhook())
	require.Equal(t, http.StatusUnprocessableEntity, res.status, string(res.body))
	problem := res.json(t)
	require.Equal(t, []any{map[string]any{
		"field":   "workspace",
		"message": "this workspace has 3 webhooks, the most it may have; delete one to create another (the limit is WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE of the server)",
	}}, problem["errors"])
	require.Contains(t, problem["detail"], "as many webhooks as it may")

	b.create(t, b.ws2.keys["owner"]) // another workspace has its own

	require.Equal(t, http.StatusNoContent, b.do(t, owner, "DELETE", "/v1/webhooks/"+first, nil).status)
	b.create(t, owner)
	require.Equal(t, http.StatusUnprocessableEntity, b.do(t, owner, "POST", "/v1/webhooks", validWebhook()).status)
}

// TestWebhookQuotaRace: creates sent at once cannot all find the last
// place free: exactly as many succeed as there was room for.
func TestWebhookQuotaRace(t *testing.T) {
	t.Parallel()
	b := setup(t, api.Config{MaxWebhooksPerWorkspace: 2})
	for round := range 5 {
		ws := newWorkspace(t, b.pool, "Round "+strconv.Itoa(round))
		b.create(t, ws.keys["owner"])
		const n = 8
		statuses := make([]int, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				statuses[i] = b.do(t, ws.keys["owner"], "POST", "/v1/webhooks", validWebhook()).status
			}()
		}
		close(start)
		wg.Wait()
		created := 0
		for _, s := range statuses {
			require.Contains(t, []int{http.StatusCreated, http.StatusUnprocessableEntity}, s)
			if s == http.StatusCreated {
				created++
			}
		}
		require.Equal(t, 1, created, "round %d: statuses %v", round, statuses)
		require.Equal(t, "2", scalar(t, b, `SELECT count(*)::text FROM webhooks.webhooks WHERE workspace_id = $1`, ws.id))
	}
}

// TestTestSendRate: a workspace sends at most TestSendsPerMinute tests a
// minute; the next is a 429 with Retry-After, and another workspace's
// tests are counted apart.
func TestTestSendRate(t *testing.T) {
	t.Parallel()
	b := setup(t, api.Config{TestSendsPerMinute: 2})
	owner := b.ws.keys["owner"]
	hook := b.create(t, owner)["id"].(string)
	other := b.create(t, b.ws.keys["member"])["id"].(string)
	send := func(key, id string) response {
		return b.do(t, key, "POST", "/v1/webhooks/"+id+"/test", map[string]any{"eventType": "investment.created"})
	}
	require.Equal(t, http.StatusAccepted, send(owner, hook).status)
	require.Equal(t, http.StatusAccepted, send(b.ws.keys["member"], other).status)

	res := send(owner, hook)
	require.Equal(t, http.StatusTooManyRequests, res.status, string(res.body))
	retry, err := strconv.Atoi(res.header.Get("Retry-After"))
	require.NoError(t, err, res.header.Get("Retry-After"))
	require.True(t, retry >= 1 && retry <= 60, "Retry-After %d", retry)
	require.Regexp(t, `^this workspace has sent 2 tests in the last minute, the most it may; send the next in \d+ s \(the limit is WEBHOOKS_TEST_SENDS_PER_MINUTE of the server\)$`, res.json(t)["detail"])
	require.Equal(t, "1", scalar(t, b, `SELECT count(*)::text FROM webhooks.messages WHERE webhook_id = $1`, hook), "the refused one was not sent")

	other2 := b.create(t, b.ws2.keys["owner"])["id"].(string)
	require.Equal(t, http.StatusAccepted, send(b.ws2.keys["owner"], other2).status)
}

func scalar(t *testing.T, b *testBundle, sql string, args ...any) string {
	t.Helper()
	var v string
	require.NoError(t, b.pool.QueryRow(t.Context(), sql, args...).Scan(&v), sql)
	return v
}
