// Package riverjob is the one place that relies on River's internals rather
// than its public API: the columns and states of its river_job table, the
// metadata it keeps on a job, and how its client treats a job between Work
// and NextRetry. Each use names the River version it was read from; the
// tests beside it fail when an upgrade changes what a use relies on, and
// TestRiverVersion when River's version is not the one read.
//
// River's table is also read by SQL of ours, which relies on the same
// things: webhooks.park_deliveries and webhooks.rescue_jobs (migrations
// 000012 and 000013) write river_job rows; webhooks.expired_partitions
// (000022) counts unfinished delivery jobs by their args' capturedAt;
// sql/queries/messages.sql and ordered_queue.sql read a job's state by its
// message; sql/queries/river_jobs.sql deletes completed jobs
// (CleanCompleted, in place of River's cleaner); migration 000013 sets
// River's table's autovacuum settings and indexes its available delivery
// jobs by webhook; sql/sqlc/river_job.sql is the copy of River's columns
// sqlc needs to type those queries.
//
// It imports db and River, nothing else of this project; the delivery,
// liveness, jobs and metrics import it.
package riverjob

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/countercyclical/webhooks/db"
)

// Version is River's version these uses were read from (go.mod's).
const Version = "v0.51.2"

// Snoozes is how many times River snoozed a job, from its metadata: River
// v0.51.2 counts them under "snoozes" (its internal/jobexecutor).
func Snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m)
	return m.Snoozes
}

// Park puts up to max of a webhook's available delivery jobs aside, as
// scheduled jobs due from wake on, spacing apart and none later than
// latest (webhooks.park_deliveries). It relies on River v0.51.2 making a
// scheduled job available once its scheduled_at has passed, whoever set it.
func Park(ctx context.Context, q db.DBTX, webhookID string, wake time.Time, spacing time.Duration, latest time.Time, max int) (int, error) {
	n, err := db.New().DeliveryJobsPark(ctx, q, db.DeliveryJobsParkParams{
		WebhookID: webhookID, Wake: wake, SpacingSeconds: spacing.Seconds(), Latest: latest, MaxJobs: int32(max),
	})
	if err != nil {
		return 0, fmt.Errorf("error parking delivery jobs: %w", err)
	}
	return int(n), nil
}

// Rescue makes available again the running jobs of the worker processes not
// seen for staleAfter while the caller was, since aliveSince
// (webhooks.rescue_jobs), and returns how many per process. It relies on
// River v0.51.2 appending the fetching client's id to attempted_by, and
// working a job made available again as any other.
func Rescue(ctx context.Context, q db.DBTX, staleAfter time.Duration, aliveSince time.Time) ([]db.JobsRescueRow, error) {
	rows, err := db.New().JobsRescue(ctx, q, db.JobsRescueParams{StaleAfterSeconds: staleAfter.Seconds(), AliveSince: aliveSince})
	if err != nil {
		return nil, fmt.Errorf("error rescuing jobs: %w", err)
	}
	return rows, nil
}

// QueueCount is how many jobs of a queue are in a state.
type QueueCount struct {
	Queue, State string
	Jobs         int64
}

// CountQueues counts River's jobs by queue in each of states, read from its
// table: River v0.51.2 has no API that counts (JobList pages through jobs).
func CountQueues(ctx context.Context, q db.DBTX, states []string) ([]QueueCount, error) {
	rows, err := q.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job
		WHERE state = ANY ($1::river_job_state[]) GROUP BY 1, 2`, states)
	if err != nil {
		return nil, fmt.Errorf("error counting River's jobs: %w", err)
	}
	defer rows.Close()
	var out []QueueCount
	for rows.Next() {
		var c QueueCount
		if err := rows.Scan(&c.Queue, &c.State, &c.Jobs); err != nil {
			return nil, fmt.Errorf("error counting River's jobs: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error counting River's jobs: %w", err)
	}
	return out, nil
}

// Reindexed is what River's reindexer rebuilds each day: River v0.51.2's
// default list, without river_job_args_index, which migration 000015 drops
// (River warns of an index missing).
func Reindexed() []string {
	return slices.DeleteFunc(river.ReindexerIndexNamesDefault(), func(name string) bool { return name == "river_job_args_index" })
}

// InvalidIndexes counts the invalid indexes on River's table: what a
// rebuild by River's reindexer (REINDEX INDEX CONCURRENTLY) leaves when it
// is cut off, a copy named *_ccnew that every write still updates and
// that makes River v0.51.2 skip that index's rebuild from then on. While
// a build on the table is under way its copy is invalid too, and not
// counted: the nightly rebuild is no alarm.
func InvalidIndexes(ctx context.Context, q db.DBTX) (int, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM pg_index
		WHERE indrelid = 'river_job'::regclass AND NOT indisvalid
		  AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.relid = 'river_job'::regclass)`).Scan(&n); err != nil {
		return 0, fmt.Errorf("error counting River's invalid indexes: %w", err)
	}
	return n, nil
}

// cleanBatch is how many completed jobs one statement of CleanCompleted
// deletes, cleanEvery how often it looks for them, and cleanPause how long
// it waits between full batches.
const (
	cleanBatch = 1000
	cleanEvery = time.Second
	cleanPause = 50 * time.Millisecond
)

// DeleteCompleted deletes up to max of River's completed jobs finalized
// before before, oldest first, and returns how many it deleted. It relies on
// River v0.51.2's river_job_state_and_finalized_at_index and on nothing of
// River reading a completed job again.
func DeleteCompleted(ctx context.Context, q db.DBTX, before time.Time, max int) (int, error) {
	n, err := db.New().JobsDeleteCompleted(ctx, q, db.JobsDeleteCompletedParams{Before: before, MaxJobs: int32(max)})
	if err != nil {
		return 0, fmt.Errorf("error deleting completed jobs: %w", err)
	}
	return int(n), nil
}

// CleanCompleted deletes, until ctx ends, River's completed jobs once
// they are retention old: every cleanEvery, cleanBatch a statement, with
// cleanPause between full statements. River's own cleaner (configure it with
// CompletedJobRetentionPeriod -1) deletes 10,000 a statement every 30 s
// (River v0.51.2 has no setting for it), in id order; at thousands of
// deliveries a second each statement took 0.4 s on average and up to
// 2.7 s, and the deliveries beside it waited.
func CleanCompleted(ctx context.Context, q db.DBTX, retention time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(cleanEvery)
	defer tick.Stop()
	failing := false
	for {
		for ctx.Err() == nil {
			n, err := DeleteCompleted(ctx, q, time.Now().Add(-retention), cleanBatch)
			if err != nil {
				if !failing && ctx.Err() == nil {
					logger.WarnContext(ctx, "River's completed jobs not cleaned; retrying", "error", err)
				}
				failing = true
				break
			}
			failing = false
			if n < cleanBatch {
				break
			}
			// A backlog (after a stop, or a shorter retention) goes at
			// most a batch every cleanPause, so that the deliveries
			// beside it keep the database.
			select {
			case <-ctx.Done():
			case <-time.After(cleanPause):
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
