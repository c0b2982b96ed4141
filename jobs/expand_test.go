package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/jobs"
)

type viewer struct {
	role   string
	inTeam bool
	userID string
	hookID string
}

// mayRead is DESIGN.md's table, written out independently of the SQL.
func mayRead(v viewer, creator string, visibility string) bool {
	switch v.role {
	case "owner", "admin":
		return true
	case "member":
		return visibility == "" || visibility == "Workspace" || creator == v.userID || (visibility == "Team" && v.inTeam)
	case "guest":
		return visibility == "Workspace"
	}
	return false
}

// TestScopingMatrix: roles × in the resource's team or not × creator of the
// resource or not × visibility, over all six resource types and the three
// operations, each judged by expansion with the webhook creator's role.
func TestScopingMatrix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	team := queryID(t, pool, `INSERT INTO teams (workspace_id, name) VALUES ($1, 'Deals') RETURNING id`, ws)
	exec(t, pool, `DELETE FROM webhooks.capture_queue`)

	var viewers []*viewer
	for _, role := range []string{"owner", "admin", "member", "guest"} {
		for _, inTeam := range []bool{true, false} {
			v := &viewer{role: role, inTeam: inTeam, userID: dbtest.Member(t, pool, ws, role)}
			if inTeam {
				exec(t, pool, `INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)`, team, v.userID)
			}
			v.hookID = dbtest.Webhook(t, pool, ws, v.userID, "https://example.com/"+role)
			viewers = append(viewers, v)
		}
	}

	type resource struct{ typ, id, creator, visibility string }
	var resources []resource
	// Every viewer creates one of each type at each visibility: so each
	// viewer is the creator of some and not of the others.
	for _, c := range viewers {
		for _, vis := range []string{"Private", "Team", "Workspace"} {
			scope := []any{ws, c.userID, vis, team}
			inv := queryID(t, pool, `INSERT INTO investments (workspace_id, created_by, visibility, team_id, name) VALUES ($1, $2, $3, $4, 'i') RETURNING id`, scope...)
			val := queryID(t, pool, `INSERT INTO valuations (workspace_id, created_by, visibility, team_id, investment_id, name) VALUES ($1, $2, $3, $4, $5, 'v') RETURNING id`, append(scope, inv)...)
			memo := queryID(t, pool, `INSERT INTO memos (workspace_id, created_by, visibility, team_id, investment_id, title) VALUES ($1, $2, $3, $4, $5, 'm') RETURNING id`, append(scope, inv)...)
			as := queryID(t, pool, `INSERT INTO assumptions (workspace_id, created_by, visibility, team_id, valuation_id, name) VALUES ($1, $2, $3, $4, $5, 'a') RETURNING id`, append(scope, val)...)
			pipe := queryID(t, pool, `INSERT INTO pipelines (workspace_id, created_by, visibility, team_id, name) VALUES ($1, $2, $3, $4, 'p') RETURNING id`, scope...)
			resources = append(resources,
				resource{"investment", inv, c.userID, vis}, resource{"valuation", val, c.userID, vis}, resource{"memo", memo, c.userID, vis},
				resource{"assumption", as, c.userID, vis}, resource{"pipeline", pipe, c.userID, vis})
		}
	}
	teamRes := queryID(t, pool, `INSERT INTO teams (workspace_id, name) VALUES ($1, 'Research') RETURNING id`, ws)
	resources = append(resources, resource{"team", teamRes, "", ""})
	tables := map[string]string{"investment": "investments", "valuation": "valuations", "memo": "memos", "assumption": "assumptions", "pipeline": "pipelines", "team": "teams"}
	for _, r := range resources {
		column := "name"
		if r.typ == "memo" {
			column = "title"
		}
		exec(t, pool, fmt.Sprintf(`UPDATE %s SET %s = %s || '!' WHERE id = $1`, tables[r.typ], column, column), r.id)
	}
	// Children first, so each delete is its own statement's.
	for i := len(resources) - 1; i >= 0; i-- {
		r := resources[i]
		exec(t, pool, fmt.Sprintf(`DELETE FROM %s WHERE id = $1`, tables[r.typ]), r.id)
	}
	require.Equal(t, 3*len(resources), count(t, pool, `SELECT count(*) FROM webhooks.capture_queue`))

	startClient(t, pool, jobs.Config{ExpandOnly: true})
	waitExpanded(t, pool)

	got := receivers(t, pool)
	checked := 0
	for _, r := range resources {
		for _, op := range []string{"created", "updated", "deleted"} {
			key := r.id + " " + r.typ + "." + op
			for _, v := range viewers {
				want := mayRead(*v, r.creator, r.visibility)
				require.Equal(t, want, got[key][v.hookID], "%s %s (visibility %q) for a %s (in team %v, creator %v)",
					r.typ, op, r.visibility, v.role, v.inTeam, r.creator == v.userID)
				checked++
			}
		}
	}
	require.Equal(t, 8*3*len(resources), checked)

	// The SQL function on its own answers the same, as an admin would ask it.
	for _, r := range resources {
		for _, v := range viewers {
			var got bool
			var createdBy, visibility, teamID *string
			if r.typ != "team" {
				createdBy, visibility, teamID = &r.creator, &r.visibility, &team
			}
			require.NoError(t, pool.QueryRow(ctx, `SELECT webhooks.can_read($1, $2, $3, $4, $5)`, v.userID, ws, createdBy, visibility, teamID).Scan(&got))
			require.Equal(t, mayRead(*v, r.creator, r.visibility), got, "can_read: %s %q for a %s", r.typ, r.visibility, v.role)
		}
	}
	var outsider bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT webhooks.can_read('nobody', $1, NULL, 'Workspace', NULL)`, ws).Scan(&outsider))
	require.False(t, outsider, "not a member: nothing")
}

// TestScopeJudgedAtExpansion: membership and role are read when the event
// is expanded, not when it was written; deletes are judged on the old row.
func TestScopeJudgedAtExpansion(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	removed := dbtest.Member(t, pool, ws, "admin")
	demoted := dbtest.Member(t, pool, ws, "member")
	creator := dbtest.Member(t, pool, ws, "member")
	removedHook := dbtest.Webhook(t, pool, ws, removed, "https://example.com/removed")
	demotedHook := dbtest.Webhook(t, pool, ws, demoted, "https://example.com/demoted")
	creatorHook := dbtest.Webhook(t, pool, ws, creator, "https://example.com/creator")
	otherWS := dbtest.Workspace(t, pool, "Globex")
	otherHook := dbtest.Webhook(t, pool, otherWS, dbtest.Member(t, pool, otherWS, "owner"), "https://example.com/other")

	// Written while everyone may read it.
	inv := queryID(t, pool, `INSERT INTO investments (workspace_id, created_by, name) VALUES ($1, $2, 'Coca-Cola') RETURNING id`, ws, owner)
	// Made private, then deleted: the update is judged on the new row, the
	// delete on the old one, both private to the owner.
	priv := queryID(t, pool, `INSERT INTO investments (workspace_id, created_by, name, visibility) VALUES ($1, $2, 'Mine', 'Private') RETURNING id`, ws, creator)
	exec(t, pool, `UPDATE investments SET visibility = 'Private', name = 'Pepsi' WHERE id = $1`, inv)
	exec(t, pool, `DELETE FROM investments WHERE id IN ($1, $2)`, inv, priv)

	// Between write and expansion: one leaves, one is demoted to guest.
	exec(t, pool, `DELETE FROM workspace_members WHERE user_id = $1`, removed)
	exec(t, pool, `UPDATE workspace_members SET role = 'guest' WHERE user_id = $1`, demoted)

	startClient(t, pool, jobs.Config{ExpandOnly: true})
	waitExpanded(t, pool)
	got := receivers(t, pool)

	for key, hooks := range got {
		require.False(t, hooks[removedHook], "a removed member gets nothing: %s", key)
		require.False(t, hooks[otherHook], "another workspace's webhook gets nothing: %s", key)
	}
	require.True(t, got[inv+" investment.created"][demotedHook], "Workspace-visible: a guest may read it")
	require.False(t, got[inv+" investment.updated"][demotedHook], "now Private: judged on the new row")
	require.False(t, got[inv+" investment.deleted"][demotedHook], "deleted: judged on the old, Private row")
	require.False(t, got[inv+" investment.updated"][creatorHook], "another's Private investment")
	require.True(t, got[priv+" investment.created"][creatorHook], "one's own Private investment")
	require.True(t, got[priv+" investment.deleted"][creatorHook], "one's own Private investment, deleted")
}

// TestDisabledAndNewWebhooks: a disabled webhook gets no messages, and a
// webhook gets no events captured before it was made.
func TestDisabledAndNewWebhooks(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	disabled := dbtest.Webhook(t, pool, ws, owner, "https://example.com/d")
	exec(t, pool, `UPDATE webhooks.webhooks SET enabled = false, disabled_at = now() WHERE id = $1`, disabled)
	subscribed := dbtest.Webhook(t, pool, ws, owner, "https://example.com/s", "memo.created", "pipeline.*")
	queryID(t, pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'p') RETURNING id`, ws, owner)
	inv := queryID(t, pool, `INSERT INTO investments (workspace_id, created_by, name) VALUES ($1, $2, 'i') RETURNING id`, ws, owner)
	exec(t, pool, `UPDATE webhooks.capture_queue SET captured_at = now() - interval '1 hour' WHERE resource_id = $1`, inv)
	late := dbtest.WebhookWith(t, pool, ws, owner, "https://example.com/l", dbtest.WebhookOptions{Name: "late", CreatedAt: time.Now()})

	startClient(t, pool, jobs.Config{ExpandOnly: true})
	waitExpanded(t, pool)
	require.Zero(t, count(t, pool, `SELECT count(*) FROM webhooks.messages WHERE webhook_id = $1`, disabled))
	require.Equal(t, 1, count(t, pool, `SELECT count(*) FROM webhooks.messages WHERE webhook_id = $1`, subscribed), "pipeline.* only")
	require.Zero(t, count(t, pool, `SELECT count(*) FROM webhooks.messages m JOIN webhooks.outbox o ON o.id = m.outbox_id WHERE m.webhook_id = $1 AND o.resource_id = $2`, late, inv))
	require.Zero(t, count(t, pool, `SELECT count(*) FROM webhooks.outbox WHERE event_id IS NULL`), "expansion stamps every event id")
}

