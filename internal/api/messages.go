package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/segmentio/ksuid"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/webhook"
)

type messageJSON struct {
	ID             string   `json:"id"`
	EventID        *string  `json:"eventId"`
	EventType      string   `json:"eventType"`
	WebhookID      string   `json:"webhookId"`
	State          string   `json:"state"`
	AttemptCount   int32    `json:"attemptCount"`
	LastStatusCode *int32   `json:"lastStatusCode"`
	LastError      *string  `json:"lastError"`
	CreatedAt      timeJSON `json:"createdAt"`
	UpdatedAt      timeJSON `json:"updatedAt"`
	// NextAttemptAt, in one message's view, is when its delivery job runs
	// next: null unless it is pending or retrying.
	NextAttemptAt *timeJSON `json:"nextAttemptAt,omitempty"`
	// WaitingBehind, on an ordered webhook, is the message of the same
	// resource this one waits behind (under way, or failed and to be
	// retried or skipped); Resource is that resource, "type/id".
	WaitingBehind *string `json:"waitingBehind,omitempty"`
	Resource      *string `json:"resource,omitempty"`
	// Envelope is the body its deliveries send and sign, embedded as it
	// is: one message's view only.
	Envelope json.RawMessage `json:"envelope,omitempty"`
	Attempts []attempt       `json:"attempts,omitempty"`
}

type attempt struct {
	Attempt         int32    `json:"attempt"`
	TriggeredBy     string   `json:"triggeredBy"`
	StartedAt       timeJSON `json:"startedAt"`
	DurationMs      float64  `json:"durationMs"`
	Succeeded       bool     `json:"succeeded"`
	StatusCode      *int32   `json:"statusCode"`
	ErrorClass      *string  `json:"errorClass"`
	ErrorMessage    *string  `json:"errorMessage"`
	ResponseExcerpt *string  `json:"responseExcerpt"`
}

