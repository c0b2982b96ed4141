package api_test

import (
	"net/http"
	"testing"
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
