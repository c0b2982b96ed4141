package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// compile compiles a JSON Schema, asserting formats (date-time, date).
func compile(t *testing.T, schema any) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(schema)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource("schema.json", doc))
	s, err := c.Compile("schema.json")
	require.NoError(t, err)
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, body []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	require.NoError(t, err)
	return s.Validate(inst)
}

// TestEventCatalogue: every tracked table's three types, each with a
// version, a schema that compiles and an example that passes it; the
// OpenAPI document's webhooks section carries the same schemas.
func TestEventCatalogue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.ws.keys["member"]
	list := b.do(t, key, "GET", "/v1/event-types", nil).json(t)["data"].([]any)
	require.Len(t, list, 22)
	versions := map[string]string{}
	for _, item := range list {
		e := item.(map[string]any)
		if r := e["resourceType"]; r == "webhook" || r == "message" {
			require.Equal(t, "1", e["version"], "events about webhooks change with a release")
		} else {
			require.Regexp(t, `^[0-9a-f]{12}$`, e["version"], "a table's version is its columns' hash")
		}
		require.NotContains(t, e, "schema", "the list is light; a type's schema is in its own read")
		if v, ok := versions[e["resourceType"].(string)]; ok {
			require.Equal(t, v, e["version"], "one version per table")
		}
		versions[e["resourceType"].(string)] = e["version"].(string)
	}
	require.Len(t, versions, 8)

	res := b.do(t, key, "GET", "/v1/event-types/investment.updated", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	detail := res.json(t)
	schema := detail["schema"].(map[string]any)
	require.Equal(t, "https://json-schema.org/draft/2020-12/schema", schema["$schema"])
	require.Contains(t, schema["required"], "previousAttributes")
	payload := schema["properties"].(map[string]any)["payload"].(map[string]any)["properties"].(map[string]any)
	require.Equal(t, []any{"string", "null"}, payload["tickerSymbol"].(map[string]any)["type"])
	require.Equal(t, "string", payload["name"].(map[string]any)["type"], "NOT NULL")
	require.Equal(t, []any{"integer", "null"}, payload["employees"].(map[string]any)["type"])
	require.Equal(t, "array", payload["tags"].(map[string]any)["type"])
	require.Equal(t, "PostgreSQL timestamp with time zone", payload["createdAt"].(map[string]any)["description"])
	require.NotContains(t, payload, "created_at", "keys as receivers get them")
	example, err := json.Marshal(detail["example"])
	require.NoError(t, err)
	compiled := compile(t, schema)
	require.NoError(t, validate(t, compiled, example), "the example passes its schema: %s", example)
	require.Error(t, validate(t, compiled, []byte(`{"id": "msg_1"}`)))

	// Every type's example passes its own schema.
	for _, item := range list {
		name := item.(map[string]any)["name"].(string)
		detail := b.do(t, key, "GET", "/v1/event-types/"+name, nil).json(t)
		example, err := json.Marshal(detail["example"])
		require.NoError(t, err)
		require.NoError(t, validate(t, compile(t, detail["schema"]), example), "%s: %s", name, example)
	}

	res = b.do(t, key, "GET", "/v1/event-types/investment.exploded", nil)
	require.Equal(t, http.StatusNotFound, res.status)
	require.Contains(t, string(res.body), `event type \"investment.exploded\" not found`)

	// The OpenAPI document lists every type under webhooks, with its schema.
	res = b.do(t, "", "GET", "/v1/openapi.json", nil)
	var doc struct {
		Webhooks map[string]struct {
			Post struct {
				RequestBody struct {
					Content map[string]struct{ Schema any }
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	require.Len(t, doc.Webhooks, 22)
	require.Equal(t, schema, doc.Webhooks["investment.updated"].Post.RequestBody.Content["application/json"].Schema)

	// Excluded columns are left out, and the version changes with them.
	_, err = b.pool.Exec(context.Background(), `SELECT webhooks.track('public.investments', 'investment', '{clearbit}')`)
	require.NoError(t, err)
	res = b.do(t, key, "GET", "/v1/event-types/investment.updated", nil)
	excluded := res.json(t)
	require.NotEqual(t, detail["version"], excluded["version"])
	payload = excluded["schema"].(map[string]any)["properties"].(map[string]any)["payload"].(map[string]any)["properties"].(map[string]any)
	require.NotContains(t, payload, "clearbit")
	require.Contains(t, payload, "tickerSymbol")
}

// TestDeliveredPayloadsMatchSchemas: the bodies a real receiver gets pass
// the schema of their type as the catalogue gives it, for values of every
// kind the tables hold, and again after a column is added, dropped and
// retyped; each change makes a new version whose schema the old bodies no
// longer pass, at once and without a restart.
func TestDeliveredPayloadsMatchSchemas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := deliveringBundle(t, nil)
	pool := b.pool
	key := b.ws.keys["owner"]

	var mu sync.Mutex
	var bodies [][]byte
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
	}))
	t.Cleanup(receiver.Close)
	hook := validWebhook()
	hook["url"], hook["events"] = receiver.URL, []string{"*"}
	res := b.do(t, key, "POST", "/v1/webhooks", hook)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))

	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err, sql)
	}
	// received waits for n more bodies than seen, and returns them.
	seen := 0
	received := func(n int) [][]byte {
		t.Helper()
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(bodies) >= seen+n
		}, time.Minute, 10*time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		got := bodies[seen:]
		seen = len(bodies)
		return got
	}
	schemaOf := func(eventType string) (*jsonschema.Schema, string) {
		t.Helper()
		res := b.do(t, key, "GET", "/v1/event-types/"+eventType, nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		detail := res.json(t)
		return compile(t, detail["schema"]), detail["version"].(string)
	}
	checkAll := func(got [][]byte) {
		t.Helper()
		for _, body := range got {
			var env struct{ EventType string }
			require.NoError(t, json.Unmarshal(body, &env))
			s, _ := schemaOf(env.EventType)
			require.NoError(t, validate(t, s, body), "%s", body)
		}
	}
	ws, owner := b.ws.id, b.ws.users["owner"]

	// Every kind of value the app's tables hold: text, NOT NULL and null,
	// integers, numeric (NaN too), dates, timestamps, jsonb, arrays, booleans.
	var investment, valuation string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol, employees, tags, clearbit)
		VALUES ($1, $2, 'Coca-Cola', 'KO', 82500, '{Beverages,"Consumer staples"}', '{"domain": "coca-colacompany.com", "metrics": {"raised": null}}') RETURNING id`, ws, owner).Scan(&investment))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO valuations (workspace_id, created_by, investment_id, name, currency, value, valued_on, data)
		VALUES ($1, $2, $3, 'DCF', 'USD', 'NaN', '2024-11-19', '[1, "two", {"three": 3}]') RETURNING id`, ws, owner, investment).Scan(&valuation))
	exec(`INSERT INTO memos (workspace_id, created_by, investment_id, title, tags, is_pinned) VALUES ($1, $2, $3, 'Q3', '{}', true)`, ws, owner, investment)
	exec(`INSERT INTO valuations (workspace_id, created_by, investment_id, name, value) VALUES ($1, $2, $3, 'Bare', 12345678901234567890.123456789)`, ws, owner, investment)
	exec(`UPDATE valuations SET value = 'Infinity', valued_on = 'infinity' WHERE id = $1`, valuation)
	exec(`INSERT INTO teams (workspace_id, name) VALUES ($1, 'Deals')`, ws)
	exec(`INSERT INTO pipelines (workspace_id, created_by, name, stages) VALUES ($1, $2, 'Sourcing', '{New,Diligence}')`, ws, owner)
	exec(`INSERT INTO assumptions (workspace_id, created_by, valuation_id, name, value, unit) VALUES ($1, $2, $3, 'Growth', 0.05, '%')`, ws, owner, valuation)
	exec(`DELETE FROM memos WHERE investment_id = $1`, investment)
	checkAll(received(9))

	// changeTable alters valuations and checks that the next delivered
	// body passes the new schema, of a new version, and not the old one.
	changeTable := func(alter, insert string) {
		t.Helper()
		before, oldVersion := schemaOf("valuation.created")
		exec(alter)
		exec(insert, ws, owner, investment)
		body := received(1)[0]
		after, newVersion := schemaOf("valuation.created")
		require.NotEqual(t, oldVersion, newVersion, alter)
		require.NoError(t, validate(t, after, body), "%s: %s", alter, body)
		require.Error(t, validate(t, before, body), "%s: the old schema must not pass %s", alter, body)
	}
	changeTable(`ALTER TABLE valuations ADD COLUMN rating integer NOT NULL DEFAULT 3`,
		`INSERT INTO valuations (workspace_id, created_by, investment_id, name) VALUES ($1, $2, $3, 'Added')`)
	changeTable(`ALTER TABLE valuations DROP COLUMN method`,
		`INSERT INTO valuations (workspace_id, created_by, investment_id, name) VALUES ($1, $2, $3, 'Dropped')`)
	changeTable(`ALTER TABLE valuations ALTER COLUMN currency TYPE integer USING 840`,
		`INSERT INTO valuations (workspace_id, created_by, investment_id, name, currency) VALUES ($1, $2, $3, 'Retyped', 978)`)
	changeTable(`ALTER TABLE valuations ADD COLUMN reviewed_at timestamp`,
		`INSERT INTO valuations (workspace_id, created_by, investment_id, name, reviewed_at) VALUES ($1, $2, $3, 'Reviewed', '2026-11-30 10:00:00.5')`)
}
