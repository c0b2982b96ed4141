package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAnswersAreNotStoredNorSniffed: every answer under /v1, success or
// problem, authenticated or not, says Cache-Control: no-store (secrets,
// payloads and sign-in links are in them) and X-Content-Type-Options:
// nosniff.
func TestAnswersAreNotStoredNorSniffed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner := b.ws.keys["owner"]
	created := b.do(t, owner, "POST", "/v1/webhooks", validWebhook())
	require.Equal(t, http.StatusCreated, created.status)
	id := created.json(t)["id"].(string)
	answers := map[string]response{
		"create":       created,
		"secret":       b.do(t, owner, "GET", "/v1/webhooks/"+id+"/secret", nil),
		"list":         b.do(t, owner, "GET", "/v1/webhooks", nil),
		"portal link":  b.do(t, owner, "POST", "/v1/portal/sessions", nil),
		"openapi":      b.do(t, "", "GET", "/v1/openapi.json", nil),
		"no key":       b.do(t, "", "GET", "/v1/webhooks", nil),
		"bad query":    b.do(t, owner, "GET", "/v1/webhooks?limit=0", nil),
		"unknown":      b.do(t, owner, "GET", "/v1/nothing-here", nil),
		"not found":    b.do(t, owner, "GET", "/v1/webhooks/nope", nil),
		"invalid body": b.do(t, owner, "POST", "/v1/webhooks", map[string]any{}),
		"delete":       b.do(t, owner, "DELETE", "/v1/webhooks/"+id, nil),
	}
	for name, res := range answers {
		require.Equal(t, "no-store", res.header.Get("Cache-Control"), name)
		require.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"), name)
	}
	require.Equal(t, http.StatusOK, answers["secret"].status)
	require.Equal(t, http.StatusCreated, answers["portal link"].status)
	require.Equal(t, http.StatusUnauthorized, answers["no key"].status)
	require.Equal(t, http.StatusBadRequest, answers["bad query"].status)
	require.Equal(t, http.StatusNoContent, answers["delete"].status)
}
