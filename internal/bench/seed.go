package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/countercyclical/webhooks/internal/auth"
	"github.com/countercyclical/webhooks/internal/pgurl"
)

// seed makes the workspace, its owner (who may read every event) and the
// saturation phase's webhooks.
func (b *run) seed(ctx context.Context) error {
	if err := b.pool.QueryRow(ctx, `INSERT INTO workspaces (name) VALUES ('bench') RETURNING id`).Scan(&b.workspaceID); err != nil {
		return fmt.Errorf("error seeding: %w", err)
	}
	if err := b.pool.QueryRow(ctx, `INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id`).Scan(&b.userID); err != nil {
		return fmt.Errorf("error seeding: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO workspace_members VALUES ($1, $2, 'owner')`, b.workspaceID, b.userID); err != nil {
		return fmt.Errorf("error seeding: %w", err)
	}
	for i := range b.o.Webhooks {
		if _, err := b.addWebhook(ctx, "saturation", i, "*"); err != nil {
			return err
		}
	}
	// The server may run without autovacuum: without statistics the
	// planner guesses at the small tables expansion joins.
	return b.gatherStatistics(ctx, "ANALYZE")
}

// gatherStatistics runs command (ANALYZE, or VACUUM ANALYZE) on every table
// but the empty partitions of the logs, made ahead. A partition analyzed
// or vacuumed while empty is planned as empty: PostgreSQL trusts the zero
// it measured, where it assumes ten pages of a table never measured, and
// the plans the pipeline keeps (the loader's, record_attempts') are made
// for an empty partition until autovacuum measures it again: in the soak,
// p99 of 160 to 590 ms for the first five minutes, the partitions this
// measured at its start.
func (b *run) gatherStatistics(ctx context.Context, command string) error {
	rows, err := b.pool.Query(ctx, `SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND NOT (c.relispartition AND pg_relation_size(c.oid) = 0)
		ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("error listing tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("error listing tables: %w", err)
	}
	if _, err := b.pool.Exec(ctx, command+" "+strings.Join(tables, ", ")); err != nil {
		return fmt.Errorf("error in %s: %w", command, err)
	}
	return nil
}

// addWebhook adds an enabled webhook delivering to the receiver's
// /phase/i, created a minute ago so that it matches every event to come.
func (b *run) addWebhook(ctx context.Context, phase string, i int, eventTypes ...string) (string, error) {
	var id string
	if err := b.pool.QueryRow(ctx, `INSERT INTO webhooks.webhooks (workspace_id, created_by, name, url, event_types, created_at)
		VALUES ($1, $2, $3, $4, $5, now() - interval '1 minute') RETURNING id`,
		b.workspaceID, b.userID, fmt.Sprintf("bench %s %d", phase, i), fmt.Sprintf("%s/%s/%d", b.receiverURL, phase, i), eventTypes).Scan(&id); err != nil {
		return "", fmt.Errorf("error adding a webhook: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO webhooks.signing_secrets (webhook_id, secret) VALUES ($1, $2)`, id, auth.NewSecret()); err != nil {
		return "", fmt.Errorf("error adding a signing secret: %w", err)
	}
	return id, nil
}

// disableWebhooks disables every webhook (ids nil, sent as NULL) or those
// given, so that the next phase's events reach only the webhooks it adds.
func (b *run) disableWebhooks(ctx context.Context, ids ...string) error {
	if _, err := b.pool.Exec(ctx, `UPDATE webhooks.webhooks SET enabled = false, disabled_at = now(), disabled_reason = 'bench: phase over'
		WHERE enabled AND ($1::text[] IS NULL OR id = ANY($1))`, ids); err != nil {
		return fmt.Errorf("error disabling webhooks: %w", err)
	}
	return nil
}

// vacuum stands in for the autovacuum the server may run without, between
// phases: River's job rows are updated several times each.
func (b *run) vacuum(ctx context.Context) error {
	return b.gatherStatistics(ctx, "VACUUM ANALYZE")
}

// insertInvestments inserts n investments in statements of --batch rows,
// each captured as investment.created.
func (b *run) insertInvestments(ctx context.Context, n int) error {
	for done := 0; done < n; done += b.o.Batch {
		if _, err := b.pool.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol)
			SELECT $1, $2, 'Investment ' || i, 'KO' FROM generate_series(1, $3::int) i`, b.workspaceID, b.userID, min(b.o.Batch, n-done)); err != nil {
			return fmt.Errorf("error inserting investments: %w", err)
		}
	}
	return nil
}

// scratchDatabase creates an empty database on server beside
// databaseURL's and returns its URL and a func that drops it.
func scratchDatabase(ctx context.Context, server *pgxpool.Pool, databaseURL string) (string, func(), error) {
	name := fmt.Sprintf("webhooks_bench_%d", time.Now().UnixNano())
	if _, err := server.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("error creating scratch database: %w", err)
	}
	drop := func() {
		_, _ = server.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	url, err := pgurl.WithDatabase(databaseURL, name)
	if err != nil {
		drop()
		return "", nil, err
	}
	return url, drop, nil
}

// pastPartitions makes the day-long partitions that Options.Days days of
// history would have filled, before those the migrations made (yesterday's
// on), empty.
func (b *run) pastPartitions(ctx context.Context) error {
	if _, err := b.pool.Exec(ctx, `SELECT webhooks.add_partition(d, d + interval '1 day')
		FROM generate_series(date_bin('1 day', now() - make_interval(days => $1), timestamptz '2000-01-01 00:00:00+00'),
			(SELECT min(from_at) FROM webhooks.partitions) - interval '1 day', interval '1 day') d`, b.o.Days); err != nil {
		return fmt.Errorf("error making %d days of partitions: %w", b.o.Days, err)
	}
	return nil
}
