package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/expansion"
	"github.com/countercyclical/webhooks/internal/retention"
	"github.com/countercyclical/webhooks/internal/riverjob"
)

// Queues: expansion and delivery apart, so that neither starves the other.
const (
	QueueExpand  = "outbox_expand"
	QueueDeliver = "webhook_deliver"
	// QueueMaintenance runs retention and partition upkeep: on the expand
	// queue, under steady load, expansion's jobs (each working until the
	// outbox is empty) held every worker, and retention waited for minutes.
	QueueMaintenance = "webhooks_maintenance"
)

// DefaultDeliverWorkers is the default of WEBHOOKS_DELIVER_WORKERS.
const DefaultDeliverWorkers = 200

// MaxConns is the pool size of a process that runs the jobs (serve, worker,
// the bench), where the URL's pool_max_conns does not set one: pgxpool's
// default (4 on this size of machine) is too few for River's listener, the
// outbox listener and the workers.
const MaxConns = 30

// DefaultJobRetention is how long River keeps completed and cancelled jobs:
// a minute, enough for River UI to show the jobs going by. The log is in
// messages and attempts; every completed job kept is a row that autovacuum
// of river_job reads each minute, and at 1,100 deliveries a second ten
// minutes of them made its visits 5.7 s long on average, up to 10 s, and
// the deliveries stall beside them (docs/performance.md).
const DefaultJobRetention = time.Minute

// Config configures the River client of serve and worker.
type Config struct {
	ExpandWorkers  int // default 2
	DeliverWorkers int // default DefaultDeliverWorkers
	// ExpandBatch is how many outbox rows one transaction expands (default 500).
	ExpandBatch int
	// SafetyNet is how often expansion runs without a NOTIFY (default 5s).
	SafetyNet time.Duration
	Delivery  delivery.Config
	Logger    *slog.Logger
	// Work false makes an insert-only client (tests, the API of a process
	// that runs no workers).
	Work bool
	// Retention is how long events, messages and attempts are kept
	// (default retention.DefaultRetention); discarded delivery jobs are kept as long,
	// so a failure stays retryable in River UI while its log exists.
	Retention time.Duration
	// PartitionStep is how much time one partition of the logs covers
	// (default retention.DefaultPartitionStep); PartitionsAhead how many are kept
	// ready after the current one (default retention.DefaultPartitionsAhead).
	PartitionStep   time.Duration
	PartitionsAhead int
	// JobRetention is how long River keeps completed and cancelled jobs
	// (default DefaultJobRetention): River UI shows recent ones; the log is
	// in messages and attempts.
	JobRetention time.Duration
	// ExpandOnly works the expand queue alone: for tests and benchmarks that
	// count the delivery jobs expansion makes.
	ExpandOnly bool
	// ReindexAt is when, each day, River rebuilds its table's indexes
	// (REINDEX INDEX CONCURRENTLY, one after another): a time of day in
	// UTC, as the time since midnight (default 0, River's own midnight), or
	// NoReindex. The rebuild slows deliveries for as long as it takes, so
	// an operator puts it in the quietest hour.
	ReindexAt time.Duration
}

// NoReindex as Config.ReindexAt turns River's reindexer off.
const NoReindex time.Duration = -1

