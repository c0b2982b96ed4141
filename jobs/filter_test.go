package jobs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/jobs"
)

// TestExpansionFilters: real rows of the app's tables, captured by the
// triggers and expanded by a real River client, reach a webhook only when
// they pass its payload filter and, for updates, its changed columns; those
// that do not cost neither a message nor a delivery job.
func TestExpansionFilters(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	hook := func(events []string, filter string, changed []string) string {
		return dbtest.WebhookWith(t, pool, ws, owner, "https://example.com/hook", dbtest.WebhookOptions{Events: events, Filter: filter, ChangedColumns: changed})
	}
	all := hook([]string{"*"}, "", nil)
	koLarge := hook([]string{"investment.*"}, `{"tickerSymbol": "KO", "employees": {"$gte": 100}}`, nil)
	noTicker := hook([]string{"investment.*"}, `{"tickerSymbol": null}`, nil)
	euLarge := hook([]string{"valuation.*"}, `{"data.region": "eu", "data": {"board.seats": {"$gte": 5}}, "value": {"$gt": 1000.5}}`, nil)
	dividend := hook([]string{"memo.*"}, `{"tags": "dividend", "isPinned": false}`, nil)
	recent := hook([]string{"memo.created"}, `{"createdAt": {"$gte": "2000-01-01T00:00:00.000Z"}, "$not": {"title": {"$in": ["skip me"]}}}`, nil)
	// Timestamps as receivers get them: UTC, milliseconds.
	exact := hook([]string{"memo.created"}, `{"createdAt": "2026-01-02T01:04:05.678Z"}`, nil)
	headcount := hook([]string{"investment.*"}, "", []string{"employees", "ceo"})
	headcountKO := hook([]string{"investment.*"}, `{"tickerSymbol": "KO"}`, []string{"employees"})
	// Written by hand past the API: an operator the language lacks.
	unreadable := hook([]string{"team.*"}, `{"name": {"$regex": "^R"}}`, nil)
	exec(t, pool, `DELETE FROM webhooks.capture_queue`)

	ko := queryID(t, pool, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol, employees) VALUES ($1, $2, 'Coca-Cola', 'KO', 100) RETURNING id`, ws, owner)
	koSmall := queryID(t, pool, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol, employees) VALUES ($1, $2, 'KO small', 'KO', 99) RETURNING id`, ws, owner)
	private := queryID(t, pool, `INSERT INTO investments (workspace_id, created_by, name) VALUES ($1, $2, 'Private Co') RETURNING id`, ws, owner)
	// Only an ignored column changes (no event at all), then ignored and
	// unlisted columns, then a listed one.
	exec(t, pool, `UPDATE investments SET updated_at = now() + interval '1 second' WHERE id = $1`, ko)
	exec(t, pool, `UPDATE investments SET name = 'The Coca-Cola Company', updated_at = now() + interval '2 seconds' WHERE id = $1`, ko)
	exec(t, pool, `UPDATE investments SET employees = 101 WHERE id = $1`, ko)
	exec(t, pool, `UPDATE investments SET ceo = 'J. Q.' WHERE id = $1`, private)

	eu := queryID(t, pool, `INSERT INTO valuations (workspace_id, created_by, investment_id, name, value, data) VALUES ($1, $2, $3, 'DCF', 1000.50000000000000000001, '{"region": "eu", "board": {"seats": 7}}') RETURNING id`, ws, owner, ko)
	euSmall := queryID(t, pool, `INSERT INTO valuations (workspace_id, created_by, investment_id, name, value, data) VALUES ($1, $2, $3, 'DCF', 1000.5, '{"region": "eu", "board": {"seats": 7}}') RETURNING id`, ws, owner, ko)
	us := queryID(t, pool, `INSERT INTO valuations (workspace_id, created_by, investment_id, name, value, data) VALUES ($1, $2, $3, 'DCF', 5000, '{"region": "us", "board": {"seats": 7}}') RETURNING id`, ws, owner, ko)
	noData := queryID(t, pool, `INSERT INTO valuations (workspace_id, created_by, investment_id, name, value) VALUES ($1, $2, $3, 'DCF', 5000) RETURNING id`, ws, owner, ko)

	tagged := queryID(t, pool, `INSERT INTO memos (workspace_id, created_by, investment_id, title, tags) VALUES ($1, $2, $3, 'Q3', '{growth,dividend}') RETURNING id`, ws, owner, ko)
	untagged := queryID(t, pool, `INSERT INTO memos (workspace_id, created_by, investment_id, title, tags) VALUES ($1, $2, $3, 'skip me', '{growth}') RETURNING id`, ws, owner, ko)
	pinned := queryID(t, pool, `INSERT INTO memos (workspace_id, created_by, investment_id, title, tags, is_pinned) VALUES ($1, $2, $3, 'Pinned', '{dividend}', true) RETURNING id`, ws, owner, ko)
	dated := queryID(t, pool, `INSERT INTO memos (workspace_id, created_by, investment_id, title, created_at) VALUES ($1, $2, $3, 'Dated', '2026-01-02 03:04:05.678+02') RETURNING id`, ws, owner, ko)
	team := queryID(t, pool, `INSERT INTO teams (workspace_id, name) VALUES ($1, 'Deals') RETURNING id`, ws)

	startClient(t, pool, jobs.Config{ExpandOnly: true})
	waitExpanded(t, pool)
	got := receivers(t, pool)
	expect := map[string][]string{
		ko + " investment.created":      {all, koLarge, headcount, headcountKO},
		ko + " investment.updated":      {all, koLarge, headcount, headcountKO},
		koSmall + " investment.created": {all, headcount, headcountKO},
		private + " investment.created": {all, noTicker, headcount},
		private + " investment.updated": {all, noTicker, headcount},
		eu + " valuation.created":       {all, euLarge},
		euSmall + " valuation.created":  {all},
		us + " valuation.created":       {all},
		noData + " valuation.created":   {all},
		tagged + " memo.created":        {all, dividend, recent},
		untagged + " memo.created":      {all},
		pinned + " memo.created":        {all, recent},
		dated + " memo.created":         {all, recent, exact},
		team + " team.created":          {all, unreadable},
	}
	for key, want := range expect {
		var hooks []string
		for h := range got[key] {
			hooks = append(hooks, h)
		}
		require.ElementsMatch(t, want, hooks, "webhooks of %s", key)
	}
	// Two updates of ko were events: the first changed only name and
	// updated_at, so the webhooks on employees skipped it, and the other
	// webhooks got both.
	require.Equal(t, 2, count(t, pool, `SELECT count(*) FROM webhooks.outbox WHERE resource_id = $1 AND event_type = 'investment.updated'`, ko))
	require.Equal(t, 2, count(t, pool, `SELECT count(*) FROM webhooks.messages m JOIN webhooks.outbox o ON o.id = m.outbox_id
		WHERE m.webhook_id = $1 AND o.resource_id = $2 AND o.event_type = 'investment.updated'`, all, ko))
	require.Equal(t, 1, count(t, pool, `SELECT count(*) FROM webhooks.messages m JOIN webhooks.outbox o ON o.id = m.outbox_id
		WHERE m.webhook_id = $1 AND o.resource_id = $2 AND o.event_type = 'investment.updated'`, headcount, ko))
	require.Equal(t, 2, count(t, pool, `SELECT count(*) FROM webhooks.messages m JOIN webhooks.outbox o ON o.id = m.outbox_id
		WHERE m.webhook_id = $1 AND o.resource_id = $2 AND o.event_type = 'investment.updated'`, koLarge, ko))
	// A job per message, none for what was filtered out.
	require.Equal(t, count(t, pool, `SELECT count(*) FROM webhooks.messages`),
		count(t, pool, `SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver'`))
	// Every event was rendered and kept once, whether or not any filter let
	// it through; those without messages keep their image as captured.
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM webhooks.outbox o WHERE o.rendered <> EXISTS (SELECT 1 FROM webhooks.messages m WHERE m.outbox_id = o.id)`))
}
