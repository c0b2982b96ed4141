// Package liveness tells a dead worker process from a slow delivery: each
// process says every second that it is alive, and takes up, within seconds,
// the running jobs of a process that stopped saying so. It imports db and
// riverjob (the rescue writes River's table).
package liveness

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/riverjob"
)

// Liveness: River rescues a job only once it has been running longer than
// any live run could (RescueStuckJobsAfter: the request timeout and a
// minute), and its rescuer looks every 30 s (not configurable in River
// v0.51.2), then hands the job to the retry schedule: a worker's deliveries
// waited 100 s and more after a kill -9. A process that says every second
// that it is alive lets the others tell a dead process from a slow delivery,
// and take up its jobs within seconds, without ever re-running the jobs of a
// process that is alive. River's rescuer stays the backstop (a process that
// hangs while its heartbeat goes on, a job with no attempt left).
const (
	// beatInterval is how often a process says it is alive.
	beatInterval = time.Second
	// staleAfter is how long a process may go unseen before its jobs are
	// taken up: ten missed beats, far above any pause of a live process.
	staleAfter = 10 * time.Second
	// rescueInterval is how often each process looks for dead ones.
	rescueInterval = 2 * time.Second
)

// liveness is KeepAlive's timing; tests shorten it.
type liveness struct {
	beat, stale, rescue time.Duration
}

var defaultLiveness = liveness{beat: beatInterval, stale: staleAfter, rescue: rescueInterval}

// KeepAlive says, until ctx ends, that the process whose River client has
// clientID is alive, and makes available again the running jobs of
// processes that stopped saying so for 10 s. Start it with the client and end
// it after the client has stopped: while a graceful stop lets jobs finish,
// the process is alive. It then forgets the process. It uses a connection of
// its own, so that a busy pool cannot make a live process look dead.
func KeepAlive(ctx context.Context, pool *pgxpool.Pool, clientID string, logger *slog.Logger) {
	defaultLiveness.keepAlive(ctx, pool, clientID, logger)
}

func (l liveness) keepAlive(ctx context.Context, pool *pgxpool.Pool, clientID string, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	config := pool.Config()
	config.MinConns, config.MaxConns = 0, 1
	own, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		logger.ErrorContext(ctx, "liveness: error creating a pool; dead workers' jobs wait for River's rescuer", "error", err)
		return
	}
	defer own.Close()
	defer func() {
		forgetCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = db.New().WorkerProcessDelete(forgetCtx, own, clientID)
	}()

	host, _ := os.Hostname()
	queries := db.New()
	// aliveSince is when, by the database's clock, this process's beats
	// last began to succeed: others are judged only on how long they have
	// been silent while this process was not (see webhooks.rescue_jobs).
	var aliveSince, lastSeen, lastRescue time.Time
	failing := false
	tick := time.NewTicker(l.beat)
	defer tick.Stop()
	for {
		stmtCtx, cancel := context.WithTimeout(ctx, l.beat*5)
		seen, err := queries.WorkerProcessBeat(stmtCtx, own, db.WorkerProcessBeatParams{ClientID: clientID, Host: host, Pid: int32(os.Getpid())})
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if !failing {
				logger.WarnContext(ctx, "liveness: cannot say this process is alive; its jobs may be taken up by others", "error", err)
			}
			failing, aliveSince = true, time.Time{}
		default:
			failing = false
			// A gap between beats (this process stopped, or its
			// statements hung) begins a new streak, as a failure does.
			if aliveSince.IsZero() || seen.Sub(lastSeen) > l.stale/2 {
				aliveSince = seen
			}
			lastSeen = seen
			if now := time.Now(); now.Sub(lastRescue) >= l.rescue {
				lastRescue = now
				if err := l.rescueDead(ctx, own, aliveSince, logger); err != nil && ctx.Err() == nil {
					logger.WarnContext(ctx, "liveness: error rescuing the jobs of dead processes", "error", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// rescueDead makes the running jobs of dead processes available again.
func (l liveness) rescueDead(ctx context.Context, pool *pgxpool.Pool, aliveSince time.Time, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rows, err := riverjob.Rescue(ctx, pool, l.stale, aliveSince)
	if err != nil {
		return err
	}
	for _, r := range rows {
		logger.WarnContext(ctx, "liveness: took up the jobs of a worker process that stopped", "client_id", r.ClientID, "jobs", r.Jobs)
	}
	return nil
}