// TestThreeClientsExpandTogether: 10,000 events for 5 webhooks, expanded by
// three River clients at once: exactly one delivery job per (event, webhook).
func TestThreeClientsExpandTogether(t *testing.T) {
	t.Parallel()
	const events, hooks = 10_000, 5
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	for i := range hooks {
		dbtest.Webhook(t, pool, ws, owner, fmt.Sprintf("https://example.com/%d", i))
	}
	exec(t, pool, `INSERT INTO investments (workspace_id, created_by, name) SELECT $1, $2, 'i' || n FROM generate_series(1, $3::int) n`, ws, owner, events)

	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			startClient(t, pool, jobs.Config{ExpandOnly: true, ExpandBatch: 200})
		}()
	}
	wg.Wait()
	waitExpanded(t, pool)

	require.Equal(t, events*hooks, count(t, pool, `SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver'`))
	require.Equal(t, events*hooks, count(t, pool, `SELECT count(DISTINCT args ->> 'messageId') FROM river_job WHERE kind = 'webhook_deliver'`))
	require.Equal(t, events*hooks, count(t, pool, `SELECT count(DISTINCT (outbox_id, webhook_id)) FROM webhooks.messages`))
	require.Equal(t, events*hooks, count(t, pool, `SELECT count(*) FROM webhooks.messages m JOIN river_job j ON j.args ->> 'messageId' = m.id`))
}

