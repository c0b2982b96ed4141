package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/api"
)

// TestOpenAPICoversRoutes: the served document names every route the server
// has, and no other.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, "", "GET", "/v1/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)

	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var served []string
	for _, r := range api.Routes() {
		served = append(served, r)
	}
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, served, documented)

	// Every documented response refers to something that exists.
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(res.body), -1)
	var components map[string]map[string]json.RawMessage
	var whole struct {
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	require.NoError(t, json.Unmarshal(res.body, &whole))
	components = whole.Components
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		require.Contains(t, components[ref[1]], ref[2], "dangling $ref %s", ref[0])
	}

	// And every served route answers as the document says it exists: not
	// the catch-all 404 of unknown routes.
	for _, r := range api.Routes() {
		method, path, _ := strings.Cut(r, " ")
		path = strings.ReplaceAll(path, "{id}", "nope")
		res := b.do(t, b.ws.keys["owner"], method, path, nil)
		require.NotContains(t, string(res.body), "no such route", r)
	}
}

// TestOpenAPIOperationIDs: every operation has an operationId, which
// generated clients name their methods after; they are pinned here because
// renaming one breaks those clients. Every operation also documents the 400
// that judgeInput answers to a bad path or query parameter on any route.
func TestOpenAPIOperationIDs(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"GET /v1/openapi.json":                 "getOpenAPI",
		"GET /v1/event-types":                  "listEventTypes",
		"GET /v1/event-types/{type}":           "getEventType",
		"POST /v1/webhooks":                    "createWebhook",
		"GET /v1/webhooks":                     "listWebhooks",
		"GET /v1/webhooks/{id}":                "getWebhook",
		"PATCH /v1/webhooks/{id}":              "updateWebhook",
		"DELETE /v1/webhooks/{id}":             "deleteWebhook",
		"GET /v1/webhooks/{id}/secret":         "getWebhookSecret",
		"POST /v1/webhooks/{id}/secret/rotate": "rotateWebhookSecret",
		"POST /v1/webhooks/{id}/enable":        "enableWebhook",
		"POST /v1/webhooks/{id}/disable":       "disableWebhook",
		"POST /v1/webhooks/{id}/test":          "testWebhook",
		"GET /v1/webhooks/{id}/deliveries":     "listWebhookDeliveries",
		"GET /v1/webhooks/{id}/stats":          "getWebhookStats",
		"POST /v1/webhooks/{id}/recover":       "recoverWebhook",
		"GET /v1/messages/{id}":                "getMessage",
		"POST /v1/messages/{id}/retry":         "retryMessage",
		"POST /v1/messages/{id}/skip":          "skipMessage",
		"POST /v1/webhooks/{id}/replay":        "replayWebhook",
		"GET /v1/webhooks/{id}/replays":        "listWebhookReplays",
		"GET /v1/replays/{id}":                 "getReplay",
		"POST /v1/replays/{id}/cancel":         "cancelReplay",
		"POST /v1/portal/sessions":             "createPortalSession",
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	file, err := os.ReadFile("openapi.json") // the document the server embeds
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(file, &doc))
	got := map[string]string{}
	seen := map[string]string{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			route := strings.ToUpper(method) + " " + path
			var op struct {
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			require.NoError(t, json.Unmarshal(raw, &op), route)
			require.Regexp(t, `^[a-z][a-zA-Z0-9]*$`, op.OperationID, "%s: operationId must be camelCase", route)
			require.NotContains(t, seen, op.OperationID, "%s: operationId also used by %s", route, seen[op.OperationID])
			seen[op.OperationID] = route
			got[route] = op.OperationID
			require.Contains(t, op.Responses, "400", "%s: documents the 400 of a bad path or query parameter", route)
		}
	}
	require.Equal(t, want, got, "operationIds are stable: a new route adds one, none is renamed")
	for _, r := range api.Routes() {
		require.Contains(t, want, r, "every route is pinned here")
	}
}
