package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/api"
)

// TestBadPathAndQuery: invalid UTF-8, NUL and ';' in a path parameter or
// the query string are a 400 naming the parameter on every route, never a
// 500 from PostgreSQL nor a parameter net/http silently dropped.
func TestBadPathAndQuery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.ws.keys["owner"]
	id := b.create(t, key)["id"].(string)
	before := b.do(t, key, "GET", "/v1/webhooks/"+id, nil).body

	type request struct{ method, path, field, message string }
	var cases []request
	// Every route with an id, as the issue found them (GET, PATCH, DELETE,
	// /secret, /deliveries, /test, /recover, messages, /retry) and the rest.
	for _, r := range api.Routes() {
		method, pattern, _ := strings.Cut(r, " ")
		if !strings.Contains(pattern, "{id}") {
			continue
		}
		for raw, msg := range map[string]string{
			"%ff": "must be valid UTF-8", "a%c3": "must be valid UTF-8", "%00": "must not contain NUL",
			"a;b": "must not contain ';'", "a%3Bb": "must not contain ';'",
		} {
			cases = append(cases, request{method, strings.ReplaceAll(pattern, "{id}", raw), "id", "path parameter " + msg})
		}
	}
	deliveries := "/v1/webhooks/" + id + "/deliveries"
	cases = append(cases,
		request{"GET", deliveries + "?eventType=%ff", "eventType", "must be valid UTF-8"},
		request{"GET", deliveries + "?eventType=%00", "eventType", "must not contain NUL"},
		request{"GET", deliveries + "?eventType=a;b", "eventType", "must not contain ';'"},
		request{"GET", deliveries + "?status=failed&eventType=memo.created;x", "eventType", "must not contain ';'"},
		request{"GET", deliveries + "?limit=%zz", "limit", "not valid percent-encoding"},
		request{"GET", "/v1/webhooks?limit=1;DROP", "limit", "must not contain ';'"},
		request{"GET", "/v1/webhooks?limit=1&cursor=%ff", "cursor", "must be valid UTF-8"},
		request{"GET", "/v1/webhooks?%ff=1", `"%ff"`, "name must be valid"},
		request{"GET", "/v1/webhooks?a%00=1", `"a%00"`, "name must be valid"},
		request{"GET", "/v1/event-types?x=%ff", "x", "must be valid UTF-8"},
		request{"GET", "/v1/openapi.json?x=1;y=2", "x", "must not contain ';'"},
		request{"POST", "/v1/webhooks?x=%ff", "x", "must be valid UTF-8"},
		request{"GET", "/v1/messages/msg_x?x=%00", "x", "must not contain NUL"},
	)
	for _, tt := range cases {
		var body any
		if tt.method == "POST" || tt.method == "PATCH" {
			body = `{}`
		}
		res := b.do(t, key, tt.method, tt.path, body)
		label := tt.method + " " + tt.path
		require.Equal(t, http.StatusBadRequest, res.status, "%s: %s", label, res.body)
		var p struct {
			Status int
			Detail string
			Errors []struct{ Field, Message string }
		}
		require.NoError(t, json.Unmarshal(res.body, &p), label)
		require.Len(t, p.Errors, 1, "%s: %s", label, res.body)
		require.Equal(t, tt.field, p.Errors[0].Field, label)
		require.Contains(t, p.Errors[0].Message, tt.message, label)
	}

	// Judged before authentication: no key is looked up for such a path.
	res := b.do(t, "", "GET", "/v1/webhooks/%ff", nil)
	require.Equal(t, http.StatusBadRequest, res.status, string(res.body))

	// What is well formed still passes, ';' percent-encoded in a value too.
	require.Equal(t, http.StatusOK, b.do(t, key, "GET", deliveries+"?eventType=a%3Bb&limit=5", nil).status)
	require.Equal(t, http.StatusOK, b.do(t, key, "GET", deliveries+"?eventType=%C3%A9", nil).status)
	require.Equal(t, http.StatusOK, b.do(t, key, "GET", "/v1/webhooks?limit=1&", nil).status)
	require.Equal(t, string(before), string(b.do(t, key, "GET", "/v1/webhooks/"+id, nil).body), "bad requests changed nothing")
}
