package api_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/countercyclical/webhooks/internal/api"
)

// FuzzCreateWebhook: no body makes the API fail with a 5xx. The seed corpus
// is in testdata/fuzz; `go test -fuzz FuzzCreateWebhook ./internal/api`
// explores further.
func FuzzCreateWebhook(f *testing.F) {
	b := setup(f)
	key := b.ws.keys["owner"]
	f.Add(`{"name":"a","url":"https://example.com/","events":["*"]}`)
	f.Add(`{"name":"a","url":"https://example.com/","events":["investment.*"],"rateLimitPerSecond":9223372036854775807}`)
	f.Fuzz(func(t *testing.T, body string) {
		res := b.do(t, key, "POST", "/v1/webhooks", body)
		if res.status >= 500 {
			t.Fatalf("POST /v1/webhooks %q: %d %s", body, res.status, res.body)
		}
		if res.status != http.StatusCreated && res.status >= 300 && len(res.body) == 0 {
			t.Fatalf("POST /v1/webhooks %q: %d without a problem", body, res.status)
		}
	})
}

// FuzzPatchWebhook: no body makes PATCH fail with a 5xx.
func FuzzPatchWebhook(f *testing.F) {
	b := setup(f)
	key := b.ws.keys["owner"]
	id := b.create(f, key)["id"].(string)
	f.Add(`{"name":"renamed"}`)
	f.Add(`{"rateLimitPerSecond":null,"description":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		res := b.do(t, key, "PATCH", "/v1/webhooks/"+id, body)
		if res.status >= 500 {
			t.Fatalf("PATCH %q: %d %s", body, res.status, res.body)
		}
	})
}

// FuzzPathAndQuery: no path parameter or query string makes any route fail
// with a 5xx, and every refusal is a problem document. route picks one of
// api.Routes(); real puts the id of a live webhook in the path (so that the
// query reaches the handler that reads it) instead of id.
func FuzzPathAndQuery(f *testing.F) {
	b := setup(f)
	key := b.ws.keys["owner"]
	webhookID := b.create(f, key)["id"].(string)
	routes := api.Routes()
	index := func(pattern string) uint8 { return uint8(slices.Index(routes, pattern)) }
	deliveries := index("GET /v1/webhooks/{id}/deliveries")
	f.Add(index("GET /v1/webhooks/{id}"), false, "%ff", "")
	f.Add(index("GET /v1/messages/{id}"), false, "%00", "")
	f.Add(index("POST /v1/messages/{id}/retry"), false, "a;b", "")
	f.Add(deliveries, true, "", "eventType=%ff")
	f.Add(deliveries, true, "", "eventType=a;b")
	f.Add(deliveries, true, "", "status=failed&since=2024-01-01T00:00:00Z&until=2030-01-01T00:00:00%2B01:00&limit=5&cursor=e30")
	f.Add(index("GET /v1/webhooks"), false, "", "limit=1;DROP")
	f.Add(index("GET /v1/webhooks"), false, "", "limit=1&cursor=eyJ0IjoiMjAyNC0wMS0wMVQwMDowMDowMFoiLCJpIjoiXHUwMDAwIn0")
	f.Fuzz(func(t *testing.T, route uint8, real bool, id, query string) {
		method, pattern, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		if real {
			if method == "DELETE" {
				return // the live webhook must stay live for the next inputs
			}
			id = webhookID
		}
		target := b.url + strings.ReplaceAll(pattern, "{id}", id)
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(method, target, nil)
		if err != nil {
			return // not a URL a client can send
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := b.client.Do(req)
		if err != nil {
			return // refused by the client or by net/http before the API
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, resp.StatusCode, body)
		}
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" && !strings.HasPrefix(string(body), "400 Bad Request") {
			t.Fatalf("%s %s: %d without a problem: %s", method, target, resp.StatusCode, body)
		}
	})
}
