package jobs_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/netguard"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/webhook"
)

type deliverBundle struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	ws     string
	owner  string
}

// loopback lets deliveries reach httptest servers on 127.0.0.1.
func loopback() netguard.Policy {
	allowed, _ := netguard.ParseCIDRs("127.0.0.0/8")
	return netguard.Policy{AllowHTTP: true, Allowed: allowed}
}

// deliverSetup starts a working client on a new database; deliverWorkers,
// when given, caps its delivery workers (default: the default).
func deliverSetup(t *testing.T, delivery delivery.Config, deliverWorkers ...int) *deliverBundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	if delivery.Schedule == nil {
		delivery.Schedule = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}
	}
	if delivery.Timeout == 0 {
		delivery.Timeout = 5 * time.Second
	}
	b := &deliverBundle{pool: pool}
	b.ws = dbtest.Workspace(t, pool, "Acme")
	b.owner = dbtest.Member(t, pool, b.ws, "owner")
	config := jobs.Config{Delivery: delivery, SafetyNet: time.Hour}
	if len(deliverWorkers) > 0 {
		config.DeliverWorkers = deliverWorkers[0]
	}
	// Expansion wakes on the capture NOTIFY, as in serve.
	b.client = startRunner(t, pool, config)
	return b
}

func (b *deliverBundle) event(t *testing.T) string {
	t.Helper()
	return queryID(t, b.pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'Sourcing') RETURNING id`, b.ws, b.owner)
}

// job waits for the latest delivery job of a webhook to reach one of states.
func (b *deliverBundle) job(t *testing.T, webhookID string, states ...string) (id int64, state string, errs []string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var raw [][]byte
		err := b.pool.QueryRow(context.Background(), `SELECT id, state, coalesce(errors, '{}')::jsonb[] FROM river_job WHERE kind = 'webhook_deliver' AND args ->> 'webhookId' = $1 ORDER BY id DESC LIMIT 1`, webhookID).Scan(&id, &state, &raw)
		if err != nil {
			return false
		}
		errs = nil
		for _, r := range raw {
			var e struct{ Error string }
			_ = json.Unmarshal(r, &e)
			errs = append(errs, e.Error)
		}
		for _, s := range states {
			if s == state {
				return true
			}
		}
		return false
	}, time.Minute, 10*time.Millisecond, "delivery job of %s never reached %v", webhookID, states)
	return id, state, errs
}

type attempt struct {
	Attempt            int
	Succeeded          bool
	StatusCode         *int
	ErrorClass         *string
	ErrorMessage       *string
	ResponseExcerpt    *string
	StartedAt          time.Time
	MessageID, EventID string
}

func (b *deliverBundle) attempts(t *testing.T, webhookID string) []attempt {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT attempt, succeeded, status_code, error_class, error_message, response_excerpt, started_at, message_id, event_id
		FROM webhooks.delivery_attempts WHERE webhook_id = $1 ORDER BY id`, webhookID)
	require.NoError(t, err)
	var out []attempt
	for rows.Next() {
		var a attempt
		require.NoError(t, rows.Scan(&a.Attempt, &a.Succeeded, &a.StatusCode, &a.ErrorClass, &a.ErrorMessage, &a.ResponseExcerpt, &a.StartedAt, &a.MessageID, &a.EventID))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

func (b *deliverBundle) secret(t *testing.T, webhookID string) string {
	return queryID(t, b.pool, `SELECT secret FROM webhooks.signing_secrets WHERE webhook_id = $1`, webhookID)
}

func TestDeliverSuccessSignedEnvelope(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback()})
	type received struct {
		header http.Header
		body   []byte
	}
	got := make(chan received, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), body}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL+"/hooks")
	resource := b.event(t)

	var r received
	select {
	case r = <-got:
	case <-time.After(time.Minute):
		t.Fatal("no delivery")
	}
	require.NoError(t, webhook.Verify(b.secret(t, hook), r.header, r.body), "the receiver verifies the signature")
	// And by hand, as the Standard Webhooks spec says, not with the sender's code.
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(b.secret(t, hook), "whsec_"))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.header.Get("webhook-id") + "." + r.header.Get("webhook-timestamp") + "." + string(r.body)))
	require.Equal(t, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)), r.header.Get("webhook-signature"))
	sent, err := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), time.Unix(sent, 0), time.Minute)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, delivery.UserAgent, r.header.Get("User-Agent"))
	var env webhook.Envelope
	require.NoError(t, json.Unmarshal(r.body, &env))
	require.Regexp(t, `^msg_[0-9A-Za-z]{27}$`, env.ID)
	require.Equal(t, env.ID, r.header.Get(webhook.HeaderID))
	require.Regexp(t, `^[A-Za-z0-9_-]{24}$`, env.EventID)
	require.Equal(t, "pipeline.created", env.EventType)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, env.Timestamp)
	require.Equal(t, b.ws, env.WorkspaceID)
	require.Equal(t, hook, env.ApplicationID)
	require.Nil(t, env.PreviousAttributes)
	var payload map[string]any
	require.NoError(t, json.Unmarshal(env.Payload, &payload))
	require.Equal(t, resource, payload["id"])
	require.Equal(t, "Sourcing", payload["name"])
	require.Contains(t, payload, "createdAt")
	raw := string(env.Payload)
	require.Less(t, strings.Index(raw, `"isArchived"`), strings.Index(raw, `"createdAt"`), "the table's column order, not jsonb's: %s", raw)
	var keys map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.body, &keys))
	require.NotContains(t, keys, "previousAttributes", "only *.updated carries it")

	_, state, _ := b.job(t, hook, "completed")
	require.Equal(t, "completed", state)
	attempts := b.attempts(t, hook)
	require.Len(t, attempts, 1)
	require.True(t, attempts[0].Succeeded)
	require.Equal(t, 200, *attempts[0].StatusCode)
	require.Equal(t, `{"ok":true}`, *attempts[0].ResponseExcerpt)
	require.Equal(t, env.ID, attempts[0].MessageID)
	require.Equal(t, env.EventID, attempts[0].EventID)
	require.Zero(t, count(t, b.pool, `SELECT count(*) FROM webhooks.delivery_attempts a, webhooks.signing_secrets s
		WHERE strpos(row_to_json(a)::text, substr(s.secret, 7)) > 0`), "no secret in the attempt log")

	// An update carries previousAttributes.
	exec(t, b.pool, `UPDATE pipelines SET name = 'Diligence' WHERE id = $1`, resource)
	select {
	case r = <-got:
	case <-time.After(time.Minute):
		t.Fatal("no delivery of the update")
	}
	require.NoError(t, json.Unmarshal(r.body, &env))
	require.Equal(t, "pipeline.updated", env.EventType)
	require.JSONEq(t, `{"name": "Sourcing"}`, string(env.PreviousAttributes))
}

