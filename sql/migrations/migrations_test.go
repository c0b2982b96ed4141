package migrations_test

import (
	"context"
	"io/fs"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/sql/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func tableCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'river\_%' AND table_name <> 'schema_migrations'`).Scan(&n))
	return n
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)

	version, dirty, err := migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.False(t, dirty)
	require.Equal(t, migrations.Latest(), version)
	require.Equal(t, 10, tableCount(t, pool), "the reference app's tables")

	// Up on a current database changes nothing.
	require.NoError(t, migrations.Up(ctx, pool))
	version, _, err = migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, migrations.Latest(), version)

	ups, err := fs.Glob(migrations.FS, "*.up.sql")
	require.NoError(t, err)
	require.NoError(t, migrations.Down(ctx, pool, len(ups)))
	version, _, err = migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.Zero(t, version)
	require.Zero(t, tableCount(t, pool), "down to zero leaves none of the project's tables")
	var riverTables int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'river_job'`).Scan(&riverTables))
	require.Equal(t, 1, riverTables, "River's tables are River's migrator's to remove")

	require.NoError(t, migrations.Up(ctx, pool))
	version, _, err = migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, migrations.Latest(), version)
	require.Equal(t, 10, tableCount(t, pool), "the reference app's tables")
}

func TestDownRefusesMoreStepsThanApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)

	err := migrations.Down(ctx, pool, int(migrations.Latest())+1)
	require.ErrorContains(t, err, "steps asked but only")
	require.ErrorContains(t, migrations.Down(ctx, pool, 0), "at least 1")

	version, _, err := migrations.Version(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, migrations.Latest(), version, "a refused down changes nothing")
}

func TestGeneratedIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)

	seen := map[string]bool{}
	for range 100 {
		var id string
		require.NoError(t, tx.QueryRow(ctx, `INSERT INTO workspaces (name) VALUES ('w') RETURNING id`).Scan(&id))
		require.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9_-]{24}$`), id)
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestResourceDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)

	workspaceID := dbtest.Workspace(t, tx, "w")
	userID := dbtest.User(t, tx)

	for _, table := range []string{"investments", "pipelines"} {
		var visibility string
		var teamID *string
		require.NoError(t, tx.QueryRow(ctx, `INSERT INTO `+table+` (workspace_id, created_by, name) VALUES ($1, $2, 'n') RETURNING visibility, team_id`,
			workspaceID, userID).Scan(&visibility, &teamID), table)
		require.Equal(t, "Workspace", visibility, table)
		require.Nil(t, teamID, table)
	}

	_, err := tx.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name, visibility) VALUES ($1, $2, 'n', 'Everyone')`, workspaceID, userID)
	require.ErrorContains(t, err, "investments_visibility_check")
}

