package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/expansion"
)

// StartReplay counts the request's events and, within the limits, records
// the replay and inserts its job, in one transaction.
func StartReplay(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], req expansion.ReplayRequest) (db.WebhooksReplay, error) {
	var replay db.WebhooksReplay
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		n, err := expansion.CountReplayTx(ctx, tx, req)
		if err != nil {
			return err
		}
		if n > expansion.MaxReplay {
			return &expansion.ReplayTooLargeError{Events: n}
		}
		replay, err = db.New().ReplayInsert(ctx, tx, db.ReplayInsertParams{
			WebhookID: req.WebhookID, WorkspaceID: req.WorkspaceID, CreatedBy: req.CreatedBy,
			Since: req.Since, Until: req.Until, EventTypes: req.EventTypes, Total: n,
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
			return expansion.ErrReplayRunning
		}
		if err != nil {
			return fmt.Errorf("error recording replay: %w", err)
		}
		if _, err := client.InsertTx(ctx, tx, ReplayArgs{ReplayID: replay.ID, WebhookID: req.WebhookID}, nil); err != nil {
			return fmt.Errorf("error inserting replay job: %w", err)
		}
		return nil
	})
	return replay, err
}

// ReplayArgs are the args of webhook_replay.
type ReplayArgs struct {
	ReplayID  string `json:"replayId"`
	WebhookID string `json:"webhookId"`
}

// Kind is the job's kind.
func (ReplayArgs) Kind() string { return "webhook_replay" }

// InsertOpts puts replays with maintenance: one window at a time, between
// snoozes, they do not hold its worker.
func (ReplayArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 25}
}

// ReplayWorker queues a replay's messages a window at a time, and ends it
// when all are sent or given up on.
type ReplayWorker struct {
	river.WorkerDefaults[ReplayArgs]
	replayer *expansion.Replayer
}

// replayPause is how long a replay waits between windows.
const replayPause = 200 * time.Millisecond

// Work queues the next window's messages, if the last window has room, and
// snoozes; it ends the replay when nothing is left to queue or under way.
func (w *ReplayWorker) Work(ctx context.Context, job *river.Job[ReplayArgs]) error {
	more, err := w.replayer.Step(ctx, job.Args.ReplayID)
	if err != nil || !more {
		return err
	}
	return river.JobSnooze(replayPause)
}