// WithDefaults is the configuration with its defaults filled in: what a
// client made of it runs with.
func (c Config) WithDefaults() Config {
	c.ExpandWorkers = cmp.Or(c.ExpandWorkers, 2)
	c.DeliverWorkers = cmp.Or(c.DeliverWorkers, DefaultDeliverWorkers)
	c.ExpandBatch = cmp.Or(c.ExpandBatch, 500)
	c.SafetyNet = cmp.Or(c.SafetyNet, 5*time.Second)
	c.Retention = cmp.Or(c.Retention, retention.DefaultRetention)
	c.PartitionStep = cmp.Or(c.PartitionStep, retention.DefaultPartitionStep)
	c.PartitionsAhead = cmp.Or(c.PartitionsAhead, retention.DefaultPartitionsAhead)
	c.JobRetention = cmp.Or(c.JobRetention, DefaultJobRetention)
	c.Delivery = c.Delivery.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// NewClient returns the River client with both workers, the NOTIFY-driven
// and periodic expansion, and River's retention set so that discarded
// deliveries stay retryable as long as their logs. River keeps its completed
// jobs: a Runner deletes them (riverjob.CleanCompleted).
func NewClient(pool *pgxpool.Pool, config Config) (*river.Client[pgx.Tx], error) {
	client, _, err := newClient(pool, config)
	return client, err
}

// newClient is NewClient, with the deliverer its delivery worker uses.
func newClient(pool *pgxpool.Pool, config Config) (*river.Client[pgx.Tx], *delivery.Deliverer, error) {
	config = config.WithDefaults()
	if config.ReindexAt != NoReindex && (config.ReindexAt < 0 || config.ReindexAt >= 24*time.Hour) {
		return nil, nil, fmt.Errorf("error creating River client: ReindexAt %s is not a time of day (0 to 24h) or NoReindex", config.ReindexAt)
	}

	// The workers make delivery jobs on the client made of them, below.
	var client *river.Client[pgx.Tx]
	maxAttempts := config.Delivery.MaxAttempts()
	enqueue := func(ctx context.Context, tx pgx.Tx, deliveries []expansion.Delivery) error {
		return enqueuer(client, maxAttempts)(ctx, tx, deliveries)
	}

	workers := river.NewWorkers()
	orderer := expansion.NewOrderer(pool, enqueue, config.Logger)
	expander := &ExpandWorker{expander: &expansion.Expander{Pool: pool, Batch: config.ExpandBatch, Enqueue: enqueue, Orderer: orderer, Logger: config.Logger}}
	d := delivery.New(pool, config.Delivery, config.Logger)
	deliverer := &DeliverWorker{deliverer: d, logger: config.Logger, orderer: orderer}
	if err := river.AddWorkerSafely(workers, expander); err != nil {
		return nil, nil, fmt.Errorf("error adding expand worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, deliverer); err != nil {
		return nil, nil, fmt.Errorf("error adding deliver worker: %w", err)
	}
	keeper := &RetentionWorker{keeper: &retention.Keeper{Pool: pool, Retention: config.Retention, Step: config.PartitionStep, Ahead: config.PartitionsAhead, Logger: config.Logger}}
	if err := river.AddWorkerSafely(workers, keeper); err != nil {
		return nil, nil, fmt.Errorf("error adding retention worker: %w", err)
	}
	replayer := &ReplayWorker{replayer: &expansion.Replayer{Pool: pool, Enqueue: enqueue, Logger: config.Logger}}
	if err := river.AddWorkerSafely(workers, replayer); err != nil {
		return nil, nil, fmt.Errorf("error adding replay worker: %w", err)
	}
	riverConfig := newRiverConfig(config, workers)
	if config.Work {
		riverConfig.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(config.SafetyNet), func() (river.JobArgs, *river.InsertOpts) {
				return ExpandArgs{}, nil
			}, &river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(retention.Period(config.PartitionStep)), func() (river.JobArgs, *river.InsertOpts) {
				return RetentionArgs{}, nil
			}, &river.PeriodicJobOpts{RunOnStart: true}),
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), riverConfig)
	if err != nil {
		return nil, nil, fmt.Errorf("error creating River client: %w", err)
	}
	return client, d, nil
}

