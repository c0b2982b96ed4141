package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/batch"
	"github.com/countercyclical/webhooks/internal/riverjob"
)

// Message is a message as a delivery reads it: with its webhook, secrets
// and event.
type Message = db.MessageGetForDeliveryManyRow

// Deliverer makes the deliveries of one process: it loads their messages
// and records their attempts in batches shared by concurrent deliveries,
// caps the deliveries under way per webhook, and sends. Close it once no
// delivery is under way.
type Deliverer struct {
	pool     *pgxpool.Pool
	config   Config
	client   *http.Client
	logger   *slog.Logger
	gates    *gates
	recorder *recorder
	// loader reads the messages of concurrent deliveries in one query.
	loader *batch.Batcher[messageKey, *Message]
	// closed ends the recorder's waits between tries.
	closed chan struct{}
}

// New returns the deliverer of config, with its defaults filled in.
func New(pool *pgxpool.Pool, config Config, logger *slog.Logger) *Deliverer {
	config = config.WithDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	transport := config.Transport
	if transport == nil {
		transport = guardedTransport(config.Policy, config.ConnectTimeout)
	}
	d := &Deliverer{
		pool: pool, config: config, logger: logger, gates: newGates(config.MaxInflight), closed: make(chan struct{}),
		client: &http.Client{
			Transport: transport,
			Timeout:   config.Timeout,
			// Redirects are not followed: a 3xx is the endpoint's answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	d.recorder = newRecorder(pool, config.DisableAfter, logger, d.closed)
	d.recorder.beforeWrite = config.Hooks.BeforeRecord
	d.loader = batch.New(maxLoadBatch, d.load)
	return d
}

// Config is the configuration the deliverer runs with, defaults filled in.
func (d *Deliverer) Config() Config { return d.config }

// Close gives up the recorder's retries of a batch that fails: a batch
// being retried then fails at once, and its attempts are logged as not
// recorded.
func (d *Deliverer) Close() {
	select {
	case <-d.closed:
	default:
		close(d.closed)
	}
}

// Load reads a message, in the partition of capturedAt (zero: in any),
// with those of concurrent deliveries; nil when it no longer exists.
func (d *Deliverer) Load(ctx context.Context, messageID string, capturedAt time.Time) (*Message, error) {
	m, err := d.loader.Do(ctx, messageKey{id: messageID, capturedAt: capturedAt})
	if err != nil {
		return nil, fmt.Errorf("error loading message: %w", err)
	}
	return m, nil
}

// Admit takes a place for a delivery of m's webhook: under its rate limit
// and its cap of deliveries under way in this process. It returns the
// release of the place, to call once the POST has ended, or, when there is
// none, how long the delivery should wait (snooze) before it tries again;
// snoozes is how many times it already has. Waiting uses no attempt.
func (d *Deliverer) Admit(ctx context.Context, m *Message, snoozes int) (release func(), wait time.Duration, err error) {
	if m.RateLimitPerSecond != nil {
		taken, err := db.New().RateWindowTake(ctx, d.pool, m.WebhookID)
		if err != nil {
			return nil, 0, fmt.Errorf("error taking rate limit: %w", err)
		}
		if taken.Count > *m.RateLimitPerSecond {
			return nil, d.gates.rateSnooze(m.WebhookID, *m.RateLimitPerSecond, taken.WindowStart.Add(time.Second)), nil
		}
	}
	release, wait = d.gates.acquire(ctx, m.WebhookID, snoozes)
	if release == nil {
		d.park(ctx, m.WebhookID)
	}
	return release, wait, nil
}

// park puts aside the backlog of a webhook found at its cap, when this
// process has not done so lately, so that its jobs are not fetched one by one
// only to be snoozed. Best effort: a failure leaves them to be snoozed so.
func (d *Deliverer) park(ctx context.Context, webhookID string) {
	wake, spacing, ok := d.gates.parkPlan(webhookID)
	if !ok {
		return
	}
	n, err := riverjob.Park(ctx, d.pool, webhookID, wake, spacing, time.Now().Add(maxSnooze), parkMax)
	if err != nil {
		d.logger.WarnContext(ctx, "putting a webhook's backlog aside failed", "webhook_id", webhookID, "error", err)
		return
	}
	d.gates.parked(webhookID, n, spacing)
}

// Send POSTs m's envelope, signed with its webhook's secret and, while it
// is valid, the secret rotated out.
func (d *Deliverer) Send(ctx context.Context, m *Message) (Result, error) {
	body, err := EnvelopeBody(m)
	if err != nil {
		return Result{}, err
	}
	secrets := []string{m.Secret}
	if m.PreviousSecret != nil && m.PreviousExpiresAt != nil && m.PreviousExpiresAt.After(time.Now()) {
		secrets = append(secrets, *m.PreviousSecret)
	}
	r := d.send(ctx, m.URL, m.ID, secrets, body)
	if !r.OK() {
		r.Endpoint = Endpoint(m.URL)
	}
	return r, nil
}

// Record writes an attempt with those of concurrent deliveries, and returns
// what it tells of its webhook. When ctx ends first the attempt is written
// all the same, if it can be.
func (d *Deliverer) Record(ctx context.Context, a Attempt) (Health, error) {
	h, err := d.recorder.record(ctx, a)
	if err != nil {
		return Health{}, err
	}
	if d.config.Hooks.AfterRecord != nil {
		d.config.Hooks.AfterRecord(a)
	}
	return h, nil
}

// Disable disables a webhook for the pipeline, and logs it when this call
// did (concurrent deliveries may find the same reason at once).
func (d *Deliverer) Disable(ctx context.Context, webhookID, rawURL, reason string) error {
	n, err := db.New().WebhookDisable(ctx, d.pool, db.WebhookDisableParams{ID: webhookID, Reason: &reason})
	if err != nil {
		return fmt.Errorf("error disabling webhook: %w", err)
	}
	if n > 0 {
		d.logger.ErrorContext(ctx, "webhook disabled; it gets no deliveries until it is enabled again",
			"webhook_id", webhookID, "endpoint", Endpoint(rawURL), "reason", reason)
	}
	return nil
}

// SetState records where a message stands, in our table, which outlives
// River's job rows. capturedAt names the message's partition; zero (a job
// of a release before partitions) looks in every one.
func (d *Deliverer) SetState(ctx context.Context, messageID string, capturedAt time.Time, state string, statusCode *int32, cause error) error {
	params := db.MessageSetStateParams{ID: messageID, State: state, LastStatusCode: statusCode}
	if !capturedAt.IsZero() {
		params.CapturedAt = &capturedAt
	}
	if cause != nil {
		msg := cause.Error()
		params.LastError = &msg
	}
	if err := db.New().MessageSetState(context.WithoutCancel(ctx), d.pool, params); err != nil {
		return fmt.Errorf("error recording message state: %w", err)
	}
	return nil
}