// listDeliveries pages through a webhook's messages, newest first.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	wh, _, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := &fields{}
	params := db.MessageListParams{WebhookID: wh.ID, Max: 21}
	var status string
	limit := 20
	for name := range q {
		v := q.Get(name)
		switch name {
		case "limit":
			limit = f.limitParam(v)
			params.Max = int32(limit + 1)
		case "status":
			if !slices.Contains(delivery.MessageStates, v) {
				f.fail("status", "must be one of %v, got %q", delivery.MessageStates, v)
			}
			status = v
		case "eventType": // judged by judgeInput: valid UTF-8, no NUL
			params.EventType = &v
		case "since", "until":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				f.fail(name, "must be an RFC 3339 time such as 2024-11-19T14:29:33Z, got %q", v)
			}
			if name == "since" {
				params.Since = &t
			} else {
				params.Until = &t
			}
		case "cursor":
			c := f.cursorParam(v)
			params.BeforeCreatedAt, params.BeforeID = &c.CreatedAt, &c.ID
		default:
			f.fail(name, "unknown query parameter; known are status, eventType, since, until, limit, cursor")
		}
	}
	if len(f.errors) > 0 {
		writeProblem(w, http.StatusBadRequest, "bad query parameters; see errors", f.errors...)
		return
	}
	rows, err := ListMessages(r.Context(), s.config.Pool, params, status)
	if err != nil {
		s.internalError(w, r, "error listing messages", err)
		return
	}
	list := newPage(rows, limit,
		func(row db.MessageListRow) messageJSON { return toMessageJSON(row.WebhooksMessage, row.EventID) },
		func(row db.MessageListRow) cursor {
			return cursor{CreatedAt: row.WebhooksMessage.CreatedAt, ID: row.WebhooksMessage.ID}
		})
	if err := s.withWaiting(r.Context(), wh, list.Data); err != nil {
		s.internalError(w, r, "error listing messages", err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// ListMessages reads a page of a webhook's messages (MessageList), of one
// status when status is not empty: pending and succeeded on state, pending
// from the webhook's oldest delivery job still to run (none when it has
// none), and the others on open_state, which has an index of its own. It is
// planned for the values given, in a transaction of its own: the plan
// cached for the statement after a few runs (a generic plan) serves every
// filter with the webhook's index of all its messages, and read each of
// them to find that none failed (measured: 3.9 s for 500,000 messages).
func ListMessages(ctx context.Context, pool *pgxpool.Pool, params db.MessageListParams, status string) ([]db.MessageListRow, error) {
	queries := db.New()
	switch status {
	case "":
	case "succeeded":
		params.State = &status
	case "pending":
		p, err := queries.MessagePendingFrom(ctx, pool, params.WebhookID)
		if err != nil {
			return nil, err
		}
		if !p.Pending {
			return nil, nil
		}
		params.State, params.PendingFrom = &status, &p.PendingFrom
	default:
		params.OpenState = &status
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
		return nil, err
	}
	rows, err := queries.MessageList(ctx, tx, params)
	if err != nil {
		return nil, err
	}
	return rows, tx.Commit(ctx)
}

// loadMessage finds a message the caller may see: one of a webhook they
// manage, or, once the webhook is deleted, any of the workspace for owners
// and admins.
func toMessageJSON(m db.WebhooksMessage, eventID *string) messageJSON {
	return messageJSON{
		ID: m.ID, EventID: eventID, EventType: m.EventType, WebhookID: m.WebhookID, State: m.State, AttemptCount: m.Attempts,
		LastStatusCode: m.LastStatusCode, LastError: m.LastError, CreatedAt: timeJSON(m.CreatedAt), UpdatedAt: timeJSON(m.UpdatedAt),
	}
}

func (s *Server) loadMessage(w http.ResponseWriter, r *http.Request) (db.MessageGetRow, bool) {
	p := principalFrom(r.Context())
	if !mayManageWebhooks(w, p) {
		return db.MessageGetRow{}, false
	}
	id := r.PathValue("id") // judged by judgeInput: valid UTF-8, no NUL
	m, err := s.queries.MessageGet(r.Context(), s.config.Pool, db.MessageGetParams{ID: id, WorkspaceID: p.WorkspaceID})
	if err == nil {
		// A deleted webhook's messages stay its workspace's owners' and
		// admins'.
		err = s.mayManageWebhookOf(r.Context(), p, m.WebhooksMessage.WebhookID, true)
	}
	return m, s.found(w, r, err, "message", id)
}

// mayManageWebhookOf says whether p manages the webhook an object (a
// message, a replay) is of: pgx.ErrNoRows when not, so that the object does
// not exist for p. An object of a deleted webhook is the workspace's owners'
// and admins' when orphans is set, and nobody's otherwise.
func (s *Server) mayManageWebhookOf(ctx context.Context, p principal, webhookID string, orphans bool) error {
	wh, err := s.queries.WebhookGetByID(ctx, s.config.Pool, db.WebhookGetByIDParams{ID: webhookID, WorkspaceID: p.WorkspaceID})
	switch {
	case errors.Is(err, pgx.ErrNoRows) && orphans && (p.Role == "owner" || p.Role == "admin"):
		return nil
	case err != nil:
		return err
	case !mayManage(p, wh):
		return pgx.ErrNoRows
	}
	return nil
}

// found answers an object that was not found, or could not be loaded, and
// says whether it was found.
func (s *Server) found(w http.ResponseWriter, r *http.Request, err error, kind, id string) bool {
	if errors.Is(err, pgx.ErrNoRows) {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("%s %q not found", kind, id))
		return false
	}
	if err != nil {
		s.internalError(w, r, "error loading "+kind, err)
		return false
	}
	return true
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	m, ok := s.loadMessage(w, r)
	if !ok {
		return
	}
	rows, err := s.queries.DeliveryAttemptList(r.Context(), s.config.Pool, db.DeliveryAttemptListParams{MessageID: m.WebhooksMessage.ID, CapturedAt: m.WebhooksMessage.CapturedAt})
	if err != nil {
		s.internalError(w, r, "error listing attempts", err)
		return
	}
	// The envelope comes from what deliveries load and build it from, so
	// that it is the body they send, not a likeness of it.
	loaded, err := s.queries.MessageGetForDeliveryMany(r.Context(), s.config.Pool, db.MessageGetForDeliveryManyParams{
		Ids: []string{m.WebhooksMessage.ID}, CapturedFrom: m.WebhooksMessage.CapturedAt, CapturedTo: m.WebhooksMessage.CapturedAt,
	})
	if err == nil && len(loaded) == 0 { // removed by retention meanwhile
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("message %q not found", m.WebhooksMessage.ID))
		return
	}
	if err != nil {
		s.internalError(w, r, "error loading envelope", err)
		return
	}
	envelope, err := delivery.EnvelopeBody(&loaded[0])
	if err != nil {
		s.internalError(w, r, "error building envelope", err)
		return
	}
	out := toMessageJSON(m.WebhooksMessage, m.EventID)
	out.Envelope = envelope
	if m.WebhooksMessage.State == "pending" {
		one := []messageJSON{out}
		if err := s.waitingOf(r.Context(), one); err != nil {
			s.internalError(w, r, "error loading message", err)
			return
		}
		out = one[0]
	}
	if m.WebhooksMessage.State == "pending" || m.WebhooksMessage.State == "retrying" {
		next, err := s.queries.MessageNextJob(r.Context(), s.config.Pool, m.WebhooksMessage.ID)
		switch {
		case err == nil:
			out.NextAttemptAt = optionalTime(&next.ScheduledAt)
		case !errors.Is(err, pgx.ErrNoRows): // none: a message waiting for its job
			s.internalError(w, r, "error reading the next attempt", err)
			return
		}
	}
	out.Attempts = []attempt{}
	for _, a := range rows {
		out.Attempts = append(out.Attempts, attempt{
			Attempt: a.Attempt, TriggeredBy: a.TriggeredBy, StartedAt: timeJSON(a.StartedAt), DurationMs: a.DurationMs, Succeeded: a.Succeeded, StatusCode: a.StatusCode,
			ErrorClass: a.ErrorClass, ErrorMessage: a.ErrorMessage, ResponseExcerpt: a.ResponseExcerpt,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// maxRecover bounds one recover call; the answer says when more are left.
const maxRecover = 1000

// resend makes messages pending again and inserts their delivery jobs, in
// one transaction: concurrent calls cannot send a message twice, and a failed
// insert leaves nothing pending.
//
// An ordered webhook's messages go back to their resources' queues, to be
// sent in turn.
func (s *Server) resend(r *http.Request, ordered bool, reset func(tx pgx.Tx) ([]jobs.DeliverArgs, error)) (int, error) {
	if s.config.River == nil {
		return 0, errors.New("no River client configured")
	}
	tx, err := s.config.Pool.Begin(r.Context())
	if err != nil {
		return 0, fmt.Errorf("error beginning transaction: %w", err)
	}
	defer tx.Rollback(r.Context()) //nolint:errcheck
	if ordered {
		// The queue's lock before the messages' rows, as every change of
		// the queue takes them.
		if err := s.queries.OrderedLock(r.Context(), tx); err != nil {
			return 0, fmt.Errorf("error locking the ordered queue: %w", err)
		}
	}
	args, err := reset(tx)
	if err != nil {
		return 0, err
	}
	total := len(args)
	if ordered && len(args) > 0 {
		if args, err = s.requeue(r.Context(), tx, args); err != nil {
			return 0, err
		}
	}
	if len(args) > 0 {
		params := make([]river.InsertManyParams, len(args))
		for i, a := range args {
			params[i] = river.InsertManyParams{Args: a, InsertOpts: &river.InsertOpts{MaxAttempts: s.config.MaxAttempts}}
		}
		if _, err := s.config.River.InsertManyTx(r.Context(), tx, params); err != nil {
			return 0, fmt.Errorf("error inserting delivery jobs: %w", err)
		}
	}
	if err := tx.Commit(r.Context()); err != nil {
		return 0, fmt.Errorf("error committing: %w", err)
	}
	return total, nil
}

// retryMessage sends a message again, under the same id, as River UI's retry
// does for a discarded job.
func (s *Server) retryMessage(w http.ResponseWriter, r *http.Request) {
	m, ok := s.loadMessage(w, r)
	if !ok {
		return
	}
	if _, ok := readObject(w, r, true); !ok {
		return
	}
	wh, ok := s.mayDeliverTo(w, r, m.WebhooksMessage.WebhookID)
	if !ok {
		return
	}
	if m.WebhooksMessage.State == "retrying" {
		s.retryNow(w, r, m.WebhooksMessage)
		return
	}
	if wh.Ordered && m.WebhooksMessage.State == "pending" {
		behind, err := s.queries.OrderedWaitingBehind(r.Context(), s.config.Pool, []string{m.WebhooksMessage.ID})
		if err != nil {
			s.internalError(w, r, "error reading the ordered queue", err)
			return
		}
		if len(behind) > 0 {
			writeProblem(w, http.StatusConflict, fmt.Sprintf("message %q waits behind %q, of the same resource; retry or skip that one", m.WebhooksMessage.ID, behind[0].Behind))
			return
		}
	}
	n, err := s.resend(r, wh.Ordered, func(tx pgx.Tx) ([]jobs.DeliverArgs, error) {
		row, err := s.queries.MessageResetForRetry(r.Context(), tx, m.WebhooksMessage.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("error resetting message: %w", err)
		}
		return []jobs.DeliverArgs{{MessageID: row.ID, CapturedAt: row.CapturedAt, WebhookID: row.WebhookID, EventType: row.EventType, Trigger: delivery.TriggerManualRetry}}, nil
	})
	if err != nil {
		s.internalError(w, r, "error retrying message", err)
		return
	}
	if n == 0 {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("message %q is being delivered already; retry it once it has succeeded, failed or been cancelled", m.WebhooksMessage.ID))
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}{m.WebhooksMessage.ID, "pending"})
}

// retryNow brings forward the next attempt of a message waiting to retry:
// its scheduled job is made available at once (River's JobRetry), so that
// an endpoint fixed meanwhile need not wait out the schedule, and no second
// job races the first. The request is noted on the message in the same
// transaction, so that the attempt it brings is logged as a manual retry.
func (s *Server) retryNow(w http.ResponseWriter, r *http.Request, m db.WebhooksMessage) {
	next, err := s.queries.MessageNextJob(r.Context(), s.config.Pool, m.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("message %q is being delivered already; retry it once it has succeeded, failed or been cancelled", m.ID))
		return
	}
	if err != nil {
		s.internalError(w, r, "error reading the next attempt", err)
		return
	}
	if s.config.River == nil {
		s.internalError(w, r, "error retrying message", errors.New("no River client configured"))
		return
	}
	err = pgx.BeginFunc(r.Context(), s.config.Pool, func(tx pgx.Tx) error {
		if err := s.queries.MessageRequestRetry(r.Context(), tx, db.MessageRequestRetryParams{ID: m.ID, CapturedAt: m.CapturedAt}); err != nil {
			return err
		}
		_, err := s.config.River.JobRetryTx(r.Context(), tx, next.ID)
		return err
	})
	if err != nil {
		s.internalError(w, r, "error retrying message", err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}{m.ID, "retrying"})
}

// mayDeliver refuses, with a 409 that says why, to send anything to a
// disabled webhook: the delivery would be cancelled unsent.
func mayDeliver(w http.ResponseWriter, wh db.WebhooksWebhook) bool {
	if wh.Enabled {
		return true
	}
	reason := ""
	if wh.DisabledReason != nil {
		reason = " (" + *wh.DisabledReason + ")"
	}
	writeProblem(w, http.StatusConflict, fmt.Sprintf("webhook %q is disabled%s; enable it, then send again", wh.Name, reason))
	return false
}

// mayDeliverTo is mayDeliver for a message's webhook, which may also have
// been deleted; it returns the webhook.
func (s *Server) mayDeliverTo(w http.ResponseWriter, r *http.Request, webhookID string) (db.WebhooksWebhook, bool) {
	p := principalFrom(r.Context())
	wh, err := s.queries.WebhookGetByID(r.Context(), s.config.Pool, db.WebhookGetByIDParams{ID: webhookID, WorkspaceID: p.WorkspaceID})
	if errors.Is(err, pgx.ErrNoRows) {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("webhook %q was deleted; its messages cannot be sent", webhookID))
		return wh, false
	}
	if err != nil {
		s.internalError(w, r, "error loading webhook", err)
		return wh, false
	}
	return wh, mayDeliver(w, wh)
}

