package jobs

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/metrics"
	"github.com/countercyclical/webhooks/internal/netguard"
	"github.com/countercyclical/webhooks/webhook"
)

// UserAgent names the sender to receivers.
const UserAgent = "countercyclical-webhooks/0.1"

// Limits of what is read of an answer.
const (
	maxResponseRead = 64 << 10
	maxResponseKept = 4 << 10
	maxRetryAfter   = time.Hour
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
	// Trigger is what made the job: TriggerManualRetry, TriggerRecover,
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
	failure *result
}

// What made an attempt (delivery_attempts.triggered_by, triggeredBy in the
// API).
const (
	TriggerSchedule    = "schedule"     // a delivery, and every retry on the schedule
	TriggerManualRetry = "manual_retry" // POST /v1/messages/{id}/retry, River UI's Retry
	TriggerRecover     = "recover"      // POST /v1/webhooks/{id}/recover
	TriggerTest        = "test"         // POST /v1/webhooks/{id}/test
	TriggerReplay      = "replay"       // POST /v1/webhooks/{id}/replay
)

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
	case job.Attempt > w.config.MaxAttempts():
		return TriggerManualRetry
	case job.Attempt == 1 && job.Args.Trigger != "":
		return job.Args.Trigger
	case job.Attempt > 1 && requested != nil && len(job.Errors) > 0 && requested.After(job.Errors[len(job.Errors)-1].At):
		// Asked for since the last attempt failed. Both times are
		// clocks of this installation's hosts; a request and the failure
		// before it are seconds apart at the least.
		return TriggerManualRetry
	default:
		return TriggerSchedule
	}
}

// Kind is the job's kind.
func (DeliverArgs) Kind() string { return "webhook_deliver" }

// InsertOpts puts deliveries on their own queue.
func (DeliverArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueDeliver} }

// DeliverWorker POSTs one message, records the attempt, and leaves retries
// to River on the webhook schedule.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	pool     *pgxpool.Pool
	config   DeliveryConfig
	client   *http.Client
	logger   *slog.Logger
	gates    *gates
	recorder *recorder
	// loader reads the messages of concurrent deliveries in one query.
	loader *batcher[messageKey, *db.MessageGetForDeliveryManyRow]
	// orderer releases the next message of an ordered delivery's resource.
	orderer *orderer
	hooks   *deliveryHooks
}

func newDeliverWorker(pool *pgxpool.Pool, config DeliveryConfig, logger *slog.Logger, hooks *deliveryHooks, orderer *orderer) (*DeliverWorker, error) {
	if hooks == nil {
		hooks = &deliveryHooks{}
	}
	transport := config.Transport
	if transport == nil {
		transport = GuardedTransport(config.Policy, config.ConnectTimeout)
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   config.Timeout,
		// Redirects are not followed: a 3xx is the endpoint's answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	w := &DeliverWorker{
		pool: pool, config: config, client: client, logger: logger,
		gates: newGates(config.MaxInflight), recorder: newRecorder(pool, config.DisableAfter, logger), hooks: hooks,
		orderer: orderer,
	}
	w.recorder.beforeWrite = hooks.beforeRecord
	w.loader = newBatcher(maxLoadBatch, w.load)
	return w, nil
}

// maxLoadBatch bounds the messages read in one query.
const maxLoadBatch = 500

// messageKey finds a message: its id, in the partition of its event's
// capture (zero: in any).
type messageKey struct {
	id         string
	capturedAt time.Time
}