// newRiverConfig is the River configuration of a client with these
// workers: one place, so that the benchmark's no-op baseline runs with
// exactly the settings deliveries do.
func newRiverConfig(config Config, workers *river.Workers) *river.Config {
	riverConfig := &river.Config{
		// River's own progress reports are noise here; its warnings are not.
		Logger:  slog.New(levelFilter{config.Logger.Handler(), slog.LevelWarn}),
		Workers: workers,
		// A delivery may take the whole request timeout; River must not
		// think it stuck before then.
		RescueStuckJobsAfter:        config.Delivery.Timeout + time.Minute,
		DiscardedJobRetentionPeriod: config.Retention,
		// Completed jobs, thousands a second, are deleted by the runner
		// in small batches (riverjob.CleanCompleted), not by River's
		// cleaner in 10,000s.
		CompletedJobRetentionPeriod: -1,
		CancelledJobRetentionPeriod: config.JobRetention,
		// River sends an insert notification per queue at most once per
		// FetchCooldown; at its default (100ms) a job inserted soon after
		// another waits for the next poll. Short, so that a delivery starts
		// within milliseconds of the commit.
		FetchCooldown:       5 * time.Millisecond,
		ReindexerIndexNames: riverjob.Reindexed(),
		ReindexerSchedule:   reindexSchedule(config.ReindexAt),
		// A rebuild cut off by the timeout leaves an invalid copy of its
		// index (name_ccnew) that every write to river_job still updates,
		// and River skips that index from then on. At an hour of completed
		// jobs (6 million rows), the fetching index alone took 17 s to
		// rebuild on an idle server here, and a loaded one is slower;
		// River's default of a minute leaves too little room.
		ReindexerTimeout: 10 * time.Minute,
	}
	if config.Work {
		riverConfig.Queues = map[string]river.QueueConfig{
			// Expansion wakes within milliseconds of a commit.
			// Polls back up notifications River skipped (see FetchCooldown).
			QueueExpand:      {MaxWorkers: config.ExpandWorkers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 100 * time.Millisecond},
			QueueDeliver:     {MaxWorkers: config.DeliverWorkers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 250 * time.Millisecond},
			QueueMaintenance: {MaxWorkers: 1},
		}
		if config.ExpandOnly {
			delete(riverConfig.Queues, QueueDeliver)
		}
	}
	return riverConfig
}

// reindexSchedule is River's reindexer's schedule for Config.ReindexAt.
func reindexSchedule(at time.Duration) river.PeriodicSchedule {
	if at == NoReindex {
		return river.NeverSchedule()
	}
	return dailyAt(at)
}

// dailyAt is a time of day in UTC, as the time since midnight, every day.
type dailyAt time.Duration

// Next is the first time of day d strictly after t: River asks with the
// time of the run it just started, which must not come round again.
func (d dailyAt) Next(t time.Time) time.Time {
	next := t.UTC().Truncate(24 * time.Hour).Add(time.Duration(d))
	if !next.After(t) {
		next = next.Add(24 * time.Hour)
	}
	return next
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], listening func()) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("error acquiring connection: %w", err)
	}
	defer func() {
		// The connection is LISTENing: close it rather than hand it back.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, "LISTEN webhooks_outbox"); err != nil {
		return fmt.Errorf("error listening: %w", err)
	}
	listening()
	var last int64 // the expand job inserted last
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return fmt.Errorf("error waiting for notification: %w", err)
		}
		// Drain what else has arrived, so a burst makes one job.
		for {
			drainCtx, cancel := context.WithTimeout(ctx, time.Millisecond)
			_, err := conn.Conn().WaitForNotification(drainCtx)
			cancel()
			if err != nil {
				break
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if waiting, err := wakeWaiting(ctx, client, last); err != nil {
			return err
		} else if waiting {
			continue
		}
		res, err := client.Insert(ctx, ExpandArgs{}, nil)
		if err != nil {
			return fmt.Errorf("error inserting expand job: %w", err)
		}
		last = res.Job.ID
	}
}

// wakeWaiting says whether the expand job this listener inserted last, id,
// has yet to start. Such a job expands every event committed before it
// runs (it claims until the queue is empty), so the notification needs no
// job of its own. Inserting one per notification left 40,000 waiting in
// River's table after 25 minutes at 1,200 events/s, each to claim an empty
// queue. (River's unique jobs cannot say "one waiting": their states must
// include running, and an event committed while a job runs needs another.)
func wakeWaiting(ctx context.Context, client *river.Client[pgx.Tx], id int64) (bool, error) {
	if id == 0 {
		return false, nil
	}
	job, err := client.JobGet(ctx, id)
	switch {
	case errors.Is(err, river.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("error reading expand job: %w", err)
	}
	return job.State == rivertype.JobStateAvailable, nil
}

// levelFilter passes records at or above a level to another handler.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= f.min && f.Handler.Enabled(ctx, level)
}

func (f levelFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(attrs), f.min}
}

func (f levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(name), f.min}
}