// recoverWebhook re-sends the failed messages of a webhook since a time,
// like Svix's recover, up to maxRecover a call.
func (s *Server) recoverWebhook(w http.ResponseWriter, r *http.Request) {
	wh, _, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	raw, ok := readObject(w, r, false)
	if !ok {
		return
	}
	f := &fields{raw: raw}
	f.unknown("since")
	var since time.Time
	if v, ok := f.string("since", true); ok {
		t, err := time.Parse(time.RFC3339, v)
		switch {
		case err != nil:
			f.fail("since", "must be an RFC 3339 time such as 2024-11-19T14:29:33Z, got %q", v)
		case t.After(time.Now()):
			f.fail("since", "must not be in the future")
		}
		since = t
	}
	if len(f.errors) > 0 {
		writeProblem(w, http.StatusUnprocessableEntity, "bad request; see errors", f.errors...)
		return
	}
	if !mayDeliver(w, wh) {
		return
	}
	n, err := s.resend(r, wh.Ordered, func(tx pgx.Tx) ([]jobs.DeliverArgs, error) {
		rows, err := s.queries.MessageResetFailedSince(r.Context(), tx, db.MessageResetFailedSinceParams{WebhookID: wh.ID, Since: since, Max: maxRecover})
		if err != nil {
			return nil, fmt.Errorf("error resetting failed messages: %w", err)
		}
		args := make([]jobs.DeliverArgs, len(rows))
		for i, row := range rows {
			args[i] = jobs.DeliverArgs{MessageID: row.ID, CapturedAt: row.CapturedAt, WebhookID: row.WebhookID, EventType: row.EventType, Trigger: delivery.TriggerRecover}
		}
		return args, nil
	})
	if err != nil {
		s.internalError(w, r, "error recovering messages", err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		Queued int  `json:"queued"`
		More   bool `json:"more"`
	}{n, n == maxRecover})
}

