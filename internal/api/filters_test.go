package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWebhookFilters: a webhook's filter and changed columns are stored as
// given, shown in reads, kept by patches of other fields, checked again
// when the events change, and cleared by null (or, for the filter, {}).
func TestWebhookFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.ws.keys["owner"]
	body := validWebhook()
	body["events"] = []string{"investment.*"}
	body["filter"] = map[string]any{"tickerSymbol": "KO", "employees": map[string]any{"$gte": 100}}
	body["changedColumns"] = []string{"employees", "tickerSymbol"}
	res := b.do(t, key, "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	created := res.json(t)
	id := created["id"].(string)
	require.JSONEq(t, `{"tickerSymbol": "KO", "employees": {"$gte": 100}}`, jsonOf(t, created["filter"]))
	require.Equal(t, []any{"employees", "tickerSymbol"}, created["changedColumns"])

	got := b.do(t, key, "GET", "/v1/webhooks/"+id, nil).json(t)
	require.Equal(t, created["filter"], got["filter"])
	require.Equal(t, created["changedColumns"], got["changedColumns"])

	// A patch of the name keeps both.
	res = b.do(t, key, "PATCH", "/v1/webhooks/"+id, `{"name":"Renamed"}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Equal(t, created["filter"], res.json(t)["filter"])
	require.Equal(t, created["changedColumns"], res.json(t)["changedColumns"])

	// Events that no longer take the columns' updates are refused with them.
	res = b.do(t, key, "PATCH", "/v1/webhooks/"+id, `{"events":["investment.created"]}`)
	require.Equal(t, http.StatusUnprocessableEntity, res.status, string(res.body))
	require.Contains(t, string(res.body), "set for the events before")
	res = b.do(t, key, "PATCH", "/v1/webhooks/"+id, `{"events":["investment.created"],"changedColumns":null}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Nil(t, res.json(t)["changedColumns"])

	// {} and null are no filter.
	res = b.do(t, key, "PATCH", "/v1/webhooks/"+id, `{"filter":{}}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Nil(t, res.json(t)["filter"])
	res = b.do(t, key, "PATCH", "/v1/webhooks/"+id, `{"filter":{"$or":[{"country":"US"},{"employees":{"$lt":10}}]}}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.JSONEq(t, `{"$or":[{"country":"US"},{"employees":{"$lt":10}}]}`, jsonOf(t, res.json(t)["filter"]))
	res = b.do(t, key, "PATCH", "/v1/webhooks/"+id, `{"filter":null}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Nil(t, res.json(t)["filter"])

	// A webhook made without them shows both as null.
	plain := b.create(t, key)
	require.Contains(t, plain, "filter")
	require.Nil(t, plain["filter"])
	require.Contains(t, plain, "changedColumns")
	require.Nil(t, plain["changedColumns"])
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}
