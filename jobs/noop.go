package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// NoopArgs are the args of bench_noop, a job that does nothing: River's own
// rate on this machine, the yardstick deliveries are measured against.
type NoopArgs struct{}

// Kind is the job's kind.
func (NoopArgs) Kind() string { return "bench_noop" }

// InsertOpts puts no-op jobs on the delivery queue, worked as deliveries are.
func (NoopArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueDeliver} }

type noopWorker struct {
	river.WorkerDefaults[NoopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[NoopArgs]) error { return nil }

// NewNoopClient returns a River client that works bench_noop jobs on the
// delivery queue with the same River settings, worker count and pool as
// NewClient's deliveries, and nothing else.
func NewNoopClient(pool *pgxpool.Pool, config Config) (*river.Client[pgx.Tx], error) {
	config = config.WithDefaults()
	config.Work = true
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &noopWorker{}); err != nil {
		return nil, fmt.Errorf("error adding no-op worker: %w", err)
	}
	riverConfig := newRiverConfig(config, workers)
	delete(riverConfig.Queues, QueueExpand)
	delete(riverConfig.Queues, QueueMaintenance)
	client, err := river.NewClient(riverpgxv5.New(pool), riverConfig)
	if err != nil {
		return nil, fmt.Errorf("error creating River client: %w", err)
	}
	return client, nil
}
