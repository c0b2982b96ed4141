package migrations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/dbtest"
)

// event is an outbox row as a receiver would get it.
type event struct {
	Type, ResourceID, WorkspaceID string
	CreatedBy, Visibility, TeamID *string
	Actor                         *string
	Payload, Previous             map[string]any
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func events(t *testing.T, q querier) []event {
	t.Helper()
	rows, err := q.Query(context.Background(), `
		SELECT event_type, resource_id, workspace_id, payload ->> 'created_by', payload ->> 'visibility', payload ->> 'team_id', actor,
			webhooks.payload(resource_type, payload), webhooks.payload(resource_type, previous_attributes::json)
		FROM webhooks.capture_queue ORDER BY id`)
	require.NoError(t, err)
	var out []event
	for rows.Next() {
		var e event
		var payload, previous []byte
		require.NoError(t, rows.Scan(&e.Type, &e.ResourceID, &e.WorkspaceID, &e.CreatedBy, &e.Visibility, &e.TeamID, &e.Actor, &payload, &previous))
		require.NoError(t, json.Unmarshal(payload, &e.Payload))
		if previous != nil {
			require.NoError(t, json.Unmarshal(previous, &e.Previous))
		}
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

func outboxCount(t *testing.T, q querier) int {
	t.Helper()
	var n int
	require.NoError(t, q.QueryRow(context.Background(), `SELECT count(*) FROM webhooks.capture_queue`).Scan(&n))
	return n
}

// world is a workspace with a user and a team, and one resource of each type.
type world struct {
	workspaceID, userID, teamID string
	ids                         map[string]string // resource type → id
}

func insertID(t *testing.T, q querier, sql string, args ...any) string {
	t.Helper()
	var id string
	require.NoError(t, q.QueryRow(context.Background(), sql, args...).Scan(&id), sql)
	return id
}

func newWorld(t *testing.T, q querier) world {
	t.Helper()
	w := world{ids: map[string]string{}}
	w.workspaceID = dbtest.Workspace(t, q, "Acme")
	w.userID = dbtest.User(t, q)
	w.teamID = insertID(t, q, `INSERT INTO teams (workspace_id, name) VALUES ($1, 'Deals') RETURNING id`, w.workspaceID)
	return w
}

// resources inserts one of each resource type, in dependency order, and
// returns the types in that order.
func (w *world) insertAll(t *testing.T, q querier) []string {
	t.Helper()
	scope := `workspace_id, created_by, visibility, team_id`
	args := []any{w.workspaceID, w.userID, "Team", w.teamID}
	w.ids["team"] = insertID(t, q, `INSERT INTO teams (workspace_id, name) VALUES ($1, 'Research') RETURNING id`, w.workspaceID)
	w.ids["investment"] = insertID(t, q, `INSERT INTO investments (`+scope+`, name) VALUES ($1, $2, $3, $4, 'Coca-Cola Co') RETURNING id`, args...)
	w.ids["valuation"] = insertID(t, q, `INSERT INTO valuations (`+scope+`, investment_id, name, value) VALUES ($1, $2, $3, $4, $5, 'DCF', 61.5) RETURNING id`, append(args, w.ids["investment"])...)
	w.ids["memo"] = insertID(t, q, `INSERT INTO memos (`+scope+`, investment_id, title) VALUES ($1, $2, $3, $4, $5, 'Thesis') RETURNING id`, append(args, w.ids["investment"])...)
	w.ids["assumption"] = insertID(t, q, `INSERT INTO assumptions (`+scope+`, valuation_id, name, value) VALUES ($1, $2, $3, $4, $5, 'growth', 0.04) RETURNING id`, append(args, w.ids["valuation"])...)
	w.ids["pipeline"] = insertID(t, q, `INSERT INTO pipelines (`+scope+`, name) VALUES ($1, $2, $3, $4, 'Sourcing') RETURNING id`, args...)
	return []string{"team", "investment", "valuation", "memo", "assumption", "pipeline"}
}

var tables = map[string]string{
	"investment": "investments", "valuation": "valuations", "memo": "memos",
	"team": "teams", "assumption": "assumptions", "pipeline": "pipelines",
}

// nameColumn is the column each test update changes; its payload key is the same.
var nameColumn = map[string]string{
	"investment": "name", "valuation": "name", "memo": "title",
	"team": "name", "assumption": "name", "pipeline": "name",
}

func TestCaptureAllEventTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)
	w := newWorld(t, tx)
	_, err := tx.Exec(ctx, `DELETE FROM webhooks.capture_queue`) // the world's own team
	require.NoError(t, err)

	types := w.insertAll(t, tx)
	for _, typ := range types {
		_, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = 'renamed' WHERE id = $1`, tables[typ], nameColumn[typ]), w.ids[typ])
		require.NoError(t, err)
	}
	// Children first, so no cascade deletes them before their own statement.
	for i := len(types) - 1; i >= 0; i-- {
		typ := types[i]
		_, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id = $1`, tables[typ]), w.ids[typ])
		require.NoError(t, err)
	}

	got := events(t, tx)
	require.Len(t, got, 18)
	seen := map[string]bool{}
	for i, e := range got {
		seen[e.Type] = true
		typ, op, ok := strings.Cut(e.Type, ".")
		require.True(t, ok, e.Type)
		require.Equal(t, w.ids[typ], e.ResourceID, e.Type)
		require.Equal(t, w.ids[typ], e.Payload["id"], e.Type)
		require.Equal(t, w.workspaceID, e.WorkspaceID, e.Type)
		require.Equal(t, w.workspaceID, e.Payload["workspaceId"], e.Type)
		if typ == "team" {
			require.Nil(t, e.CreatedBy)
			require.Nil(t, e.Visibility)
		} else {
			require.Equal(t, w.userID, *e.CreatedBy, e.Type)
			require.Equal(t, "Team", *e.Visibility, e.Type)
			require.Equal(t, w.teamID, *e.TeamID, e.Type)
		}
		switch op {
		case "created":
			require.Less(t, i, 6)
			require.Nil(t, e.Previous)
		case "updated":
			require.Equal(t, "renamed", e.Payload[nameColumn[typ]], e.Type)
			require.Len(t, e.Previous, 1, e.Type)
			require.NotEqual(t, "renamed", e.Previous[nameColumn[typ]], e.Type)
		case "deleted":
			require.Equal(t, "renamed", e.Payload[nameColumn[typ]], "deleted carries the old row: %s", e.Type)
			require.Nil(t, e.Previous)
		}
	}
	for typ := range tables {
		for _, op := range []string{"created", "updated", "deleted"} {
			require.True(t, seen[typ+"."+op], typ+"."+op)
		}
	}
}

func TestCaptureUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	setup := func(t *testing.T) (pgx.Tx, world, string) {
		tx := dbtest.NewTx(t)
		w := newWorld(t, tx)
		id := insertID(t, tx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol, employees, tags)
			VALUES ($1, $2, 'Coca Cola', 'KO', 82500, '{Beverages}') RETURNING id`, w.workspaceID, w.userID)
		_, err := tx.Exec(ctx, `DELETE FROM webhooks.capture_queue`)
		require.NoError(t, err)
		return tx, w, id
	}

	t.Run("SameValuesIsNoEvent", func(t *testing.T) {
		t.Parallel()
		tx, _, id := setup(t)
		_, err := tx.Exec(ctx, `UPDATE investments SET name = 'Coca Cola', employees = 82500, tags = '{Beverages}' WHERE id = $1`, id)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `UPDATE investments SET name = name WHERE id = $1`, id)
		require.NoError(t, err)
		require.Zero(t, outboxCount(t, tx))
	})

	t.Run("IgnoredColumnAloneIsNoEvent", func(t *testing.T) {
		t.Parallel()
		tx, _, id := setup(t)
		_, err := tx.Exec(ctx, `UPDATE investments SET updated_at = now() + interval '1 minute' WHERE id = $1`, id)
		require.NoError(t, err)
		require.Zero(t, outboxCount(t, tx))
	})

	t.Run("OneColumnOldValueAlone", func(t *testing.T) {
		t.Parallel()
		tx, _, id := setup(t)
		_, err := tx.Exec(ctx, `UPDATE investments SET name = 'Coca-Cola Co', updated_at = now() + interval '1 minute' WHERE id = $1`, id)
		require.NoError(t, err)
		got := events(t, tx)
		require.Len(t, got, 1)
		require.Equal(t, "investment.updated", got[0].Type)
		require.Equal(t, map[string]any{"name": "Coca Cola"}, got[0].Previous)
		require.Equal(t, "Coca-Cola Co", got[0].Payload["name"])
	})

	t.Run("SeveralColumnsKeepTheirTypes", func(t *testing.T) {
		t.Parallel()
		tx, _, id := setup(t)
		_, err := tx.Exec(ctx, `UPDATE investments SET employees = 90000, tags = '{Beverages,Snacks}', ticker_symbol = NULL WHERE id = $1`, id)
		require.NoError(t, err)
		got := events(t, tx)
		require.Len(t, got, 1)
		require.Equal(t, map[string]any{"employees": float64(82500), "tags": []any{"Beverages"}, "tickerSymbol": "KO"}, got[0].Previous)
	})

	t.Run("KeyChangeIsDeleteAndCreate", func(t *testing.T) {
		t.Parallel()
		tx, _, id := setup(t)
		_, err := tx.Exec(ctx, `UPDATE investments SET id = 'renamed-key-000000000000' WHERE id = $1`, id)
		require.NoError(t, err)
		got := events(t, tx)
		require.Len(t, got, 2)
		byType := map[string]event{got[0].Type: got[0], got[1].Type: got[1]}
		require.Equal(t, id, byType["investment.deleted"].ResourceID)
		require.Equal(t, "renamed-key-000000000000", byType["investment.created"].ResourceID)
		require.Equal(t, "Coca Cola", byType["investment.created"].Payload["name"])
	})

	t.Run("BulkUpdateOnlyChangedRows", func(t *testing.T) {
		t.Parallel()
		tx, w, id := setup(t)
		other := insertID(t, tx, `INSERT INTO investments (workspace_id, created_by, name) VALUES ($1, $2, 'Pepsi') RETURNING id`, w.workspaceID, w.userID)
		_, err := tx.Exec(ctx, `DELETE FROM webhooks.capture_queue`)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `UPDATE investments SET name = 'Pepsi' WHERE id IN ($1, $2)`, id, other)
		require.NoError(t, err)
		got := events(t, tx)
		require.Len(t, got, 1)
		require.Equal(t, id, got[0].ResourceID)
	})
}

func TestCaptureTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("RolledBack", func(t *testing.T) {
		t.Parallel()
		pool := dbtest.NewPool(t)
		w := newWorld(t, pool)
		before := outboxCount(t, pool)
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		w.insertAll(t, tx)
		require.Equal(t, before+6, outboxCount(t, tx), "the transaction sees its own events")
		require.NoError(t, tx.Rollback(ctx))
		require.Equal(t, before, outboxCount(t, pool))
	})

	t.Run("RolledBackSavepoint", func(t *testing.T) {
		t.Parallel()
		tx := dbtest.NewTx(t)
		w := newWorld(t, tx)
		_, err := tx.Exec(ctx, `DELETE FROM webhooks.capture_queue`)
		require.NoError(t, err)
		kept := insertID(t, tx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'kept') RETURNING id`, w.workspaceID, w.userID)
		sp, err := tx.Begin(ctx)
		require.NoError(t, err)
		insertID(t, sp, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'gone') RETURNING id`, w.workspaceID, w.userID)
		_, err = sp.Exec(ctx, `UPDATE pipelines SET name = 'kept?' WHERE id = $1`, kept)
		require.NoError(t, err)
		require.NoError(t, sp.Rollback(ctx))
		got := events(t, tx)
		require.Len(t, got, 1)
		require.Equal(t, kept, got[0].ResourceID)
		require.Equal(t, "pipeline.created", got[0].Type)
	})

	t.Run("SeveralTablesOneNotify", func(t *testing.T) {
		t.Parallel()
		pool := dbtest.NewPool(t)
		w := newWorld(t, pool)
		listener, err := pool.Acquire(ctx)
		require.NoError(t, err)
		defer listener.Release()
		_, err = listener.Exec(ctx, `LISTEN webhooks_outbox`)
		require.NoError(t, err)
		before := outboxCount(t, pool)

		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		types := w.insertAll(t, tx)
		_, err = tx.Exec(ctx, `UPDATE investments SET name = 'x' WHERE id = $1`, w.ids["investment"])
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))

		got := events(t, pool)[before:]
		require.Len(t, got, len(types)+1)
		for i, typ := range types {
			require.Equal(t, typ+".created", got[i].Type)
		}

		waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := listener.Conn().WaitForNotification(waitCtx)
		require.NoError(t, err)
		require.Equal(t, "webhooks_outbox", n.Channel)
		// Notifications of one commit arrive together; a second would already be here.
		shortCtx, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel2()
		_, err = listener.Conn().WaitForNotification(shortCtx)
		require.ErrorIs(t, err, context.DeadlineExceeded, "one NOTIFY per transaction")
	})
}

func TestCaptureActor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)
	w := newWorld(t, tx)
	_, err := tx.Exec(ctx, `DELETE FROM webhooks.capture_queue`)
	require.NoError(t, err)
	insertID(t, tx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'anonymous') RETURNING id`, w.workspaceID, w.userID)
	_, err = tx.Exec(ctx, `SELECT set_config('webhooks.actor', $1, true)`, w.userID)
	require.NoError(t, err)
	insertID(t, tx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'attributed') RETURNING id`, w.workspaceID, w.userID)
	got := events(t, tx)
	require.Len(t, got, 2)
	require.Nil(t, got[0].Actor)
	require.Equal(t, w.userID, *got[1].Actor)
}

func TestCaptureBulk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 10_000
	tx := dbtest.NewTx(t)
	w := newWorld(t, tx)
	_, err := tx.Exec(ctx, `DELETE FROM webhooks.capture_queue`)
	require.NoError(t, err)

	countOf := func(eventType string) int {
		var c int
		require.NoError(t, tx.QueryRow(ctx, `SELECT count(DISTINCT resource_id) FROM webhooks.capture_queue WHERE event_type = $1`, eventType).Scan(&c))
		return c
	}

	tag, err := tx.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name) SELECT $1, $2, 'inv ' || i FROM generate_series(1, $3::int) i`, w.workspaceID, w.userID, n)
	require.NoError(t, err)
	require.EqualValues(t, n, tag.RowsAffected())
	require.Equal(t, n, countOf("investment.created"))

	// One-row updates first, on this connection: PL/pgSQL caches a plan for
	// the trigger after a few, and that plan must still suit 10,000 rows.
	for i := range 7 {
		_, err = tx.Exec(ctx, `UPDATE investments SET employees = $1 WHERE id = (SELECT min(id) FROM investments)`, 100+i)
		require.NoError(t, err)
	}
	_, err = tx.Exec(ctx, `DELETE FROM webhooks.capture_queue WHERE event_type = 'investment.updated'`)
	require.NoError(t, err)
	tag, err = tx.Exec(ctx, `UPDATE investments SET employees = 1`)
	require.NoError(t, err)
	require.EqualValues(t, n, tag.RowsAffected())
	require.Equal(t, n, countOf("investment.updated"))

	tag, err = tx.Exec(ctx, `DELETE FROM investments`)
	require.NoError(t, err)
	require.EqualValues(t, n, tag.RowsAffected())
	require.Equal(t, n, countOf("investment.deleted"))
	require.Equal(t, 3*n, outboxCount(t, tx))

}

func TestCaptureTruncateRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)
	w := newWorld(t, tx)
	insertID(t, tx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p') RETURNING id`, w.workspaceID, w.userID)
	_, err := tx.Exec(ctx, `TRUNCATE pipelines`)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "0A000", pgErr.Code)
	require.Contains(t, pgErr.Message, "TRUNCATE of pipelines is refused")
	require.Contains(t, pgErr.Hint, "DISABLE TRIGGER webhooks_refuse_truncate")
}

// The spec's payload example, written as an app would write it, reaches a
// receiver key for key and type for type.
func TestCapturePayloadShape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)
	w := newWorld(t, tx)
	// The session's zone must not leak into timestamps.
	_, err := tx.Exec(ctx, `SET LOCAL TimeZone = 'America/Chicago'`)
	require.NoError(t, err)
	id := insertID(t, tx, `INSERT INTO investments (workspace_id, created_by, ticker_symbol, name, description, address, country,
			cik, lei, figi, founding_date, ipo_date, headquarters, ceo, employees, exchange, industry, sector, issuance, website,
			tags, created_at, updated_at, edited_name, financing_type, market_type, type, visibility, clearbit)
		VALUES ($1, $2, 'KO', 'Coca-Cola Co', 'The Coca-Cola Company', '1 Coca Cola Plz NW', 'US',
			'0000021344', 'UWJKFUJFZ02DKWI3RY53', 'BBG000BMX4N8', '1892', '1919', 'Atlanta, GA', 'James Quincey', 82500, 'NYSE',
			'Beverages', 'Manufacturing', 'cs', 'https://www.coca-colacompany.com',
			'{"Consumer Non-Durables","Beverages: Non-Alcoholic"}', '2024-08-24 10:26:19.628123-05', '2024-08-24T15:26:19.628Z',
			'Coca-Cola Co', 'Equity', 'Public', 'Personal', 'Private', '{"domain": "coca-colacompany.com", "logo": null, "metrics": {"employees": 82500}}')
		RETURNING id`, w.workspaceID, w.userID)

	// As a receiver gets it: webhooks.payload renders what capture queued.
	var payload, previous []byte
	var eventType string
	var capturedAt time.Time
	require.NoError(t, tx.QueryRow(ctx, `SELECT webhooks.payload(resource_type, payload)::jsonb, previous_attributes, event_type, captured_at
		FROM webhooks.capture_queue WHERE resource_id = $1`, id).Scan(&payload, &previous, &eventType, &capturedAt))

	want := `{
		"id": "` + id + `", "tickerSymbol": "KO", "name": "Coca-Cola Co", "description": "The Coca-Cola Company",
		"address": "1 Coca Cola Plz NW", "country": "US", "cik": "0000021344", "lei": "UWJKFUJFZ02DKWI3RY53",
		"figi": "BBG000BMX4N8", "foundingDate": "1892", "ipoDate": "1919", "headquarters": "Atlanta, GA",
		"ceo": "James Quincey", "employees": 82500, "exchange": "NYSE", "industry": "Beverages", "sector": "Manufacturing",
		"issuance": "cs", "website": "https://www.coca-colacompany.com",
		"tags": ["Consumer Non-Durables", "Beverages: Non-Alcoholic"],
		"createdAt": "2024-08-24T15:26:19.628Z", "updatedAt": "2024-08-24T15:26:19.628Z",
		"editedName": "Coca-Cola Co", "financingType": "Equity", "marketType": "Public", "type": "Personal",
		"visibility": "Private", "isFavorite": false, "isLocked": false, "isArchived": false, "bannerImage": null,
		"clearbit": {"domain": "coca-colacompany.com", "logo": null, "metrics": {"employees": 82500}},
		"workspaceId": "` + w.workspaceID + `", "createdBy": "` + w.userID + `", "teamId": null
	}`
	require.JSONEq(t, want, string(payload))
	require.Nil(t, previous)
	require.Equal(t, "investment.created", eventType)
	require.WithinDuration(t, time.Now(), capturedAt, time.Minute)
}

func TestTrackNewTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)
	w := newWorld(t, tx)
	_, err := tx.Exec(ctx, `
		CREATE TABLE deals (
			deal_id text PRIMARY KEY DEFAULT gen_id(),
			workspace_id text NOT NULL,
			amount_cents bigint,
			api_token text,
			closes_at timestamptz,
			closed_on date,
			notes_updated_at timestamp,
			touched_at timestamptz
		)`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT webhooks.track('deals', 'deal', exclude_columns => '{api_token}', ignore_columns => '{touched_at}')`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `DELETE FROM webhooks.capture_queue`)
	require.NoError(t, err)

	id := insertID(t, tx, `INSERT INTO deals (workspace_id, amount_cents, api_token, closes_at, closed_on, notes_updated_at)
		VALUES ($1, 125000, 'secret', '2025-01-02 03:04:05.6789+00', '2025-01-02', '2025-01-02 03:04:05') RETURNING deal_id`, w.workspaceID)
	_, err = tx.Exec(ctx, `UPDATE deals SET api_token = 'rotated', touched_at = now()`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE deals SET amount_cents = 130000, api_token = 'again'`)
	require.NoError(t, err)

	got := events(t, tx)
	require.Len(t, got, 2, "a change of excluded or ignored columns alone is no event")
	require.Equal(t, "deal.created", got[0].Type)
	require.Equal(t, id, got[0].ResourceID)
	require.Equal(t, map[string]any{
		"dealId": id, "workspaceId": w.workspaceID, "amountCents": float64(125000),
		"closesAt": "2025-01-02T03:04:05.678Z", "closedOn": "2025-01-02", "notesUpdatedAt": "2025-01-02T03:04:05.000Z",
		"touchedAt": nil,
	}, got[0].Payload)
	require.Equal(t, "deal.updated", got[1].Type)
	require.Equal(t, map[string]any{"amountCents": float64(125000)}, got[1].Previous)
	require.NotContains(t, got[1].Payload, "apiToken")

	tracked, err := db.New().TrackedTableList(ctx, tx)
	require.NoError(t, err)
	require.Len(t, tracked, 7)
	require.Equal(t, "deal", tracked[1].ResourceType)
	require.Equal(t, "deal_id", tracked[1].KeyColumn)

	_, err = tx.Exec(ctx, `SELECT webhooks.untrack('deals')`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO deals (workspace_id) VALUES ($1)`, w.workspaceID)
	require.NoError(t, err)
	require.Len(t, events(t, tx), 2, "untracked tables are not captured")
}

func TestTrackRejectsBadTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		name, ddl, track, want string
	}{
		{"NoPrimaryKey", `CREATE TABLE t (id text, workspace_id text)`, `SELECT webhooks.track('t', 'thing')`, "t needs a single-column primary key"},
		{"CompositeKey", `CREATE TABLE t (a text, b text, workspace_id text, PRIMARY KEY (a, b))`, `SELECT webhooks.track('t', 'thing')`, "single-column primary key"},
		{"NoWorkspace", `CREATE TABLE t (id text PRIMARY KEY)`, `SELECT webhooks.track('t', 'thing', ignore_columns => '{}')`, "t has no column workspace_id"},
		{"UnknownExcluded", `CREATE TABLE t (id text PRIMARY KEY, workspace_id text, updated_at timestamptz)`, `SELECT webhooks.track('t', 'thing', '{passwrd}')`, "t has no column passwrd"},
		{"BadResourceType", `CREATE TABLE t (id text PRIMARY KEY, workspace_id text, updated_at timestamptz)`, `SELECT webhooks.track('t', 'Thing.Type')`, `resource type 'Thing.Type' must be lower case`},
		{"TakenResourceType", `CREATE TABLE t (id text PRIMARY KEY, workspace_id text, updated_at timestamptz)`, `SELECT webhooks.track('t', 'investment')`, "tracked_tables_resource_type_key"},
		{"NoSuchTable", ``, `SELECT webhooks.track('nope', 'thing')`, `relation "nope" does not exist`},
		{"ExcludedScope", `CREATE TABLE t (id text PRIMARY KEY, workspace_id text, visibility text, updated_at timestamptz)`, `SELECT webhooks.track('t', 'thing', '{visibility}')`, "visibility cannot be excluded"},
		{"ExcludedKey", `CREATE TABLE t (id text PRIMARY KEY, workspace_id text, updated_at timestamptz)`, `SELECT webhooks.track('t', 'thing', '{id}')`, "id cannot be excluded"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tx := dbtest.NewTx(t)
			if tt.ddl != "" {
				_, err := tx.Exec(ctx, tt.ddl)
				require.NoError(t, err)
			}
			_, err := tx.Exec(ctx, tt.track)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// A host table may have columns named like anything: capture's own
// variables cannot clash with them.
func TestTrackTableWithClashingColumns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)
	w := newWorld(t, tx)
	_, err := tx.Exec(ctx, `CREATE TABLE notes (id text PRIMARY KEY DEFAULT gen_id(), workspace_id text NOT NULL,
		resource_type text, actor text, excluded text, ignored text, fast boolean, captured int, key_column text)`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT webhooks.track('notes', 'note', ignore_columns => '{}'); DELETE FROM webhooks.capture_queue`)
	require.NoError(t, err)
	id := insertID(t, tx, `INSERT INTO notes (workspace_id, actor, resource_type) VALUES ($1, 'someone', 'x') RETURNING id`, w.workspaceID)
	_, err = tx.Exec(ctx, `UPDATE notes SET actor = 'else' WHERE id = $1`, id)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `DELETE FROM notes WHERE id = $1`, id)
	require.NoError(t, err)
	got := events(t, tx)
	require.Len(t, got, 3)
	require.Equal(t, "note.updated", got[1].Type)
	require.Equal(t, map[string]any{"actor": "someone"}, got[1].Previous)
	require.Nil(t, got[1].Actor, "outbox.actor is webhooks.actor, not the row's column")
}
