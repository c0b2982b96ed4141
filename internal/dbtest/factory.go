package dbtest

import (
	"context"
	"testing"

	"github.com/countercyclical/webhooks/db"
)

// The factories make the rows tests start from, as the app and the API
// would, on a pool or in a transaction; each fails the test on error.

// Secret is the signing secret Webhook gives a webhook.
const Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// Workspace makes a workspace and returns its id.
func Workspace(t testing.TB, q db.DBTX, name string) string {
	t.Helper()
	var id string
	if err := q.QueryRow(context.Background(), `INSERT INTO workspaces (name) VALUES ($1) RETURNING id`, name).Scan(&id); err != nil {
		t.Fatalf("dbtest: error making workspace: %v", err)
	}
	return id
}

// Member makes a user with a unique email, a member of the workspace with
// role, and returns the user's id.
func Member(t testing.TB, q db.DBTX, workspaceID, role string) string {
	t.Helper()
	var id string
	if err := q.QueryRow(context.Background(), `INSERT INTO users (email) VALUES (gen_id() || '@example.com') RETURNING id`).Scan(&id); err != nil {
		t.Fatalf("dbtest: error making user: %v", err)
	}
	if _, err := q.Exec(context.Background(), `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, $3)`, workspaceID, id, role); err != nil {
		t.Fatalf("dbtest: error making member: %v", err)
	}
	return id
}

// Webhook makes an enabled webhook of the workspace to url, subscribed to
// events (every event when none), created by createdBy a minute ago (so
// that events captured from now on are its), with Secret; it returns its
// id. It writes the rows directly, so that any creator will do: a guest's
// webhook, which the API refuses, is one a member's becomes.
func Webhook(t testing.TB, q db.DBTX, workspaceID, createdBy, url string, events ...string) string {
	t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	var id string
	if err := q.QueryRow(context.Background(), `INSERT INTO webhooks.webhooks (workspace_id, created_by, name, url, event_types, created_at)
		VALUES ($1, $2, 'test', $3, $4, now() - interval '1 minute') RETURNING id`, workspaceID, createdBy, url, events).Scan(&id); err != nil {
		t.Fatalf("dbtest: error making webhook: %v", err)
	}
	if _, err := q.Exec(context.Background(), `INSERT INTO webhooks.signing_secrets (webhook_id, secret) VALUES ($1, $2)`, id, Secret); err != nil {
		t.Fatalf("dbtest: error making signing secret: %v", err)
	}
	return id
}

// OneWebhook makes a workspace, its owner, and a webhook of theirs to url
// subscribed to every event.
func OneWebhook(t testing.TB, q db.DBTX, url string) (workspaceID, ownerID, webhookID string) {
	t.Helper()
	workspaceID = Workspace(t, q, "Acme")
	ownerID = Member(t, q, workspaceID, "owner")
	return workspaceID, ownerID, Webhook(t, q, workspaceID, ownerID, url)
}