// testWebhook sends an example event of a type to this webhook alone,
// through the normal delivery path.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) {
	wh, p, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	raw, ok := readObject(w, r, false)
	if !ok {
		return
	}
	f := &fields{raw: raw}
	f.unknown("eventType")
	name, _ := f.string("eventType", true)
	var typ eventType
	if name != "" {
		catalogue, err := s.catalogue(r.Context())
		if err != nil {
			s.internalError(w, r, "error reading event types", err)
			return
		}
		i := slices.IndexFunc(catalogue, func(t eventType) bool { return t.Name == name })
		if i < 0 {
			f.fail("eventType", "%q is not an event type; see GET /v1/event-types", name)
		} else {
			typ = catalogue[i]
		}
	}
	if len(f.errors) > 0 {
		writeProblem(w, http.StatusUnprocessableEntity, "bad request; see errors", f.errors...)
		return
	}
	if !mayDeliver(w, wh) {
		return
	}
	if wait, ok := s.testSends.take(p.WorkspaceID, time.Now()); !ok {
		s.tooManyTests(w, p, wait)
		return
	}
	payload, previous := examplePayload(typ, p.WorkspaceID, p.UserID)
	tx, err := s.config.Pool.Begin(r.Context())
	if err != nil {
		s.internalError(w, r, "error beginning transaction", err)
		return
	}
	defer tx.Rollback(r.Context()) //nolint:errcheck
	event, err := s.queries.OutboxInsertTest(r.Context(), tx, db.OutboxInsertTestParams{
		EventType: name, ResourceType: typ.ResourceType, ResourceID: "test_" + ksuid.New().String(), WorkspaceID: p.WorkspaceID,
		Actor: &p.UserID, Payload: payload, PreviousAttributes: previous,
	})
	if err != nil {
		s.internalError(w, r, "error recording test event", err)
		return
	}
	msgID := "msg_" + ksuid.New().String()
	if err := s.queries.MessageInsert(r.Context(), tx, db.MessageInsertParams{ID: msgID, OutboxID: event.ID, WebhookID: wh.ID, WorkspaceID: p.WorkspaceID, EventType: name, CapturedAt: event.CapturedAt}); err != nil {
		s.internalError(w, r, "error recording test message", err)
		return
	}
	if s.config.River == nil {
		s.internalError(w, r, "error enqueuing test", errors.New("no River client configured"))
		return
	}
	if _, err := s.config.River.InsertTx(r.Context(), tx, jobs.DeliverArgs{MessageID: msgID, CapturedAt: event.CapturedAt, WebhookID: wh.ID, EventType: name, Trigger: delivery.TriggerTest}, &river.InsertOpts{MaxAttempts: s.config.MaxAttempts}); err != nil {
		s.internalError(w, r, "error enqueuing test", err)
		return
	}
	if err := tx.Commit(r.Context()); err != nil {
		s.internalError(w, r, "error committing test", err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		ID        string `json:"id"`
		EventType string `json:"eventType"`
	}{msgID, name})
}

// examplePayload is a plausible row of an event type's table, in the
// row-image shape the outbox keeps (column names), with every column the
// catalogue's schema names; investments look like the spec's example.
func examplePayload(t eventType, workspaceID, userID string) ([]byte, json.RawMessage) {
	now := time.Now().UTC().Format(webhook.TimestampFormat)
	row := t.exampleRow(workspaceID, userID, "test_"+ksuid.New().String(), now)
	payload, _ := json.Marshal(row)
	if t.op != "updated" {
		return payload, nil
	}
	column, value := exampleChange(t.shape, row)
	previous, _ := json.Marshal(map[string]any{column: value})
	return payload, previous
}
