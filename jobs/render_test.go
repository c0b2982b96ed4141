package jobs_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/jobs"
)

// Expansion renders each event in Go, once; what it stores must be what
// the SQL function webhooks.payload makes of the same row image, keys in the
// same order, whatever the session's time zone, for timestamps with and
// without time zone, infinity, text that only looks like a timestamp, and
// previous attributes.
func TestRenderedAtExpansionMatchesPayloadFunction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	dbtest.Webhook(t, pool, ws, owner, "https://example.com/h")
	exec(t, pool, `CREATE TABLE deals (id text PRIMARY KEY DEFAULT webhooks.gen_id(), workspace_id text NOT NULL, deal__stage text,
		closed_at timestamp, signed_at timestamptz, looks_like_time text, amounts numeric[], extra jsonb, _private boolean)`)
	exec(t, pool, `SELECT webhooks.track('public.deals', 'deal', ignore_columns => '{}')`)

	for _, zone := range []string{"UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Paris", "Africa/Monrovia"} {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "SELECT set_config('TimeZone', $1, true)", zone)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol, created_at) VALUES ($1, $2, 'Coca-Cola', 'KO', '2024-08-24 15:26:19.628987+00')`, ws, owner)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `INSERT INTO deals (workspace_id, deal__stage, closed_at, signed_at, looks_like_time, amounts, extra, _private)
			VALUES ($1, 'won', '2024-01-02 03:04:05.5', '1850-06-01 12:00:00+00', '2024-01-02T03:04:05Z', '{1.50,2}', '{"a": {"b": [1, null]}}', true),
			       ($1, NULL, 'infinity', '-infinity', NULL, NULL, NULL, NULL),
			       ($1, 'x', '2024-01-02 03:04:05', '2024-01-02 03:04:05.123456+00', '', '{}', 'null', false)`, ws)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	}
	exec(t, pool, `UPDATE investments SET name = 'Coca-Cola Co', created_at = '2020-01-01 00:00:00+00' WHERE workspace_id = $1`, ws)
	exec(t, pool, `UPDATE deals SET signed_at = now(), closed_at = NULL, deal__stage = 'lost'`)
	// Expansion renders the images into the outbox: the images as captured, kept
	// aside, are what webhooks.payload renders.
	exec(t, pool, `CREATE TABLE captured AS SELECT id, resource_type, payload, previous_attributes FROM webhooks.capture_queue`)

	startClient(t, pool, jobs.Config{ExpandOnly: true})
	waitExpanded(t, pool)
	require.Zero(t, count(t, pool, `SELECT count(*) FROM webhooks.outbox WHERE NOT rendered`), "every event matched, so every one is rendered")

	rows, err := pool.Query(ctx, `SELECT o.event_type, o.payload::text, webhooks.payload(c.resource_type, c.payload)::text,
			coalesce(o.previous_attributes::text, ''), coalesce(webhooks.payload(c.resource_type, c.previous_attributes)::text, ''),
			o.payload::jsonb = webhooks.payload(c.resource_type, c.payload)::jsonb,
			ARRAY(SELECT json_object_keys(o.payload)) = ARRAY(SELECT json_object_keys(webhooks.payload(c.resource_type, c.payload))),
			o.previous_attributes::jsonb IS NOT DISTINCT FROM webhooks.payload(c.resource_type, c.previous_attributes)::jsonb
		FROM webhooks.outbox o JOIN captured c ON c.id = o.id ORDER BY o.id`)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var typ, goPayload, sqlPayload, goPrevious, sqlPrevious string
		var samePayload, sameOrder, samePrevious bool
		require.NoError(t, rows.Scan(&typ, &goPayload, &sqlPayload, &goPrevious, &sqlPrevious, &samePayload, &sameOrder, &samePrevious))
		require.True(t, samePayload, "%s payload:\n go  %s\n sql %s", typ, goPayload, sqlPayload)
		require.True(t, sameOrder, "%s key order:\n go  %s\n sql %s", typ, goPayload, sqlPayload)
		require.True(t, samePrevious, "%s previous attributes:\n go  %s\n sql %s", typ, goPrevious, sqlPrevious)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 5*4+5+15, n, "every event checked")
	require.Contains(t, queryID(t, pool, `SELECT payload ->> 'createdAt' FROM webhooks.outbox WHERE event_type = 'investment.created' LIMIT 1`), "2024-08-24T15:26:19.628Z")
}

// JSON has no NaN or infinity: receivers get the strings PostgreSQL's
// row_to_json writes for them, in number and timestamp fields alike, as
// docs/capture.md says.
func TestRenderNonFiniteAsStrings(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	dbtest.Webhook(t, pool, ws, owner, "https://example.com/h")
	exec(t, pool, `CREATE TABLE readings (id text PRIMARY KEY DEFAULT webhooks.gen_id(), workspace_id text NOT NULL,
		amount numeric, ratio double precision, taken_at timestamptz, due date)`)
	exec(t, pool, `SELECT webhooks.track('public.readings', 'reading', ignore_columns => '{}')`)
	exec(t, pool, `INSERT INTO readings (id, workspace_id, amount, ratio, taken_at, due) VALUES
		('nan', $1, 'NaN', 'NaN', 'infinity', 'infinity'),
		('inf', $1, 'Infinity', 'Infinity', '-infinity', '-infinity'),
		('neg', $1, '-Infinity', '-Infinity', NULL, NULL),
		('fin', $1, 1.50, 0.25, '2024-01-02 03:04:05.678+00', '2024-01-02')`, ws)

	startClient(t, pool, jobs.Config{ExpandOnly: true})
	waitExpanded(t, pool)

	for id, want := range map[string]string{
		"nan": `{"id": "nan", "workspaceId": "` + ws + `", "amount": "NaN", "ratio": "NaN", "takenAt": "infinity", "due": "infinity"}`,
		"inf": `{"id": "inf", "workspaceId": "` + ws + `", "amount": "Infinity", "ratio": "Infinity", "takenAt": "-infinity", "due": "-infinity"}`,
		"neg": `{"id": "neg", "workspaceId": "` + ws + `", "amount": "-Infinity", "ratio": "-Infinity", "takenAt": null, "due": null}`,
		"fin": `{"id": "fin", "workspaceId": "` + ws + `", "amount": 1.50, "ratio": 0.25, "takenAt": "2024-01-02T03:04:05.678Z", "due": "2024-01-02"}`,
	} {
		got := queryID(t, pool, `SELECT payload::text FROM webhooks.outbox WHERE resource_id = $1 AND rendered`, id)
		require.JSONEq(t, want, got, id)
	}
}