func TestDeliverRetryThenSuccess(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback()})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
	b.event(t)

	_, _, errs := b.job(t, hook, "completed")
	require.Len(t, errs, 2)
	require.Contains(t, errs[0], "attempt 1: answered 500 Internal Server Error")
	attempts := b.attempts(t, hook)
	require.Len(t, attempts, 3)
	for i, a := range attempts {
		require.Equal(t, i+1, a.Attempt)
		require.Equal(t, attempts[0].MessageID, a.MessageID, "one message id on every retry")
	}
	require.Equal(t, "status", *attempts[0].ErrorClass)
	require.Equal(t, "try later\n", *attempts[0].ResponseExcerpt)
	require.True(t, attempts[2].Succeeded)
	require.Equal(t, 204, *attempts[2].StatusCode)
	require.Nil(t, queryNullable(t, b.pool, `SELECT failing_since::text FROM webhooks.webhooks WHERE id = $1`, hook), "a success ends the failing run")
}

func queryNullable(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) *string {
	t.Helper()
	var v *string
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&v))
	return v
}

func TestDeliverDiscardThenRetryFromRiver(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback()})
	var fail atomic.Bool
	fail.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
	}))
	defer srv.Close()
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
	b.event(t)

	id, _, errs := b.job(t, hook, "discarded")
	require.Len(t, errs, 3, "1 + the schedule's 2 retries")
	require.Len(t, b.attempts(t, hook), 3)

	// What River UI's retry button does.
	fail.Store(false)
	_, err := b.client.JobRetry(context.Background(), id)
	require.NoError(t, err)
	b.job(t, hook, "completed")
	attempts := b.attempts(t, hook)
	require.Len(t, attempts, 4)
	require.True(t, attempts[3].Succeeded)
	require.Equal(t, 4, attempts[3].Attempt)
	require.Equal(t, attempts[0].MessageID, attempts[3].MessageID, "the same message id")
}

