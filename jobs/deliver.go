package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/expansion"
	"github.com/countercyclical/webhooks/internal/metrics"
	"github.com/countercyclical/webhooks/internal/riverjob"
)

// DeliverArgs are the args of webhook_deliver: what finds the message, and
// what River UI shows of it; the envelope is built from the outbox at each
// attempt.
type DeliverArgs struct {
	MessageID string `json:"messageId"`
	// CapturedAt is when the message's event was captured: the partition of
	// the logs the message is in. Zero in jobs of an earlier release, whose
	// messages are looked for in every partition.
	CapturedAt time.Time `json:"capturedAt,omitzero"`
	WebhookID  string    `json:"webhookId"`
	EventType  string    `json:"eventType"`
	// Trigger is what made the job: delivery.TriggerManualRetry, TriggerRecover,
	// TriggerTest or TriggerReplay; empty for expansion's (and an earlier release's) jobs,
	// which are the schedule's.
	Trigger string `json:"trigger,omitempty"`
	// Ordered marks the delivery of an ordered webhook's message, released
	// from its resource's queue: when it ends, the next is released.
	Ordered bool `json:"ordered,omitempty"`

	// retryAfter carries an endpoint's Retry-After from Work to NextRetry,
	// which River calls with the same job.
	retryAfter time.Duration
	// failure is the attempt's failure, for the log line of a discard.
	failure *delivery.Result
}

// triggeredBy is what made this attempt of the job: the job's trigger made
// its first, the schedule the retries after it, except the one someone
// brought forward ("Retry now": River's JobRetry on the scheduled job),
// which the message notes as retry_requested_at: the attempt after the
// request's time is a manual retry. An attempt past the schedule's last is
// a retry someone asked for after the job was discarded (River UI's Retry
// button, or River's JobRetry), which River grants by raising the job's
// max_attempts by one: a manual retry too. (Only a schedule shortened while
// a job was under way could make a normal attempt look so.)
func (w *DeliverWorker) triggeredBy(job *river.Job[DeliverArgs], requested *time.Time) string {
	switch {
	case job.Attempt > w.deliverer.Config().MaxAttempts():
		return delivery.TriggerManualRetry
	case job.Attempt == 1 && job.Args.Trigger != "":
		return job.Args.Trigger
	case job.Attempt > 1 && requested != nil && len(job.Errors) > 0 && requested.After(job.Errors[len(job.Errors)-1].At):
		// Asked for since the last attempt failed. Both times are
		// clocks of this installation's hosts; a request and the failure
		// before it are seconds apart at the least.
		return delivery.TriggerManualRetry
	default:
		return delivery.TriggerSchedule
	}
}

// Kind is the job's kind.
func (DeliverArgs) Kind() string { return "webhook_deliver" }

// InsertOpts puts deliveries on their own queue.
func (DeliverArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueDeliver} }

// DeliverWorker makes a message's delivery attempts through the process's
// deliverer, and leaves retries to River on the webhook schedule.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	deliverer *delivery.Deliverer
	logger    *slog.Logger
	// orderer releases the next message of an ordered delivery's resource.
	orderer *expansion.Orderer
}

// Timeout bounds a job beyond the request's own timeout.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.deliverer.Config().Timeout + 30*time.Second
}

// NextRetry follows the schedule with ±20% jitter, waiting longer where an
// endpoint's Retry-After (bounded to an hour) asks it to; never sooner, so
// that "Retry-After: 1" from a struggling endpoint cannot spend every attempt
// in seconds. The Retry-After comes from Work on the job's args, which River
// passes to both (riverjob's TestNextRetrySeesWorksArgs).
func (w *DeliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(max(w.deliverer.Config().RetryDelay(job.Attempt), job.Args.retryAfter))
}