// Bounds of captured_at that take in every partition.
var (
	capturedEver  = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	capturedNever = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// load reads messages by key, from the partitions between the earliest and
// the latest of their captures; a message that no longer exists is nil.
func (w *DeliverWorker) load(keys []messageKey) ([]*db.MessageGetForDeliveryManyRow, error) {
	// Not any one job's context: the batch serves them all.
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	params := db.MessageGetForDeliveryManyParams{Ids: make([]string, len(keys)), CapturedFrom: keys[0].capturedAt, CapturedTo: keys[0].capturedAt}
	for i, k := range keys {
		params.Ids[i] = k.id
		params.CapturedFrom, params.CapturedTo = minTime(params.CapturedFrom, k.capturedAt), maxTime(params.CapturedTo, k.capturedAt)
	}
	if params.CapturedFrom.IsZero() {
		params.CapturedFrom, params.CapturedTo = capturedEver, capturedNever
	}
	// A plan for any captures, kept for the session: the plan for this
	// batch's captures prunes the partitions they are not in, so PostgreSQL
	// always chose it over the one it keeps, and planning it took longer
	// than running it (1.54 ms and 0.42 ms a batch in the soak, measured
	// with pg_stat_statements). The plan kept prunes them as it starts.
	rows, err := db.New().MessageGetForDeliveryMany(ctx, keptPlan{w.pool}, params)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*db.MessageGetForDeliveryManyRow, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	out := make([]*db.MessageGetForDeliveryManyRow, len(keys))
	for i, k := range keys {
		out[i] = byID[k.id]
	}
	return out, nil
}

// keptPlan runs a query of sqlc's with the plan the session keeps for it
// (plan_cache_mode = force_generic_plan), without parallel workers, for its
// transaction only. BEGIN, the two SET LOCALs, the query and COMMIT go out
// as one batch, one round trip where a transaction of pgx's takes five. It
// runs queries only.
//
// No workers: the plan kept is costed over every partition, and with the
// partitioned tables' own statistics missing (autovacuum never analyzes a
// partitioned table) PostgreSQL made it a parallel plan. Starting two
// workers took 11-23 ms a batch of 40 messages that the plan without them
// reads in 0.5 ms (EXPLAIN ANALYZE in a soak).
type keptPlan struct{ pool *pgxpool.Pool }

func (k keptPlan) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue("SET LOCAL plan_cache_mode = force_generic_plan")
	batch.Queue("SET LOCAL max_parallel_workers_per_gather = 0")
	batch.Queue(sql, args...)
	batch.Queue("COMMIT")
	results := k.pool.SendBatch(ctx, batch)
	for range 3 {
		if _, err := results.Exec(); err != nil {
			results.Close()
			return nil, err
		}
	}
	rows, err := results.Query()
	if err != nil {
		results.Close()
		return nil, err
	}
	return &keptPlanRows{Rows: rows, results: results}, nil
}

func (keptPlan) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, errors.New("keptPlan runs queries only")
}

func (keptPlan) QueryRow(context.Context, string, ...any) pgx.Row {
	return errRow{errors.New("keptPlan runs queries only")}
}

// keptPlanRows ends the batch with the rows: the COMMIT of a read (should
// it fail, the pool drops the connection left in its transaction), then the
// connection back to the pool.
type keptPlanRows struct {
	pgx.Rows
	results pgx.BatchResults
	closed  bool
}

func (r *keptPlanRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	_, _ = r.results.Exec()
	_ = r.results.Close()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// GuardedTransport dials only addresses the policy allows, checked on the
// address actually dialled, after DNS, so that a name resolving to an
// internal address (DNS rebinding included) cannot slip through. It uses no
// proxy, which would dial for it.
func GuardedTransport(policy netguard.Policy, connectTimeout time.Duration) *http.Transport {
	dialer := &net.Dialer{
		Timeout: connectTimeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			addr, err := netip.ParseAddr(host)
			if err != nil {
				return err
			}
			return policy.CheckAddr(addr)
		},
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   connectTimeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // the client's Timeout bounds the whole request
		ForceAttemptHTTP2:     true,
	}
}

// Timeout bounds a job beyond the request's own timeout.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.config.Timeout + 30*time.Second
}

// NextRetry follows the schedule with ±20% jitter, waiting longer where an
// endpoint's Retry-After (bounded to an hour) asks it to; never sooner, so
// that "Retry-After: 1" from a struggling endpoint cannot spend every attempt
// in seconds.
func (w *DeliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(max(RetryDelay(w.config.Schedule, job.Attempt), job.Args.retryAfter))
}