func TestDeliverGoneDisables(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer srv.Close()
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
	b.event(t)

	_, _, errs := b.job(t, hook, "cancelled")
	require.Contains(t, errs[0], "answered 410 Gone; webhook disabled")
	require.Equal(t, "the endpoint answered 410 Gone", *queryNullable(t, b.pool, `SELECT disabled_reason FROM webhooks.webhooks WHERE id = $1 AND NOT enabled AND disabled_at IS NOT NULL`, hook))
	require.Len(t, b.attempts(t, hook), 1)
}

func TestDeliverDisabledOrDeletedCancels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := deliverSetup(t, delivery.Config{Policy: loopback()})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	disabled := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
	deleted := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
	b.event(t)
	b.job(t, disabled, "completed")
	b.job(t, deleted, "completed")
	require.Equal(t, int32(2), calls.Load())

	exec(t, b.pool, `UPDATE webhooks.webhooks SET enabled = false, disabled_at = now(), disabled_reason = 'paused by ops' WHERE id = $1`, disabled)
	exec(t, b.pool, `DELETE FROM webhooks.webhooks WHERE id = $1`, deleted)
	// Their messages sent again, as a retry through the API would.
	for _, hook := range []string{disabled, deleted} {
		msg := queryID(t, b.pool, `UPDATE webhooks.messages SET state = 'pending', open_state = NULL WHERE webhook_id = $1 RETURNING id`, hook)
		_, err := b.client.Insert(ctx, jobs.DeliverArgs{MessageID: msg, WebhookID: hook, EventType: "pipeline.created"}, nil)
		require.NoError(t, err)
	}
	_, _, errs := b.job(t, disabled, "cancelled")
	require.Contains(t, errs[len(errs)-1], "not sent: its webhook is disabled (paused by ops)")
	_, _, errs = b.job(t, deleted, "cancelled")
	require.Contains(t, errs[len(errs)-1], "not sent: its webhook was deleted")
	require.Equal(t, int32(2), calls.Load(), "nothing sent")
	// Jobs without the message's partition (as an earlier release's) find
	// the message all the same.
	for _, hook := range []string{disabled, deleted} {
		require.Equal(t, "cancelled", queryID(t, b.pool, `SELECT state FROM webhooks.messages WHERE webhook_id = $1`, hook))
	}

	// New events reach neither.
	b.event(t)
	waitExpanded(t, b.pool)
	require.Equal(t, 1, count(t, b.pool, `SELECT count(*) FROM webhooks.messages WHERE webhook_id = $1`, disabled))
	require.Equal(t, 1, count(t, b.pool, `SELECT count(*) FROM webhooks.messages WHERE webhook_id = $1`, deleted))
}

