package jobs

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/countercyclical/webhooks/internal/retention"
)

// RetentionArgs are the args of webhooks_retention, which runs hourly (more
// often with partitions shorter than four hours).
type RetentionArgs struct{}

// Kind is the job's kind.
func (RetentionArgs) Kind() string { return "webhooks_retention" }

// InsertOpts runs retention on its own queue, one at a time. A completed run does not hold the next back (River's default
// unique states include completed, which kept the periodic job from being
// inserted again until River deleted the completed one).
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// RetentionWorker runs the logs' retention (retention.Keeper).
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	keeper *retention.Keeper
}

// Work runs the keeper once.
func (w *RetentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	return w.keeper.Run(ctx)
}