// TestHistoryMigrationKeepsData: 000013 partitions an installation's logs
// with their rows: events expanded and not, messages in every state with
// their attempts; 000014 moves the events not yet expanded into the capture
// queue. What the views and a delivery read is what they read before, the
// roll-ups count the attempts, ids go on, and down brings it all back.
func TestHistoryMigrationKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	// To 000012, before the history's migrations.
	require.NoError(t, migrations.Down(ctx, pool, int(migrations.Latest())-12))
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err, sql)
	}
	exec(`INSERT INTO workspaces (id, name) VALUES ('ws', 'Acme')`)
	exec(`INSERT INTO users (id, email) VALUES ('u', 'u@example.com')`)
	exec(`INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ('ws', 'u', 'owner')`)
	exec(`INSERT INTO webhooks.webhooks (id, workspace_id, created_by, name, url, event_types) VALUES ('wh', 'ws', 'u', 'CRM', 'https://example.com/h', '{*}')`)
	// Four events: three expanded (one rendered at expansion), one not.
	exec(`INSERT INTO pipelines (workspace_id, created_by, name) SELECT 'ws', 'u', 'p' || n FROM generate_series(1, 4) n`)
	exec(`UPDATE webhooks.outbox SET captured_at = now() - (5 - id) * interval '1 day'`)
	exec(`UPDATE webhooks.outbox SET expanded_at = now(), event_id = 'ev' || id WHERE id < 4`)
	exec(`UPDATE webhooks.outbox SET receiver_payload = webhooks.payload(resource_type, payload) WHERE id = 1`)
	exec(`INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, state, attempts) VALUES
		('msg_000000000000000000000000001', 1, 'wh', 'ws', 'pipeline.created', 'succeeded', 2),
		('msg_000000000000000000000000002', 2, 'wh', 'ws', 'pipeline.created', 'retrying', 1),
		('msg_000000000000000000000000003', 3, 'wh', 'ws', 'pipeline.created', 'pending', 0)`)
	exec(`INSERT INTO webhooks.delivery_attempts (message_id, event_id, webhook_id, workspace_id, event_type, attempt, url, started_at, duration_ms, succeeded, status_code, triggered_by) VALUES
		('msg_000000000000000000000000001', 'ev1', 'wh', 'ws', 'pipeline.created', 1, 'https://example.com/h', now() - interval '3 hours', 5, false, 500, 'schedule'),
		('msg_000000000000000000000000001', 'ev1', 'wh', 'ws', 'pipeline.created', 2, 'https://example.com/h', now() - interval '2 hours', 5, true, 200, 'manual_retry'),
		('msg_000000000000000000000000002', 'ev2', 'wh', 'ws', 'pipeline.created', 1, 'https://example.com/h', now() - interval '30 minutes', 5, false, 503, 'schedule')`)

	// What the views, the tables and a receiver see; received is how the
	// payload a receiver gets is read, which the migration changes.
	snapshot := func(events, received string) map[string]string {
		t.Helper()
		out := map[string]string{}
		for name, sql := range map[string]string{
			"outbox":       `SELECT string_agg(format('%s %s %s %s %s', id, event_id, captured_at, expanded_at, resource_id), ';' ORDER BY id) FROM ` + events,
			"messages":     `SELECT string_agg(format('%s %s %s %s', id, outbox_id, state, attempts), ';' ORDER BY id) FROM webhooks.messages`,
			"attempts":     `SELECT string_agg(format('%s %s %s %s %s %s', id, message_id, attempt, started_at, succeeded, triggered_by), ';' ORDER BY id) FROM webhooks.delivery_attempts`,
			"delivery_log": `SELECT string_agg(format('%s', l), ';' ORDER BY attempt_id) FROM webhooks.delivery_log l`,
			"message_status": `SELECT string_agg(format('%s %s %s %s %s %s %s %s %s %s %s %s %s', message_id, event_id, event_type, webhook_id, webhook_name,
				workspace_id, state, attempts, last_status_code, last_error, created_at, updated_at, next_attempt_at), ';' ORDER BY message_id) FROM webhooks.message_status s`,
			"endpoint_health": `SELECT string_agg(format('%s', h), ';') FROM webhooks.endpoint_health h`,
			"backlog":         `SELECT format('%s %s', unexpanded, oldest_captured_at) FROM webhooks.outbox_backlog`,
			"received":        `SELECT string_agg((` + received + `)::text, ';' ORDER BY id) FROM ` + events,
		} {
			var v *string
			require.NoError(t, pool.QueryRow(ctx, sql).Scan(&v), name)
			require.NotNil(t, v, name)
			out[name] = *v
		}
		return out
	}
	before := snapshot(`webhooks.outbox`, `coalesce(receiver_payload, webhooks.payload(resource_type, payload))`)

	require.NoError(t, migrations.Up(ctx, pool))
	count := func(sql string) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, sql).Scan(&n), sql)
		return n
	}
	// The event not yet expanded is in the queue, as captured.
	events := `(SELECT id, event_id, captured_at, expanded_at, resource_id, resource_type, payload, rendered FROM webhooks.outbox
		UNION ALL SELECT id, NULL, captured_at, NULL, resource_id, resource_type, payload, false FROM webhooks.capture_queue) e`
	require.Equal(t, before, snapshot(events, `CASE WHEN rendered THEN payload ELSE webhooks.payload(resource_type, payload) END`))
	require.Equal(t, 4, count(`SELECT id FROM webhooks.capture_queue`))
	// Each row sits in the slice of its event's capture, beside its event.
	require.Equal(t, 3, count(`SELECT count(DISTINCT tableoid) FROM webhooks.outbox`))
	require.Zero(t, count(`SELECT count(*) FROM webhooks.messages m JOIN webhooks.outbox o ON o.id = m.outbox_id
		WHERE m.captured_at <> o.captured_at OR replace(m.tableoid::regclass::text, 'messages', 'outbox') <> o.tableoid::regclass::text`))
	require.Zero(t, count(`SELECT count(*) FROM webhooks.delivery_attempts a JOIN webhooks.messages m ON m.id = a.message_id
		WHERE a.captured_at <> m.captured_at`))
	require.Equal(t, 1, count(`SELECT count(*) FROM webhooks.outbox WHERE rendered`))
	// The roll-ups count the attempts.
	require.Equal(t, 3, count(`SELECT sum(attempts) FROM webhooks.webhook_stats`))
	require.Equal(t, 1, count(`SELECT sum(succeeded) FROM webhooks.webhook_stats`))
	require.Equal(t, 1, count(`SELECT failures_since_success FROM webhooks.webhook_health WHERE webhook_id = 'wh'`))
	// The state index holds the retrying message, not the pending one.
	require.Equal(t, 1, count(`SELECT count(*) FROM webhooks.messages WHERE open_state = 'retrying'`))
	require.Equal(t, 1, count(`SELECT count(*) FROM webhooks.messages WHERE open_state IS NOT NULL`))
	// Ids go on; the app's next write is captured, into the queue.
	exec(`INSERT INTO pipelines (workspace_id, created_by, name) VALUES ('ws', 'u', 'after')`)
	require.Equal(t, 5, count(`SELECT max(id) FROM webhooks.capture_queue`))

	// Down to 000013: the queue's events are back in the outbox, unexpanded.
	require.NoError(t, migrations.Down(ctx, pool, int(migrations.Latest())-13))
	require.Equal(t, 5, count(`SELECT count(*) FROM webhooks.outbox`))
	require.Equal(t, 2, count(`SELECT count(*) FROM webhooks.outbox WHERE expanded_at IS NULL`))
	exec(`INSERT INTO pipelines (workspace_id, created_by, name) VALUES ('ws', 'u', 'at 13')`)
	require.Equal(t, 6, count(`SELECT max(id) FROM webhooks.outbox`))
	require.NoError(t, migrations.Down(ctx, pool, 1))
	require.Equal(t, 6, count(`SELECT count(*) FROM webhooks.outbox`))
	require.Equal(t, 3, count(`SELECT count(*) FROM webhooks.messages`))
	require.Equal(t, 3, count(`SELECT count(*) FROM webhooks.delivery_attempts`))
	exec(`INSERT INTO pipelines (workspace_id, created_by, name) VALUES ('ws', 'u', 'after down')`)
	require.Equal(t, 7, count(`SELECT max(id) FROM webhooks.outbox`))
	require.NoError(t, migrations.Up(ctx, pool))
	require.Equal(t, 3, count(`SELECT count(*) FROM webhooks.outbox`))
	require.Equal(t, 4, count(`SELECT count(*) FROM webhooks.capture_queue`))
}

// open_state is set by the statements that set state; the check holds
// them to it in every partition, those made after the migration too.
func TestOpenStateHeldByCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := dbtest.NewTx(t)
	_, err := tx.Exec(ctx, `SELECT webhooks.add_partition(date_trunc('day', now()) + interval '30 days', date_trunc('day', now()) + interval '31 days')`)
	require.NoError(t, err)
	for _, at := range []string{"now()", "date_trunc('day', now()) + interval '30 days 1 hour'"} {
		insert := func(state, open string) error {
			_, err := tx.Exec(ctx, `SAVEPOINT s`)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, `INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, state, open_state, captured_at)
				VALUES ('msg_' || substr(md5(random()::text), 1, 27), 1, 'wh', 'ws', 'pipeline.created', $1, nullif($2, ''), `+at+`)`, state, open)
			if err != nil {
				_, rerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`)
				require.NoError(t, rerr)
			}
			return err
		}
		require.NoError(t, insert("retrying", "retrying"), at)
		require.NoError(t, insert("succeeded", ""), at)
		require.ErrorContains(t, insert("failed", ""), "messages_open_state_check", at)
		require.ErrorContains(t, insert("pending", "failed"), "messages_open_state_check", at)
	}
}