// Work makes one attempt, and logs the job's discard when this was its last
// attempt, whatever ended it.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	err := w.work(ctx, job)
	var cancelled *rivertype.JobCancelError
	var snoozed *rivertype.JobSnoozeError
	// An ordered message that succeeded or was cancelled lets the next of
	// its resource go. Should that fail, the job is retried: it finds its
	// message succeeded (or cancels it again) and finishes it then.
	if job.Args.Ordered && (err == nil || errors.As(err, &cancelled)) {
		if ferr := w.orderer.Finish(context.WithoutCancel(ctx), job.Args.MessageID); ferr != nil {
			return ferr
		}
	}
	if err == nil || errors.As(err, &cancelled) || errors.As(err, &snoozed) || job.Attempt < job.MaxAttempts {
		return err
	}
	// River discards the job: no attempt is left.
	attrs := []any{"message_id", job.Args.MessageID, "webhook_id", job.Args.WebhookID, "attempts", job.Attempt}
	if f := job.Args.failure; f != nil {
		attrs = append(attrs, f.LogAttrs()...)
	} else {
		attrs = append(attrs, "error", err.Error()) // not an attempt's: no URL in it
	}
	w.logger.ErrorContext(ctx, "delivery failed for good; job discarded (retry it from River UI or the API)", attrs...)
	return err
}

// work is one attempt: load the message, check it is still to be sent,
// take a place under its webhook's limits, POST, record the attempt, and
// end the job as the attempt came out.
func (w *DeliverWorker) work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	m, err := w.deliverer.Load(ctx, job.Args.MessageID, job.Args.CapturedAt)
	if err != nil {
		return err
	}
	if done, err := w.check(ctx, job, m); done {
		return err
	}

	release, wait, err := w.deliverer.Admit(ctx, m, riverjob.Snoozes(job.Metadata))
	if err != nil {
		return err
	}
	if release == nil {
		return river.JobSnooze(wait)
	}
	// The slot is the endpoint's: freed when the POST ends, not when its
	// record is written. Held through a database outage, it made every
	// endpoint look slow, and its backlog was put aside for minutes.
	release = sync.OnceFunc(release)
	defer release()
	result, err := w.deliverer.Send(ctx, m)
	release()
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		// Stopped or timed out by River, not failed by the endpoint: no
		// attempt against it, and River retries the job.
		return fmt.Errorf("delivery interrupted: %w", ctx.Err())
	}

	attempt := w.judge(ctx, job, m, result)
	// The job completes only once its attempt is recorded. Waiting for
	// that ends with the job's context (River's timeout, shutdown), which
	// comes before River would rescue the job as stuck; the attempt is
	// recorded all the same when the database lets it.
	health, err := w.deliverer.Record(ctx, attempt)
	if err != nil {
		return err
	}
	return w.conclude(ctx, job, m, result, attempt, health)
}

// check ends the job, done, when its message is not to be sent: removed,
// already delivered, its webhook deleted or disabled, its replay cancelled,
// or, ordered, skipped.
func (w *DeliverWorker) check(ctx context.Context, job *river.Job[DeliverArgs], m *delivery.Message) (done bool, err error) {
	switch {
	case m == nil:
		return true, river.JobCancel(fmt.Errorf("message %s no longer exists (removed by retention)", job.Args.MessageID))
	case m.State == delivery.StateSucceeded:
		// Its success is recorded: a job rescued after a crash between the
		// record and River's completion, or retried meanwhile. A retry
		// asked for makes the message pending first.
		return true, nil
	// Said for the people who read a message's last status; the job's args
	// name the webhook for River UI.
	case !m.WebhookExists:
		return true, w.cancel(ctx, job, nil, errors.New("not sent: its webhook was deleted"))
	case !m.Enabled:
		reason := "no reason given"
		if m.DisabledReason != nil {
			reason = *m.DisabledReason
		}
		return true, w.cancel(ctx, job, nil, fmt.Errorf("not sent: its webhook is disabled (%s)", reason))
	case m.ReplayCancelled:
		return true, w.cancel(ctx, job, nil, errors.New("not sent: its replay was cancelled"))
	case job.Args.Ordered && m.State == delivery.StateCancelled:
		// Skipped while this job waited (or run again from River UI): the
		// next change of its resource may be under way. A retry asked
		// through the API makes it pending first.
		return true, river.JobCancel(errors.New("not sent: it was skipped or cancelled; retry it to send it in turn"))
	}
	return false, nil
}