func TestDeliverSafetyRules(t *testing.T) {
	t.Parallel()

	t.Run("LoopbackBlockedAtDial", func(t *testing.T) {
		t.Parallel()
		// http allowed, no range opened: the URL passes, the dial does not.
		b := deliverSetup(t, delivery.Config{Policy: netguard.Policy{AllowHTTP: true}})
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
		defer srv.Close()
		// A name that resolves to loopback, as a rebinding attacker's would.
		hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))
		b.event(t)
		b.job(t, hook, "discarded")
		attempts := b.attempts(t, hook)
		require.Equal(t, "blocked", *attempts[0].ErrorClass)
		require.Contains(t, *attempts[0].ErrorMessage, "127.0.0.1 is a loopback, private, link-local or otherwise internal address")
		require.Zero(t, calls.Load())
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		b := deliverSetup(t, delivery.Config{Policy: loopback(), Timeout: 200 * time.Millisecond, Schedule: []time.Duration{}})
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
		b.event(t)
		b.job(t, hook, "discarded")
		attempts := b.attempts(t, hook)
		require.Equal(t, "timeout", *attempts[0].ErrorClass)
		require.Equal(t, "no answer within 200ms", *attempts[0].ErrorMessage)
	})

	t.Run("RedirectNotFollowed", func(t *testing.T) {
		t.Parallel()
		b := deliverSetup(t, delivery.Config{Policy: loopback(), Schedule: []time.Duration{}})
		var followed atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/elsewhere" {
				followed.Store(true)
				return
			}
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}))
		defer srv.Close()
		hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL+"/hooks")
		b.event(t)
		b.job(t, hook, "discarded")
		attempts := b.attempts(t, hook)
		require.Equal(t, "redirect", *attempts[0].ErrorClass)
		require.Contains(t, *attempts[0].ErrorMessage, `answered 302 (redirect to "/elsewhere", not followed)`)
		require.False(t, followed.Load())
	})

	t.Run("ResponseWithNUL", func(t *testing.T) {
		t.Parallel()
		b := deliverSetup(t, delivery.Config{Policy: loopback()})
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Write([]byte("ok\x00\xff"))
		}))
		defer srv.Close()
		hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
		b.event(t)
		b.job(t, hook, "completed")
		require.Equal(t, "ok\uFFFD\uFFFD", *b.attempts(t, hook)[0].ResponseExcerpt)
		require.Equal(t, int32(1), calls.Load(), "recorded once, not retried")
	})

	t.Run("ResponseExcerptBounded", func(t *testing.T) {
		t.Parallel()
		b := deliverSetup(t, delivery.Config{Policy: loopback()})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		}))
		defer srv.Close()
		hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
		b.event(t)
		b.job(t, hook, "completed")
		require.Len(t, *b.attempts(t, hook)[0].ResponseExcerpt, 4096)
	})

	t.Run("RetryAfterHonoured", func(t *testing.T) {
		t.Parallel()
		// The schedule says 10ms; the endpoint asks for 2 seconds.
		b := deliverSetup(t, delivery.Config{Policy: loopback(), Schedule: []time.Duration{10 * time.Millisecond}})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		defer srv.Close()
		hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
		b.event(t)
		b.job(t, hook, "discarded")
		attempts := b.attempts(t, hook)
		require.Len(t, attempts, 2)
		wait := attempts[1].StartedAt.Sub(attempts[0].StartedAt)
		require.GreaterOrEqual(t, wait, 1500*time.Millisecond, "Retry-After: 2 is waited for, not the schedule's 10ms")
		require.Less(t, wait, 10*time.Minute)
	})

	t.Run("DisableAfterLongFailure", func(t *testing.T) {
		t.Parallel()
		b := deliverSetup(t, delivery.Config{Policy: loopback(), DisableAfter: time.Hour})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
		defer srv.Close()
		hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
		// Failing, without a success, for longer than DisableAfter already.
		exec(t, b.pool, `UPDATE webhooks.webhooks SET failing_since = now() - interval '2 hours' WHERE id = $1`, hook)
		b.event(t)
		_, _, errs := b.job(t, hook, "cancelled")
		require.Contains(t, errs[0], "webhook disabled: failing without a success since")
		reason := queryNullable(t, b.pool, `SELECT disabled_reason FROM webhooks.webhooks WHERE id = $1 AND NOT enabled`, hook)
		require.Contains(t, *reason, "(longer than 1h0m0s)")
		require.Equal(t, "cancelled", queryID(t, b.pool, `SELECT state FROM webhooks.messages WHERE webhook_id = $1`, hook))
	})
}

