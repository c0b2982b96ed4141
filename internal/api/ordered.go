package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/jobs"
)

// withWaiting names, on an ordered webhook's messages that wait, the
// message of their resource they wait behind.
func (s *Server) withWaiting(ctx context.Context, wh db.WebhooksWebhook, messages []messageJSON) error {
	if !wh.Ordered {
		return nil
	}
	return s.waitingOf(ctx, messages)
}

// waitingOf is withWaiting for messages of any webhooks.
func (s *Server) waitingOf(ctx context.Context, messages []messageJSON) error {
	if len(messages) == 0 {
		return nil
	}
	ids := make([]string, len(messages))
	for i, m := range messages {
		ids[i] = m.ID
	}
	rows, err := s.queries.OrderedWaitingBehind(ctx, s.config.Pool, ids)
	if err != nil {
		return fmt.Errorf("error reading the ordered queue: %w", err)
	}
	for _, row := range rows {
		i := slices.Index(ids, row.MessageID)
		messages[i].WaitingBehind, messages[i].Resource = &row.Behind, &row.Resource
	}
	return nil
}

// unorder releases, in tx, every message an ordered webhook holds back, as
// it stops being ordered: they are sent as an unordered webhook's are.
func (s *Server) unorder(ctx context.Context, tx pgx.Tx, webhookID string) error {
	if err := s.queries.OrderedLock(ctx, tx); err != nil {
		return err
	}
	rows, err := s.queries.OrderedReleaseWebhook(ctx, tx, webhookID)
	if err != nil {
		return err
	}
	var params []river.InsertManyParams
	for _, r := range rows {
		if r.Released { // its job is made already
			continue
		}
		params = append(params, river.InsertManyParams{
			Args:       jobs.DeliverArgs{MessageID: r.MessageID, CapturedAt: r.CapturedAt, WebhookID: r.WebhookID, EventType: r.EventType, Trigger: r.Trigger},
			InsertOpts: &river.InsertOpts{MaxAttempts: s.config.MaxAttempts},
		})
	}
	if len(params) == 0 {
		return nil
	}
	if s.config.River == nil {
		return errors.New("no River client configured")
	}
	_, err = s.config.River.InsertManyTx(ctx, tx, params)
	return err
}

// requeue sends messages of an ordered webhook again through their
// resources' queues: each goes after the changes of its resource waiting,
// when its turn comes. A head that failed is still in its queue, released:
// its job is made at once. It returns the jobs to insert now. The queue's
// lock is taken (resend).
func (s *Server) requeue(ctx context.Context, tx pgx.Tx, args []jobs.DeliverArgs) ([]jobs.DeliverArgs, error) {
	ids := make([]string, len(args))
	for i, a := range args {
		ids[i] = a.MessageID
	}
	inQueue, err := s.queries.OrderedQueued(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("error reading the ordered queue: %w", err)
	}
	released := map[string]bool{}
	for _, q := range inQueue {
		released[q.MessageID] = q.Released
	}
	// One call sends again for one reason: a retry's, or a recover's.
	queued, err := s.queries.OrderedRequeue(ctx, tx, db.OrderedRequeueParams{MessageIds: ids, Trigger: args[0].Trigger})
	if err != nil {
		return nil, fmt.Errorf("error queueing messages: %w", err)
	}
	webhookIDs, resources := make([]string, len(queued)), make([]string, len(queued))
	for i, q := range queued {
		webhookIDs[i], resources[i] = q.WebhookID, q.Resource
	}
	var now []jobs.DeliverArgs
	for _, a := range args {
		if released[a.MessageID] {
			a.Ordered = true
			now = append(now, a)
		}
	}
	if len(queued) > 0 {
		if _, err := jobs.ReleaseOrdered(ctx, tx, s.config.River, s.config.MaxAttempts, webhookIDs, resources); err != nil {
			return nil, err
		}
	}
	return now, nil
}