// TestListenerWakesOnceUntilStarted: notifications while the expand job the
// listener inserted last has yet to start insert no other (that job expands
// everything committed before it runs); once it has started, the next
// notification inserts one.
func TestListenerWakesOnceUntilStarted(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	client, err := jobs.NewClient(pool, jobs.Config{}) // works nothing: its jobs wait
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	listening, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		jobs.Listen(ctx, pool, client, listening)
	}()
	defer func() { cancel(); <-stopped }()
	<-listening
	expandJobs := func(state string) int {
		return count(t, pool, `SELECT count(*) FROM river_job WHERE kind = 'outbox_expand' AND state::text = $1`, state)
	}
	notify := func(times int) {
		for range times {
			exec(t, pool, `SELECT pg_notify('webhooks_outbox', '')`)
			time.Sleep(5 * time.Millisecond) // apart: separate wakes
		}
	}

	notify(10)
	require.Eventually(t, func() bool { return expandJobs("available") == 1 }, 10*time.Second, 10*time.Millisecond)
	notify(10)
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, 1, expandJobs("available"), "one job waits, whatever the notifications")

	// The job starts (and here finishes): the next wake needs a job.
	exec(t, pool, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE kind = 'outbox_expand'`)
	notify(1)
	require.Eventually(t, func() bool { return expandJobs("available") == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, expandJobs("completed"))

	// A job gone from River's table (deleted by the cleaner) wakes again too.
	exec(t, pool, `DELETE FROM river_job WHERE kind = 'outbox_expand'`)
	notify(1)
	require.Eventually(t, func() bool { return expandJobs("available") == 1 }, 10*time.Second, 10*time.Millisecond)
}
