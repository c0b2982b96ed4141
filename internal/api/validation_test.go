package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBadRequests: each bad request is a 4xx problem naming the field (or,
// when the body is no JSON object at all, saying so), and changes nothing.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.ws.keys["owner"]
	id := b.create(t, key)["id"].(string)
	before := b.do(t, key, "GET", "/v1/webhooks/"+id, nil).body

	with := func(field string, value any) string {
		body := validWebhook()
		if value == nil {
			delete(body, field)
		} else {
			body[field] = value
		}
		j, _ := json.Marshal(body)
		return string(j)
	}
	long := strings.Repeat("é", 101)
	for _, tt := range []struct {
		method, path, body string
		status             int
		field, message     string
	}{
		// Create.
		{"POST", "/v1/webhooks", with("name", nil), 422, "name", "is required"},
		{"POST", "/v1/webhooks", with("name", ""), 422, "name", "must not be blank"},
		{"POST", "/v1/webhooks", with("name", "   "), 422, "name", "must not be blank"},
		{"POST", "/v1/webhooks", with("name", long), 422, "name", "at most 100 characters, got 101"},
		{"POST", "/v1/webhooks", with("name", 42), 422, "name", "must be a string"},
		{"POST", "/v1/webhooks", `{"name":null,"url":"https://example.com","events":["*"]}`, 422, "name", "must be a string"},
		{"POST", "/v1/webhooks", with("url", nil), 422, "url", "is required"},
		{"POST", "/v1/webhooks", with("url", "example.com/hooks"), 422, "url", "absolute URL"},
		{"POST", "/v1/webhooks", with("url", "http://example.com/hooks"), 422, "url", "must use https"},
		{"POST", "/v1/webhooks", with("url", "ftp://example.com/hooks"), 422, "url", "not ftp"},
		{"POST", "/v1/webhooks", with("url", "https://example.com/#x"), 422, "url", "fragment"},
		{"POST", "/v1/webhooks", with("url", "https://127.0.0.1/hooks"), 422, "url", "127.0.0.1"},
		{"POST", "/v1/webhooks", with("url", "https://169.254.169.254/latest"), 422, "url", "169.254.169.254"},
		{"POST", "/v1/webhooks", with("url", "https://[fd00::1]/"), 422, "url", "fd00::1"},
		{"POST", "/v1/webhooks", with("url", "https://2130706433/"), 422, "url", "127.0.0.1 (as browsers read 2130706433), a loopback address"},
		{"POST", "/v1/webhooks", with("url", "https://0x7f.1/"), 422, "url", "127.0.0.1 (as browsers read 0x7f.1)"},
		{"POST", "/v1/webhooks", with("url", "https://[::127.0.0.1]/"), 422, "url", "carries the IPv4 address 127.0.0.1"},
		{"POST", "/v1/webhooks", with("url", "https://[64:ff9b::a9fe:a9fe]/"), 422, "url", "a NAT64 address, which carries the IPv4 address 169.254.169.254"},
		{"POST", "/v1/webhooks", with("url", "https://localhost/"), 422, "url", "localhost"},
		{"POST", "/v1/webhooks", with("url", "https://a:b@example.com/"), 422, "url", "credentials"},
		{"POST", "/v1/webhooks", with("url", "https://example.com/"+strings.Repeat("a", 2048)), 422, "url", "at most 2048"},
		{"POST", "/v1/webhooks", with("url", []string{"https://example.com"}), 422, "url", "must be a string"},
		{"POST", "/v1/webhooks", with("events", nil), 422, "events", "is required"},
		{"POST", "/v1/webhooks", with("events", []string{}), 422, "events", "at least one event type"},
		{"POST", "/v1/webhooks", with("events", []string{"investment.created", "investment.exploded"}), 422, "events", `events[1] "investment.exploded" is not an event type`},
		{"POST", "/v1/webhooks", with("events", []string{"invoice.*"}), 422, "events", `"invoice.*" is not an event type`},
		{"POST", "/v1/webhooks", with("events", []string{"*.created"}), 422, "events", `"*.created"`},
		{"POST", "/v1/webhooks", with("events", "investment.created"), 422, "events", "must be an array of strings"},
		{"POST", "/v1/webhooks", with("events", []int{1}), 422, "events", "must be an array of strings"},
		{"POST", "/v1/webhooks", with("events", make([]string, 101)), 422, "events", "at most 100"},
		{"POST", "/v1/webhooks", with("description", strings.Repeat("d", 1001)), 422, "description", "at most 1000"},
		{"POST", "/v1/webhooks", with("description", true), 422, "description", "must be a string"},
		{"POST", "/v1/webhooks", with("rateLimitPerSecond", 0), 422, "rateLimitPerSecond", "between 1 and 10000"},
		{"POST", "/v1/webhooks", with("rateLimitPerSecond", 10001), 422, "rateLimitPerSecond", "between 1 and 10000"},
		{"POST", "/v1/webhooks", with("rateLimitPerSecond", 1.5), 422, "rateLimitPerSecond", "must be an integer"},
		{"POST", "/v1/webhooks", with("rateLimitPerSecond", "5"), 422, "rateLimitPerSecond", "must be an integer"},
		{"POST", "/v1/webhooks", with("enabled", false), 422, "enabled", "unknown field"},
		{"POST", "/v1/webhooks", with("secret", "whsec_x"), 422, "secret", "unknown field"},
		{"POST", "/v1/webhooks", with("filter", "KO"), 422, "filter", "must be a JSON object of conditions"},
		{"POST", "/v1/webhooks", with("filter", []any{}), 422, "filter", "must be a JSON object of conditions"},
		{"POST", "/v1/webhooks", with("filter", map[string]any{"employees": map[string]any{"$gte": true}}), 422, "filter", "employees.$gte: must be a number or a string, got a boolean"},
		{"POST", "/v1/webhooks", with("filter", map[string]any{"$or": []any{}}), 422, "filter", "$or: must be a non-empty array of filters"},
		{"POST", "/v1/webhooks", with("filter", map[string]any{"name": map[string]any{"$regex": "^A"}}), 422, "filter", "name.$regex: is not an operator"},
		{"POST", "/v1/webhooks", with("filter", map[string]any{"name": "a\x00b"}), 422, "filter", "must not contain NUL"},
		{"POST", "/v1/webhooks", with("filter", map[string]any{"name": strings.Repeat("n", 8200)}), 422, "filter", "at most 8192 bytes"},
		{"POST", "/v1/webhooks", with("changedColumns", []string{}), 422, "changedColumns", "at least one column"},
		{"POST", "/v1/webhooks", with("changedColumns", "title"), 422, "changedColumns", "must be an array of strings"},
		{"POST", "/v1/webhooks", with("changedColumns", []string{"title", "title"}), 422, "changedColumns", `changedColumns[1] "title" is named twice`},
		{"POST", "/v1/webhooks", with("changedColumns", []string{"is_pinned"}), 422, "changedColumns", `"is_pinned" is not a column of the subscribed resources, as payloads name it (lowerCamelCase)`},
		{"POST", "/v1/webhooks", with("changedColumns", []string{"employees"}), 422, "changedColumns", `"employees" is not a column of the subscribed resources`},
		{"POST", "/v1/webhooks", with("changedColumns", []string{"updatedAt"}), 422, "changedColumns", `"updatedAt" is ignored by tracking`},
		{"POST", "/v1/webhooks", `{"name":"a","url":"https://example.com","events":["investment.created"],"changedColumns":["name"]}`, 422, "changedColumns", "applies to *.updated events, and events names none"},
		{"POST", "/v1/webhooks", `{"name":"a","url":"https://example.com","events":["investment.exploded"],"changedColumns":["name"]}`, 422, "events", "is not an event type"},
		{"POST", "/v1/webhooks", `{"name":"a",`, 400, "", "body is not valid JSON"},
		{"POST", "/v1/webhooks", `[1,2]`, 400, "", "must be a JSON object"},
		{"POST", "/v1/webhooks", `null`, 400, "", "must be a JSON object"},
		{"POST", "/v1/webhooks", ``, 400, "", "must be a JSON object"},
		{"POST", "/v1/webhooks", `{} {}`, 400, "", "nothing after it"},
		{"POST", "/v1/webhooks", "{\"name\":\"\xff\"}", 400, "", "UTF-8"},
		{"POST", "/v1/webhooks", `{"pad":"` + strings.Repeat("x", 70000) + `"}`, 413, "", "at most 65536 bytes"},
		// Patch.
		{"PATCH", "/v1/webhooks/" + id, `{"name":""}`, 422, "name", "must not be blank"},
		{"PATCH", "/v1/webhooks/" + id, `{"url":null}`, 422, "url", "must be a string"},
		{"PATCH", "/v1/webhooks/" + id, `{"events":[]}`, 422, "events", "at least one"},
		{"PATCH", "/v1/webhooks/" + id, `{"url":"https://0177.0.0.1/"}`, 422, "url", "127.0.0.1 (as browsers read 0177.0.0.1)"},
		{"PATCH", "/v1/webhooks/" + id, `{"enabled":false}`, 422, "enabled", "unknown field"},
		{"PATCH", "/v1/webhooks/" + id, `{"url":"https://10.1.2.3/","name":""}`, 422, "name", "must not be blank"},
		{"PATCH", "/v1/webhooks/" + id, `"rename"`, 400, "", "must be a JSON object"},
		{"PATCH", "/v1/webhooks/" + id, `{"filter":{"employees":{"$in":5}}}`, 422, "filter", "employees.$in: must be an array of values, got a number"},
		{"PATCH", "/v1/webhooks/" + id, `{"events":["investment.updated"],"changedColumns":["title"]}`, 422, "changedColumns", `"title" is not a column of the subscribed resources`},
		// Others.
		{"POST", "/v1/webhooks/" + id + "/disable", `{"reason":7}`, 422, "reason", "must be a string"},
		{"POST", "/v1/webhooks/" + id + "/disable", `{"why":"x"}`, 422, "why", "unknown field"},
		{"POST", "/v1/webhooks/" + id + "/test", `{}`, 422, "eventType", "is required"},
		{"GET", "/v1/webhooks?limit=0", "", 400, "limit", "from 1 to 100"},
		{"GET", "/v1/webhooks?limit=abc", "", 400, "limit", "from 1 to 100"},
		{"GET", "/v1/webhooks?cursor=nonsense", "", 400, "cursor", "pass nextCursor as it came"},
		{"GET", "/v1/webhooks?page=2", "", 400, "page", "unknown query parameter"},
		{"POST", "/v1/webhooks", with("name", "a\x00b"), 422, "name", "must not contain NUL"},
		{"POST", "/v1/webhooks", with("events", []string{"*\x00"}), 422, "events", "must not contain NUL"},
		{"POST", "/v1/webhooks", with("url", "https://example.com/\x00"), 422, "url", "must not contain NUL"},
		{"POST", "/v1/webhooks/" + id + "/disable", `{"reason":"a\u0000b"}`, 422, "reason", "must not contain NUL"},
		{"GET", "/v1/webhooks/%00", "", 400, "id", "must not contain NUL"},
		{"GET", "/v1/messages/%00", "", 400, "id", "must not contain NUL"},
		{"GET", "/v1/webhooks/" + id + "/deliveries?eventType=%00", "", 400, "eventType", "must not contain NUL"},
	} {
		var body any
		if tt.body != "" {
			body = tt.body
		}
		res := b.do(t, key, tt.method, tt.path, body)
		label := tt.method + " " + tt.path + " " + truncate(tt.body)
		require.Equal(t, tt.status, res.status, "%s: %s", label, res.body)
		var p struct {
			Status int
			Detail string
			Errors []struct{ Field, Message string }
		}
		require.NoError(t, json.Unmarshal(res.body, &p), label)
		require.Equal(t, tt.status, p.Status, label)
		if tt.field == "" {
			require.Contains(t, p.Detail, tt.message, label)
			continue
		}
		found := false
		for _, e := range p.Errors {
			if e.Field == tt.field && strings.Contains(e.Message, tt.message) {
				found = true
			}
		}
		require.True(t, found, "%s: want field %s %q in %s", label, tt.field, tt.message, res.body)
	}

	require.Equal(t, string(before), string(b.do(t, key, "GET", "/v1/webhooks/"+id, nil).body), "bad requests changed nothing")
	res := b.do(t, key, "GET", "/v1/webhooks", nil)
	require.Len(t, res.json(t)["data"].([]any), 1, "bad requests created nothing")
}

func TestUnsupportedMediaType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, _ := http.NewRequest("POST", b.url+"/v1/webhooks", strings.NewReader(`name=x`))
	req.Header.Set("Authorization", "Bearer "+b.ws.keys["owner"])
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