func TestDeliverRotatedSecretSignsToo(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback()})
	got := make(chan http.Header, 1)
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
	old := b.secret(t, hook)
	exec(t, b.pool, `UPDATE webhooks.signing_secrets SET previous_secret = secret, previous_expires_at = now() + interval '1 day',
		secret = 'whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=' WHERE webhook_id = $1`, hook)
	b.event(t)
	h := <-got
	require.Len(t, strings.Fields(h.Get(webhook.HeaderSignature)), 2)
	require.NoError(t, webhook.Verify(old, h, body), "a receiver not yet rotated verifies")
	require.NoError(t, webhook.Verify("whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=", h, body), "a rotated receiver verifies")
}

func TestDeliverRateLimit(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
	exec(t, b.pool, `UPDATE webhooks.webhooks SET rate_limit_per_second = 1 WHERE id = $1`, hook)
	exec(t, b.pool, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'p' || n FROM generate_series(1, 3) n`, b.ws, b.owner)
	require.Eventually(t, func() bool {
		return count(t, b.pool, `SELECT count(*) FROM webhooks.delivery_attempts WHERE webhook_id = $1 AND succeeded`, hook) == 3
	}, time.Minute, 20*time.Millisecond)
	var windows, firstAttempts int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(DISTINCT date_trunc('second', started_at)), count(*) FILTER (WHERE attempt = 1)
		FROM webhooks.delivery_attempts WHERE webhook_id = $1`, hook).Scan(&windows, &firstAttempts))
	require.Equal(t, 3, windows, "at most one delivery in each second")
	require.Equal(t, 3, firstAttempts, "waiting for the limit used no attempt")
}

