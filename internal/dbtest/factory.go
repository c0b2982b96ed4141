package dbtest

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/ksuid"

	"github.com/countercyclical/webhooks/db"
)

// The factories make the rows tests start from, as the app and the API
// would, on a pool, a connection or in a transaction; each fails the test on
// error.

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

// User makes a user, of no workspace, with a unique email, and returns its
// id.
func User(t testing.TB, q db.DBTX) string {
	t.Helper()
	var id string
	if err := q.QueryRow(context.Background(), `INSERT INTO users (email) VALUES (gen_id() || '@example.com') RETURNING id`).Scan(&id); err != nil {
		t.Fatalf("dbtest: error making user: %v", err)
	}
	return id
}

// Member makes a user with a unique email, a member of the workspace with
// role, and returns the user's id.
func Member(t testing.TB, q db.DBTX, workspaceID, role string) string {
	t.Helper()
	id := User(t, q)
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
	return WebhookWith(t, q, workspaceID, createdBy, url, WebhookOptions{Events: events})
}

// WebhookOptions are what WebhookWith may set beside Webhook's defaults;
// each zero value is Webhook's.
type WebhookOptions struct {
	Name           string    // "test" when empty
	Events         []string  // every event ("*") when empty
	Filter         string    // the payload filter, JSON; none when empty
	ChangedColumns []string  // none when empty
	Ordered        bool      // delivers a resource's events in order
	CreatedAt      time.Time // a minute ago when zero
}

// WebhookWith makes a webhook as Webhook does, with o.
func WebhookWith(t testing.TB, q db.DBTX, workspaceID, createdBy, url string, o WebhookOptions) string {
	t.Helper()
	if o.Name == "" {
		o.Name = "test"
	}
	if len(o.Events) == 0 {
		o.Events = []string{"*"}
	}
	var filter, createdAt any
	if o.Filter != "" {
		filter = o.Filter
	}
	if !o.CreatedAt.IsZero() {
		createdAt = o.CreatedAt
	}
	var changed any
	if len(o.ChangedColumns) > 0 {
		changed = o.ChangedColumns
	}
	var id string
	if err := q.QueryRow(context.Background(), `INSERT INTO webhooks.webhooks (workspace_id, created_by, name, url, event_types, filter, changed_columns, ordered, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now() - interval '1 minute')) RETURNING id`,
		workspaceID, createdBy, o.Name, url, o.Events, filter, changed, o.Ordered, createdAt).Scan(&id); err != nil {
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

// Message is a row of webhooks.messages, as expansion makes it and delivery
// brings it on; Messages writes them.
type Message struct {
	ID          string // msg_ and a new KSUID when empty
	OutboxID    int64
	WebhookID   string
	WorkspaceID string
	EventType   string
	State       string // pending when empty
	Attempts    int
	CapturedAt  time.Time // its event's, which the partition is chosen by; required
	CreatedAt   time.Time // now() when zero
}

// Messages writes the messages, in one statement, and returns their ids.
// They go in the partitions of their CapturedAt, which must exist.
func Messages(t testing.TB, q db.DBTX, ms ...Message) []string {
	t.Helper()
	n := len(ms)
	ids, webhooks, workspaces, types, states := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	outboxIDs, attempts := make([]int64, n), make([]int32, n)
	captured, created := make([]time.Time, n), make([]*time.Time, n)
	for i, m := range ms {
		if m.CapturedAt.IsZero() {
			t.Fatalf("dbtest: message %d has no CapturedAt", i)
		}
		ids[i], outboxIDs[i], webhooks[i], workspaces[i], types[i] = m.ID, m.OutboxID, m.WebhookID, m.WorkspaceID, m.EventType
		if ids[i] == "" {
			ids[i] = "msg_" + ksuid.New().String()
		}
		states[i] = m.State
		if states[i] == "" {
			states[i] = "pending"
		}
		attempts[i], captured[i] = int32(m.Attempts), m.CapturedAt
		if !m.CreatedAt.IsZero() {
			created[i] = &ms[i].CreatedAt
		}
	}
	if _, err := q.Exec(context.Background(), `INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, state, open_state, attempts, captured_at, created_at)
		SELECT id, outbox_id, webhook_id, workspace_id, event_type, state, webhooks.open_state(state), attempts, captured_at, coalesce(created_at, now())
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::timestamptz[], $9::timestamptz[])
			AS m (id, outbox_id, webhook_id, workspace_id, event_type, state, attempts, captured_at, created_at)`,
		ids, outboxIDs, webhooks, workspaces, types, states, attempts, captured, created); err != nil {
		t.Fatalf("dbtest: error making messages: %v", err)
	}
	return ids
}

// Attempt is a row of webhooks.delivery_attempts, the log of a delivery's
// HTTP attempt; Attempts writes them.
type Attempt struct {
	MessageID   string
	EventID     string
	WebhookID   string
	WorkspaceID string
	EventType   string
	Attempt     int
	URL         string
	StartedAt   time.Time
	DurationMs  float64
	Succeeded   bool
	StatusCode  int       // none (NULL) when 0
	TriggeredBy string    // schedule when empty
	CapturedAt  time.Time // its message's, which the partition is chosen by; required
}

// Attempts writes the attempts, in one statement. They go in the
// partitions of their CapturedAt, which must exist.
func Attempts(t testing.TB, q db.DBTX, as ...Attempt) {
	t.Helper()
	n := len(as)
	messages, events, webhooks, workspaces, types, urls, triggers := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	numbers, codes := make([]int32, n), make([]*int32, n)
	started, captured := make([]time.Time, n), make([]time.Time, n)
	durations, succeeded := make([]float64, n), make([]bool, n)
	for i, a := range as {
		if a.CapturedAt.IsZero() {
			t.Fatalf("dbtest: attempt %d has no CapturedAt", i)
		}
		messages[i], events[i], webhooks[i], workspaces[i], types[i] = a.MessageID, a.EventID, a.WebhookID, a.WorkspaceID, a.EventType
		numbers[i], urls[i], started[i], durations[i], succeeded[i] = int32(a.Attempt), a.URL, a.StartedAt, a.DurationMs, a.Succeeded
		if a.StatusCode != 0 {
			code := int32(a.StatusCode)
			codes[i] = &code
		}
		triggers[i] = a.TriggeredBy
		if triggers[i] == "" {
			triggers[i] = "schedule"
		}
		captured[i] = a.CapturedAt
	}
	if _, err := q.Exec(context.Background(), `INSERT INTO webhooks.delivery_attempts (message_id, event_id, webhook_id, workspace_id, event_type, attempt, url,
			started_at, duration_ms, succeeded, status_code, triggered_by, captured_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],
			$8::timestamptz[], $9::float8[], $10::bool[], $11::int[], $12::text[], $13::timestamptz[])`,
		messages, events, webhooks, workspaces, types, numbers, urls, started, durations, succeeded, codes, triggers, captured); err != nil {
		t.Fatalf("dbtest: error making attempts: %v", err)
	}
}