// skipMessage gives up on the message at the head of an ordered webhook's
// resource, which failed or waits to retry: it is cancelled, saying who
// skipped it, and the next change of the resource goes.
func (s *Server) skipMessage(w http.ResponseWriter, r *http.Request) {
	m, ok := s.loadMessage(w, r)
	if !ok {
		return
	}
	if _, ok := readObject(w, r, true); !ok {
		return
	}
	id := m.WebhooksMessage.ID
	p := principalFrom(r.Context())
	who, err := s.queries.UserDisplayName(r.Context(), s.config.Pool, p.UserID)
	if err != nil {
		s.internalError(w, r, "error reading user", err)
		return
	}
	if s.config.River == nil {
		s.internalError(w, r, "error skipping message", errors.New("no River client configured"))
		return
	}
	tx, err := s.config.Pool.Begin(r.Context())
	if err != nil {
		s.internalError(w, r, "error beginning transaction", err)
		return
	}
	defer tx.Rollback(r.Context()) //nolint:errcheck
	if err := s.queries.OrderedLock(r.Context(), tx); err != nil {
		s.internalError(w, r, "error locking the ordered queue", err)
		return
	}
	head, err := s.queries.OrderedHead(r.Context(), tx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("message %q holds nothing up: only the message an ordered webhook's resource waits behind can be skipped", id))
		return
	}
	if err != nil {
		s.internalError(w, r, "error reading the ordered queue", err)
		return
	}
	if !head.Released {
		behind, err := s.queries.OrderedWaitingBehind(r.Context(), tx, []string{id})
		if err != nil {
			s.internalError(w, r, "error reading the ordered queue", err)
			return
		}
		msg := fmt.Sprintf("message %q waits its turn; skip the message it waits behind", id)
		if len(behind) > 0 {
			msg = fmt.Sprintf("message %q waits behind %q; skip that one", id, behind[0].Behind)
		}
		writeProblem(w, http.StatusConflict, msg)
		return
	}
	// Read in the transaction: the lock keeps the queue still, not the
	// message, which its delivery may be changing.
	state, err := s.queries.MessageLockState(r.Context(), tx, db.MessageLockStateParams{ID: id, CapturedAt: m.WebhooksMessage.CapturedAt})
	if err != nil {
		s.internalError(w, r, "error loading message", err)
		return
	}
	if state != "failed" && state != "retrying" && state != "pending" {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("message %q is %s: only a message that failed or waits to retry can be skipped", id, state))
		return
	}
	// Its jobs still to run are cancelled; one running is refused: its
	// attempt could yet succeed, after the next change had gone.
	live, err := s.queries.MessageLiveJobs(r.Context(), tx, id)
	if err != nil {
		s.internalError(w, r, "error reading the message's delivery jobs", err)
		return
	}
	for _, j := range live {
		if j.State == string(rivertype.JobStateRunning) || j.State == string(rivertype.JobStatePending) {
			writeProblem(w, http.StatusConflict, fmt.Sprintf("message %q is being sent, or its attempt is finishing; try again in a moment, and skip it if it fails", id))
			return
		}
	}
	if state == "pending" && len(live) > 0 {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("message %q is about to be sent; skip it if it fails", id))
		return
	}
	for _, j := range live {
		job, err := s.config.River.JobCancelTx(r.Context(), tx, j.ID)
		if err != nil {
			s.internalError(w, r, "error cancelling the delivery job", err)
			return
		}
		if job.State == rivertype.JobStateRunning {
			writeProblem(w, http.StatusConflict, fmt.Sprintf("message %q is being sent, or its attempt is finishing; try again in a moment, and skip it if it fails", id))
			return
		}
	}
	reason := fmt.Sprintf("skipped by %s: the next change of %s went on", who, head.Resource)
	if err := s.queries.MessageSetState(r.Context(), tx, db.MessageSetStateParams{ID: id, CapturedAt: &m.WebhooksMessage.CapturedAt, State: "cancelled", LastStatusCode: m.WebhooksMessage.LastStatusCode, LastError: &reason}); err != nil {
		s.internalError(w, r, "error skipping message", err)
		return
	}
	if _, err := s.queries.OrderedFinish(r.Context(), tx, []string{id}); err != nil {
		s.internalError(w, r, "error skipping message", err)
		return
	}
	if _, err := jobs.ReleaseOrdered(r.Context(), tx, s.config.River, s.config.MaxAttempts, []string{head.WebhookID}, []string{head.Resource}); err != nil {
		s.internalError(w, r, "error releasing the next message", err)
		return
	}
	if err := tx.Commit(r.Context()); err != nil {
		s.internalError(w, r, "error committing", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		LastError string `json:"lastError"`
	}{id, "cancelled", reason})
}