// RetryDelay is the wait after failed attempt number attempt (1-based).
func RetryDelay(schedule []time.Duration, attempt int) time.Duration {
	if len(schedule) == 0 {
		return time.Second
	}
	i := min(max(attempt-1, 0), len(schedule)-1)
	d := schedule[i]
	jitter := (rand.Float64()*0.4 - 0.2) * float64(d)
	return d + time.Duration(jitter)
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
		if ferr := w.orderer.finish(context.WithoutCancel(ctx), job.Args.MessageID); ferr != nil {
			return ferr
		}
	}
	if err == nil || errors.As(err, &cancelled) || errors.As(err, &snoozed) || job.Attempt < job.MaxAttempts {
		return err
	}
	// River discards the job: no attempt is left.
	attrs := []any{"message_id", job.Args.MessageID, "webhook_id", job.Args.WebhookID, "attempts", job.Attempt}
	if f := job.Args.failure; f != nil {
		attrs = append(attrs, f.logAttrs()...)
	} else {
		attrs = append(attrs, "error", err.Error()) // not an attempt's: no URL in it
	}
	w.logger.ErrorContext(ctx, "delivery failed for good; job discarded (retry it from River UI or the API)", attrs...)
	return err
}

func (w *DeliverWorker) work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	queries := db.New()
	m, err := w.loader.do(ctx, messageKey{id: job.Args.MessageID, capturedAt: job.Args.CapturedAt})
	if err != nil {
		return fmt.Errorf("error loading message: %w", err)
	}
	if m == nil {
		return river.JobCancel(fmt.Errorf("message %s no longer exists (removed by retention)", job.Args.MessageID))
	}
	switch {
	case m.State == "succeeded":
		// Its success is recorded: a job rescued after a crash between the
		// record and River's completion, or retried meanwhile. A retry
		// asked for makes the message pending first.
		return nil
	// Said for the people who read a message's last status; the job's args
	// name the webhook for River UI.
	case !m.WebhookExists:
		return w.cancel(ctx, job, nil, errors.New("not sent: its webhook was deleted"))
	case !m.Enabled:
		reason := "no reason given"
		if m.DisabledReason != nil {
			reason = *m.DisabledReason
		}
		return w.cancel(ctx, job, nil, fmt.Errorf("not sent: its webhook is disabled (%s)", reason))
	case m.ReplayCancelled:
		return w.cancel(ctx, job, nil, errors.New("not sent: its replay was cancelled"))
	case job.Args.Ordered && m.State == "cancelled":
		// Skipped while this job waited (or run again from River UI): the
		// next change of its resource may be under way. A retry asked
		// through the API makes it pending first.
		return river.JobCancel(errors.New("not sent: it was skipped or cancelled; retry it to send it in turn"))
	}

	// Waiting for the rate limit or for a slot does not use an attempt.
	if m.RateLimitPerSecond != nil {
		taken, err := queries.RateWindowTake(ctx, w.pool, m.WebhookID)
		if err != nil {
			return fmt.Errorf("error taking rate limit: %w", err)
		}
		if taken.Count > *m.RateLimitPerSecond {
			return river.JobSnooze(w.gates.rateSnooze(m.WebhookID, *m.RateLimitPerSecond, taken.WindowStart.Add(time.Second)))
		}
	}
	release, wait := w.gates.acquire(ctx, m.WebhookID, snoozes(job.Metadata))
	if release == nil {
		w.park(ctx, m.WebhookID)
		return river.JobSnooze(wait)
	}
	// The slot is the endpoint's: freed when the POST ends, not when its
	// record is written. Held through a database outage, it made every
	// endpoint look slow, and its backlog was put aside for minutes.
	release = sync.OnceFunc(release)
	defer release()

	eventID := ""
	if m.EventID != nil {
		eventID = *m.EventID
	}
	body, err := EnvelopeBody(m)
	if err != nil {
		return err
	}

	secrets := []string{m.Secret}
	if m.PreviousSecret != nil && m.PreviousExpiresAt != nil && m.PreviousExpiresAt.After(time.Now()) {
		secrets = append(secrets, *m.PreviousSecret)
	}
	result := w.send(ctx, m.URL, m.ID, secrets, body)
	release()
	if ctx.Err() != nil {
		// Stopped or timed out by River, not failed by the endpoint: no
		// attempt against it, and River retries the job.
		return fmt.Errorf("delivery interrupted: %w", ctx.Err())
	}
	metrics.AttemptSeconds.Observe(result.duration.Seconds())
	var failure error
	state := "succeeded"
	if result.ok() {
		metrics.Deliveries.WithLabelValues("succeeded").Inc()
	} else {
		metrics.Deliveries.WithLabelValues(*result.errorClass).Inc()
		failure = fmt.Errorf("attempt %d: %s", job.Attempt, *result.errorMessage) // River's count, as River UI shows it
		result.endpoint = endpoint(m.URL)
		job.Args.failure = &result
		w.logger.WarnContext(ctx, "delivery attempt failed", append([]any{"message_id", m.ID, "webhook_id", m.WebhookID,
			"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "triggered_by", w.triggeredBy(job, m.RetryRequestedAt)}, result.logAttrs()...)...)
		gone := result.statusCode != nil && *result.statusCode == http.StatusGone
		switch {
		case gone:
			failure = fmt.Errorf("%w; webhook disabled", failure)
			state = "cancelled"
		case job.Attempt >= job.MaxAttempts:
			state = "failed" // River discards the job: retries are exhausted
		default:
			state = "retrying"
		}
	}
	record := attemptRecord{
		MessageID: m.ID, EventID: eventID, WebhookID: m.WebhookID, WorkspaceID: m.WorkspaceID, EventType: m.EventType,
		URL: m.URL, StartedAt: result.started.Truncate(time.Microsecond), DurationMs: float64(result.duration.Microseconds()) / 1000,
		Succeeded: result.ok(), StatusCode: result.statusCode, ErrorClass: result.errorClass, ErrorMessage: result.errorMessage,
		ResponseExcerpt: result.excerpt, RiverJobID: job.ID, State: state, TriggeredBy: w.triggeredBy(job, m.RetryRequestedAt),
		CapturedAt: m.CapturedAt,
	}
	if failure != nil {
		msg := failure.Error()
		record.LastError = &msg
	}
	// The job completes only once its attempt is recorded. Waiting for
	// that ends with the job's context (River's timeout, shutdown), which
	// comes before River would rescue the job as stuck; the attempt is
	// recorded all the same when the database lets it.
	outcome, err := w.recorder.record(ctx, record)
	if err != nil {
		return err
	}
	if w.hooks.afterRecord != nil {
		w.hooks.afterRecord(record)
	}
	switch {
	case failure == nil:
		return nil
	case state == "cancelled":
		if err := w.disable(context.WithoutCancel(ctx), m.WebhookID, m.URL, "the endpoint answered 410 Gone"); err != nil {
			return err
		}
		return river.JobCancel(failure)
	case outcome.pastDisableAfter:
		reason := fmt.Sprintf("failing without a success since %s (longer than %s)", outcome.failingSince.UTC().Format(time.RFC3339), w.config.DisableAfter)
		if err := w.disable(ctx, m.WebhookID, m.URL, reason); err != nil {
			return err
		}
		return w.cancel(ctx, job, result.statusCode, fmt.Errorf("%w; webhook disabled: %s", failure, reason))
	}
	job.Args.retryAfter = result.retryAfter
	return failure
}

// disable disables a webhook for the pipeline, and logs it when this call
// did (concurrent deliveries may find the same reason at once).
func (w *DeliverWorker) disable(ctx context.Context, webhookID, rawURL, reason string) error {
	n, err := db.New().WebhookDisable(ctx, w.pool, db.WebhookDisableParams{ID: webhookID, Reason: &reason})
	if err != nil {
		return fmt.Errorf("error disabling webhook: %w", err)
	}
	if n > 0 {
		w.logger.ErrorContext(ctx, "webhook disabled; it gets no deliveries until it is enabled again",
			"webhook_id", webhookID, "endpoint", endpoint(rawURL), "reason", reason)
	}
	return nil
}

// endpoint is where a URL leads, scheme and host (as webhooks.endpoint in
// SQL): never its path or query, where receivers often keep a token.
func endpoint(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

// park puts aside the backlog of a webhook found at its cap, when this
// process has not done so lately, so that its jobs are not fetched one by one
// only to be snoozed. Best effort: a failure leaves them to be snoozed so.
func (w *DeliverWorker) park(ctx context.Context, webhookID string) {
	wake, spacing, ok := w.gates.parkPlan(webhookID)
	if !ok {
		return
	}
	n, err := db.New().DeliveryJobsPark(ctx, w.pool, db.DeliveryJobsParkParams{
		WebhookID: webhookID, Wake: wake, SpacingSeconds: spacing.Seconds(), Latest: time.Now().Add(maxSnooze), MaxJobs: parkMax,
	})
	if err != nil {
		w.logger.WarnContext(ctx, "putting a webhook's backlog aside failed", "webhook_id", webhookID, "error", err)
		return
	}
	w.gates.parked(webhookID, int(n), spacing)
}

// snoozes is how many times River snoozed the job, from its metadata.
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m)
	return m.Snoozes
}

// setState records where the message stands, in our table, which outlives
// River's job rows.
func (w *DeliverWorker) setState(ctx context.Context, job *river.Job[DeliverArgs], state string, statusCode *int32, cause error) error {
	params := db.MessageSetStateParams{ID: job.Args.MessageID, State: state, LastStatusCode: statusCode}
	if cause != nil {
		msg := cause.Error()
		params.LastError = &msg
	}
	if err := db.New().MessageSetState(context.WithoutCancel(ctx), w.pool, params); err != nil {
		return fmt.Errorf("error recording message state: %w", err)
	}
	return nil
}

// cancel ends the job for good, saying why, in River and in our table.
func (w *DeliverWorker) cancel(ctx context.Context, job *river.Job[DeliverArgs], statusCode *int32, cause error) error {
	if err := w.setState(ctx, job, "cancelled", statusCode, cause); err != nil {
		return err
	}
	return river.JobCancel(cause)
}

// result is what one attempt came to.
type result struct {
	endpoint     string // scheme and host, for logs
	started      time.Time
	duration     time.Duration
	statusCode   *int32
	errorClass   *string
	errorMessage *string
	excerpt      *string
	retryAfter   time.Duration
}

func (r result) ok() bool { return r.errorClass == nil }

// logAttrs describe a failed attempt for the log: the endpoint's scheme and
// host, the error class and status, and the error where it cannot quote a
// URL (a redirect's names its Location, a bad URL's the URL itself).
func (r result) logAttrs() []any {
	attrs := []any{"endpoint", r.endpoint}
	if r.errorClass != nil {
		attrs = append(attrs, "error_class", *r.errorClass)
		switch *r.errorClass {
		case "connection", "timeout", "blocked", "status":
			attrs = append(attrs, "error", *r.errorMessage)
		}
	}
	if r.statusCode != nil {
		attrs = append(attrs, "status_code", *r.statusCode)
	}
	return attrs
}

func (r *result) fail(class, message string) {
	message = storable(message)
	r.errorClass, r.errorMessage = &class, &message
}

// storable makes text PostgreSQL can store: valid UTF-8, no NUL, which an
// endpoint's answer may well contain.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func (w *DeliverWorker) send(ctx context.Context, endpoint, msgID string, secrets []string, body []byte) (r result) {
	r.started = time.Now()
	defer func() { r.duration = time.Since(r.started) }() // r is the named result: the caller sees this

	timestamp := time.Now()
	var signatures []string
	for _, secret := range secrets {
		sig, err := webhook.Sign(secret, msgID, timestamp, body)
		if err != nil {
			r.fail("invalid_secret", "the webhook's secret is unusable: "+err.Error())
			return r
		}
		signatures = append(signatures, sig)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(string(body)))
	if err != nil {
		r.fail("invalid_url", err.Error())
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(webhook.HeaderID, msgID)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(timestamp.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, strings.Join(signatures, " "))

	resp, err := w.client.Do(req)
	if err != nil {
		// Not the url.Error itself: it quotes the URL, which may carry the
		// receiver's token, into logs and River UI.
		cause := err
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			cause = urlErr.Err
		}
		switch {
		case errors.Is(err, netguard.ErrBlocked):
			r.fail("blocked", cause.Error())
		case urlErr != nil && urlErr.Timeout():
			r.fail("timeout", fmt.Sprintf("no answer within %s", w.config.Timeout))
		default:
			r.fail("connection", cause.Error())
		}
		return r
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	code := int32(resp.StatusCode)
	r.statusCode = &code
	if len(data) > 0 {
		kept := storable(string(data[:min(len(data), maxResponseKept)]))
		r.excerpt = &kept
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return r
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		r.fail("redirect", fmt.Sprintf("answered %d (redirect to %q, not followed)", resp.StatusCode, resp.Header.Get("Location")))
	default:
		r.fail("status", fmt.Sprintf("answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return r
}

// parseRetryAfter reads seconds or an HTTP date, bounded to [1s, 1h]; zero
// when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	return min(max(d, time.Second), maxRetryAfter)
}