// judge makes the attempt's record: the message's state after it, and, for
// a failure, the error River keeps, the log line, and the metrics.
func (w *DeliverWorker) judge(ctx context.Context, job *river.Job[DeliverArgs], m *delivery.Message, result delivery.Result) delivery.Attempt {
	metrics.AttemptSeconds.Observe(result.Duration.Seconds())
	triggeredBy := w.triggeredBy(job, m.RetryRequestedAt)
	eventID := ""
	if m.EventID != nil {
		eventID = *m.EventID
	}
	attempt := delivery.Attempt{
		MessageID: m.ID, EventID: eventID, WebhookID: m.WebhookID, WorkspaceID: m.WorkspaceID, EventType: m.EventType,
		URL: m.URL, StartedAt: result.Started.Truncate(time.Microsecond), DurationMs: float64(result.Duration.Microseconds()) / 1000,
		Succeeded: result.OK(), StatusCode: result.StatusCode, ErrorClass: result.ErrorClass, ErrorMessage: result.ErrorMessage,
		ResponseExcerpt: result.Excerpt, RiverJobID: job.ID, State: delivery.StateSucceeded, TriggeredBy: triggeredBy,
		CapturedAt: m.CapturedAt,
	}
	if result.OK() {
		metrics.Deliveries.WithLabelValues(delivery.StateSucceeded).Inc()
		return attempt
	}
	metrics.Deliveries.WithLabelValues(*result.ErrorClass).Inc()
	job.Args.failure = &result
	w.logger.WarnContext(ctx, "delivery attempt failed", append([]any{"message_id", m.ID, "webhook_id", m.WebhookID,
		"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "triggered_by", triggeredBy}, result.LogAttrs()...)...)
	failure := fmt.Sprintf("attempt %d: %s", job.Attempt, *result.ErrorMessage) // River's count, as River UI shows it
	switch {
	case result.StatusCode != nil && *result.StatusCode == http.StatusGone:
		failure += "; webhook disabled"
		attempt.State = delivery.StateCancelled
	case job.Attempt >= job.MaxAttempts:
		attempt.State = delivery.StateFailed // River discards the job: retries are exhausted
	default:
		attempt.State = delivery.StateRetrying
	}
	attempt.LastError = &failure
	return attempt
}

// conclude ends the job as its recorded attempt came out: done, cancelled
// with its webhook disabled (410 Gone, or failing past
// WEBHOOKS_DISABLE_AFTER), or failed, for River to retry on the schedule.
func (w *DeliverWorker) conclude(ctx context.Context, job *river.Job[DeliverArgs], m *delivery.Message, result delivery.Result, attempt delivery.Attempt, health delivery.Health) error {
	if attempt.Succeeded {
		return nil
	}
	failure := errors.New(*attempt.LastError)
	switch {
	case attempt.State == delivery.StateCancelled:
		if err := w.deliverer.Disable(context.WithoutCancel(ctx), m.WebhookID, m.URL, "the endpoint answered 410 Gone"); err != nil {
			return err
		}
		return river.JobCancel(failure)
	case health.PastDisableAfter:
		reason := fmt.Sprintf("failing without a success since %s (longer than %s)", health.FailingSince.UTC().Format(time.RFC3339), w.deliverer.Config().DisableAfter)
		if err := w.deliverer.Disable(ctx, m.WebhookID, m.URL, reason); err != nil {
			return err
		}
		return w.cancel(ctx, job, result.StatusCode, fmt.Errorf("%w; webhook disabled: %s", failure, reason))
	}
	job.Args.retryAfter = result.RetryAfter
	return failure
}

// cancel ends the job for good, saying why, in River and in our table.
func (w *DeliverWorker) cancel(ctx context.Context, job *river.Job[DeliverArgs], statusCode *int32, cause error) error {
	if err := w.deliverer.SetState(ctx, job.Args.MessageID, job.Args.CapturedAt, delivery.StateCancelled, statusCode, cause); err != nil {
		return err
	}
	return river.JobCancel(cause)
}