// TestDeliverRateLimitAcrossProcesses: two clients, on pools of their own
// as two worker processes would be, share a webhook's rateLimitPerSecond.
func TestDeliverRateLimitAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Two workers each: neither process can fetch every job at once, so
	// both deliver.
	b := deliverSetup(t, delivery.Config{Policy: loopback()}, 2)
	other, err := pgxpool.New(ctx, b.pool.Config().ConnString())
	require.NoError(t, err)
	t.Cleanup(other.Close)
	startClient(t, other, jobs.Config{DeliverWorkers: 2, Delivery: delivery.Config{Policy: loopback(), Timeout: 5 * time.Second}, SafetyNet: time.Hour})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
	exec(t, b.pool, `UPDATE webhooks.webhooks SET rate_limit_per_second = 4 WHERE id = $1`, hook)
	exec(t, b.pool, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'p' || n FROM generate_series(1, 16) n`, b.ws, b.owner)
	require.Eventually(t, func() bool {
		return count(t, b.pool, `SELECT count(*) FROM webhooks.delivery_attempts WHERE webhook_id = $1 AND succeeded`, hook) == 16
	}, time.Minute, 20*time.Millisecond)
	var busiest, clients int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT max(n) FROM (SELECT count(*) AS n FROM webhooks.delivery_attempts
		WHERE webhook_id = $1 GROUP BY date_trunc('second', started_at)) s`, hook).Scan(&busiest))
	// The limit counts a delivery in the second it is admitted, by the
	// database's clock; its attempt starts a moment later, so one admitted
	// at a second's very end is logged in the next (seen once in CI: 5).
	// Unshared, the two processes would admit 8 a second: 16 deliveries
	// within three seconds, 6 or more in one of them.
	require.LessOrEqual(t, busiest, 5, "at most four deliveries admitted in any second, whichever process made them, and one that started late")
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(DISTINCT j.attempted_by[array_length(j.attempted_by, 1)]) FROM river_job j
		WHERE j.kind = 'webhook_deliver' AND j.args ->> 'webhookId' = $1`, hook).Scan(&clients))
	require.Equal(t, 2, clients, "both processes delivered")
}

// TestWaitingBehindHangingEndpointIsCheap: the deliveries queued behind an
// endpoint that hangs do not wake, each, every second: their wakes are
// spaced by how long the endpoint holds its slots and back off per job, so
// in eight seconds each wakes about once after being put aside.
func TestWaitingBehindHangingEndpointIsCheap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := deliverSetup(t, delivery.Config{Policy: loopback(), MaxInflight: 2, Timeout: time.Minute})
	release := make(chan struct{})
	var calls atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release) // before Close, which waits for the hanging handlers
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, slow.URL)
	exec(t, b.pool, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'p' || n FROM generate_series(1, 100) n`, b.ws, b.owner)
	snoozes := func() int {
		return count(t, b.pool, `SELECT coalesce(sum((metadata ->> 'snoozes')::int), 0) FROM river_job
			WHERE kind = 'webhook_deliver' AND args ->> 'webhookId' = $1`, hook)
	}
	// Every waiting job has been fetched and put aside once.
	require.Eventually(t, func() bool { return snoozes() >= 98 }, time.Minute, 20*time.Millisecond)
	time.Sleep(8 * time.Second)
	total := snoozes()
	t.Logf("98 waiting jobs snoozed %d times in all", total)
	require.Less(t, total, 3*98, "snoozes of about a second each would make about 700")
	require.Equal(t, int32(2), calls.Load(), "the endpoint never had more than MaxInflight")
	// A waiting job is running only for the moment it takes to be snoozed.
	require.Eventually(t, func() bool {
		var running int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND state = 'running'`).Scan(&running))
		return running == 2
	}, 10*time.Second, 10*time.Millisecond, "the two in flight hold two workers; the rest hold none")
}

// TestSlowEndpointDoesNotStarveOthers: a webhook whose endpoint hangs holds
// at most MaxInflight workers; another webhook's deliveries go through
// meanwhile.
func TestSlowEndpointDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback(), MaxInflight: 2, Timeout: time.Minute})
	release := make(chan struct{})
	var inflight, maxInflight atomic.Int32
	var mu sync.Mutex
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		mu.Lock()
		if n > maxInflight.Load() {
			maxInflight.Store(n)
		}
		mu.Unlock()
		defer inflight.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release) // before Close, which waits for the hanging handlers
	var fastCalls atomic.Int32
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fastCalls.Add(1) }))
	defer fast.Close()
	dbtest.Webhook(t, b.pool, b.ws, b.owner, slow.URL, "pipeline.*")
	dbtest.Webhook(t, b.pool, b.ws, b.owner, fast.URL, "pipeline.*")

	exec(t, b.pool, `INSERT INTO pipelines (workspace_id, created_by, name) SELECT $1, $2, 'p' || n FROM generate_series(1, 30) n`, b.ws, b.owner)
	require.Eventually(t, func() bool { return fastCalls.Load() == 30 }, time.Minute, 10*time.Millisecond,
		"the fast endpoint got all its deliveries while the slow one hung")
	require.LessOrEqual(t, maxInflight.Load(), int32(2), "the slow endpoint never had more than MaxInflight")
	require.Equal(t, int32(2), inflight.Load(), "and it is still holding its two")
}

func TestDeliverRecordsLatency(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(30 * time.Millisecond) }))
	defer srv.Close()
	hook := dbtest.Webhook(t, b.pool, b.ws, b.owner, srv.URL)
	b.event(t)
	b.job(t, hook, "completed")
	var ms float64
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT duration_ms FROM webhooks.delivery_attempts WHERE webhook_id = $1`, hook).Scan(&ms))
	require.GreaterOrEqual(t, ms, 30.0, "the attempt's duration includes the endpoint's 30ms")
}
