package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/expansion"
	"github.com/countercyclical/webhooks/internal/liveness"
	"github.com/countercyclical/webhooks/internal/riverjob"
)

// Runner runs what a process that works jobs runs behind its front: the
// River client with its workers, the outbox listener that wakes expansion,
// the heartbeat that lets other processes tell this one alive, the
// cleaner of River's completed jobs and the capture queue's vacuum. serve,
// worker, the bench and the tests start and stop it the same way.
type Runner struct {
	// Client is the River client, for inserting jobs and River UI.
	Client *river.Client[pgx.Tx]

	pool      *pgxpool.Pool
	config    Config
	deliverer *delivery.Deliverer

	stopListen context.CancelFunc
	listening  sync.WaitGroup
	stopAlive  context.CancelFunc
	alive      chan struct{}
	stopClean  context.CancelFunc
	cleaning   sync.WaitGroup
}

// NewRunner makes the runner of a client that works (config.Work is set).
func NewRunner(pool *pgxpool.Pool, config Config) (*Runner, error) {
	config.Work = true
	config = config.WithDefaults()
	client, deliverer, err := newClient(pool, config)
	if err != nil {
		return nil, err
	}
	return &Runner{Client: client, pool: pool, config: config, deliverer: deliverer}, nil
}

// Config is the configuration the runner runs with, defaults filled in.
func (r *Runner) Config() Config { return r.config }

// Start starts the client, the listener, the heartbeat and the cleaner, and
// returns once the listener listens: an event committed from then on wakes
// expansion without waiting for the safety net. The client outlives ctx: Stop stops
// it gracefully.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.Client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("error starting River client: %w", err)
	}
	listenCtx, stopListen := context.WithCancel(context.WithoutCancel(ctx))
	r.stopListen = stopListen
	listening := make(chan struct{})
	r.listening.Go(func() { listen(listenCtx, r.pool, r.Client, r.config.Logger, listening) })
	// Alive until the client has stopped: a graceful stop lets jobs finish,
	// and others must not take them up meanwhile.
	aliveCtx, stopAlive := context.WithCancel(context.WithoutCancel(ctx))
	r.stopAlive, r.alive = stopAlive, make(chan struct{})
	go func() {
		defer close(r.alive)
		liveness.KeepAlive(aliveCtx, r.pool, r.Client.ID(), r.config.Logger)
	}()
	cleanCtx, stopClean := context.WithCancel(context.WithoutCancel(ctx))
	r.stopClean = stopClean
	r.cleaning.Go(func() { riverjob.CleanCompleted(cleanCtx, r.pool, r.config.JobRetention, r.config.Logger) })
	r.cleaning.Go(func() { expansion.VacuumQueue(cleanCtx, r.pool, r.config.Logger) })
	select {
	case <-listening:
	case <-ctx.Done():
	case <-time.After(5 * time.Second): // the database is slow: the safety net covers it
	}
	return nil
}

// Stop stops the listener, stops fetching jobs and lets those under way
// finish (up to the request timeout, then cancels them), stops the
// heartbeat, the cleaner and the vacuum, and gives up retrying records that fail. It returns when all
// have stopped.
func (r *Runner) Stop() {
	r.stopListen()
	r.listening.Wait()
	stopCtx, cancel := context.WithTimeout(context.Background(), r.config.Delivery.Timeout+5*time.Second)
	defer cancel()
	if err := r.Client.Stop(stopCtx); err != nil {
		r.config.Logger.Warn("River client did not stop in time; cancelling jobs under way", "error", err)
		_ = r.Client.StopAndCancel(context.Background())
	}
	r.stopAlive()
	<-r.alive
	r.stopClean()
	r.cleaning.Wait()
	r.deliverer.Close()
}

// listen wakes expansion on every capture NOTIFY until ctx ends: an
// outbox_expand job per wake, however many notifications came at once, and
// none while the job it inserted last has yet to start. It reconnects after
// errors; the periodic job covers any gap. listening is closed once it
// first listens.
func listen(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], logger *slog.Logger, listening chan struct{}) {
	once := sync.OnceFunc(func() { close(listening) })
	for ctx.Err() == nil {
		if err := listenOnce(ctx, pool, client, once); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "outbox listener failed; reconnecting", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}
