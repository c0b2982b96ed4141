package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/harness"
	"github.com/countercyclical/webhooks/jobs"
)

// baseline measures River alone: --baseline-jobs no-op jobs, queued before
// the client starts, worked on the delivery queue with the delivery
// settings, timed from Start to the last completion.
func (b *run) baseline(ctx context.Context) (float64, error) {
	n := b.o.BaselineJobs
	client, err := jobs.NewNoopClient(b.pool, jobs.Config{DeliverWorkers: b.o.Workers})
	if err != nil {
		return 0, err
	}
	params := make([]river.InsertManyParams, 0, 1000)
	for done := 0; done < n; done += len(params) {
		params = params[:0]
		for range min(1000, n-done) {
			params = append(params, river.InsertManyParams{Args: jobs.NoopArgs{}})
		}
		if _, err := client.InsertManyFast(ctx, params); err != nil {
			return 0, fmt.Errorf("error inserting no-op jobs: %w", err)
		}
	}
	if _, err := b.pool.Exec(ctx, "ANALYZE river_job"); err != nil {
		return 0, fmt.Errorf("error analyzing: %w", err)
	}

	// Completions are counted from River's events rather than by polling
	// river_job, which would tax the database being measured. The channel
	// holds every one, so that none is dropped.
	events, unsubscribe := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: n + 100, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	defer unsubscribe()
	var completed atomic.Int64
	stopProgress := b.progress(func() string {
		return fmt.Sprintf("River baseline: %d/%d no-op jobs completed", completed.Load(), n)
	})
	defer stopProgress()
	start := time.Now()
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return 0, fmt.Errorf("error starting the no-op client: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.Stop(stopCtx); err != nil {
			_ = client.StopAndCancel(context.Background())
		}
	}()
	// The database is asked once a second too, in case River dropped an
	// event; the time is then that of the asking.
	check := time.NewTicker(time.Second)
	defer check.Stop()
	deadline := time.After(waitTimeout)
	var elapsed time.Duration
	for elapsed == 0 {
		select {
		case ev := <-events:
			if ev.Job.Kind == (jobs.NoopArgs{}).Kind() && completed.Add(1) == int64(n) {
				elapsed = time.Since(start)
			}
		case <-check.C:
			var done int64
			if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'bench_noop' AND state = 'completed'`).Scan(&done); err != nil {
				return 0, fmt.Errorf("error counting no-op jobs: %w", err)
			}
			if done == int64(n) {
				completed.Store(done)
				elapsed = time.Since(start)
			}
		case <-deadline:
			return 0, fmt.Errorf("bench: River completed %d of %d no-op jobs within %s", completed.Load(), n, waitTimeout)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	stopProgress()
	return float64(n) / elapsed.Seconds(), b.dropNoopJobs(ctx, client)
}

// dropNoopJobs stops the no-op client and deletes its jobs, so that the
// deliveries find the queue as it was.
func (b *run) dropNoopJobs(ctx context.Context, client *river.Client[pgx.Tx]) error {
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Stop(stopCtx); err != nil {
		return fmt.Errorf("error stopping the no-op client: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'bench_noop'`); err != nil {
		return fmt.Errorf("error deleting no-op jobs: %w", err)
	}
	return b.vacuum(ctx)
}

// saturation delivers --events × --webhooks as fast as the pipeline goes:
// the inserts are made as fast as they commit, and the rate is timed from
// the first insert to the last arrival.
func (b *run) saturation(ctx context.Context) (harness.PhaseResult, error) {
	ph := b.recv.NewPhase("saturation", b.o.Events*b.o.Webhooks, harness.ArrivalsCounted)
	var failed <-chan error
	if b.o.Processes > 0 {
		procs, err := b.startProcesses(ctx)
		if err != nil {
			return harness.PhaseResult{}, err
		}
		defer procs.Stop(workersStopGrace)
		failed = procs.Failed()
	} else {
		// MaxInflight as many as the workers: the cap per webhook is not
		// what this phase measures.
		stop, err := b.startInProcess(ctx, jobs.Config{Delivery: delivery.Config{MaxInflight: b.o.Workers}})
		if err != nil {
			return harness.PhaseResult{}, err
		}
		defer stop()
	}
	stopProgress := b.progress(func() string { return "saturation: " + ph.Progress() })
	defer stopProgress()
	start := time.Now()
	if err := b.insertInvestments(ctx, b.o.Events); err != nil {
		return harness.PhaseResult{}, err
	}
	if err := b.await(ctx, ph, failed); err != nil {
		return harness.PhaseResult{}, err
	}
	stopProgress()
	return ph.Result(start), nil
}

// latencyResult is what the latency phase measured.
type latencyResult struct {
	phase      harness.PhaseResult
	ms         latencyMS
	inserted   int
	insertTime time.Duration
}

// latency offers --rate events a second to one fresh webhook for
// --duration and measures each delivery from its event's commit to its
// arrival.
func (b *run) latency(ctx context.Context) (latencyResult, error) {
	if err := b.disableWebhooks(ctx); err != nil {
		return latencyResult{}, err
	}
	if _, err := b.addWebhook(ctx, "latency", 0, "*"); err != nil {
		return latencyResult{}, err
	}
	if _, err := b.pool.Exec(ctx, "ANALYZE webhooks.webhooks"); err != nil {
		return latencyResult{}, fmt.Errorf("error analyzing: %w", err)
	}
	total := int(float64(b.o.Rate) * b.o.Duration.Seconds())
	ph := b.recv.NewPhase("latency", total, harness.ArrivalsFirstByPayload)
	stop, err := b.startInProcess(ctx, jobs.Config{Delivery: delivery.Config{MaxInflight: b.o.Workers}})
	if err != nil {
		return latencyResult{}, err
	}
	defer stop()

	var inserted atomic.Int64
	stopProgress := b.progress(func() string {
		return fmt.Sprintf("latency: %d/%d events inserted, %s", inserted.Load(), total, ph.Progress())
	})
	defer stopProgress()
	// Latency is measured from the commit, taken as the moment the INSERT
	// returns (autocommit: pgx has read ReadyForQuery, after the commit), to
	// the arrival of the delivery whose payload.id is the row's id. The
	// envelope's timestamp, the capture time, would be earlier than the
	// commit and in milliseconds only.
	committed := make(map[string]time.Time, total)
	// Every 10ms, the rows due by then in one statement: single-row
	// transactions at this rate would measure the inserter. A slow insert
	// is caught up by the next, so the offered rate holds on average.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for int(inserted.Load()) < total {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return latencyResult{}, ctx.Err()
		}
		due := int(float64(b.o.Rate)*min(time.Since(start), b.o.Duration).Seconds()) - int(inserted.Load())
		if due <= 0 {
			continue
		}
		rows, err := b.pool.Query(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol)
			SELECT $1, $2, 'Investment ' || i, 'KO' FROM generate_series(1, $3::int) i RETURNING id`, b.workspaceID, b.userID, due)
		if err != nil {
			return latencyResult{}, fmt.Errorf("error inserting investments: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return latencyResult{}, fmt.Errorf("error inserting investments: %w", err)
		}
		at := time.Now()
		for _, id := range ids {
			committed[id] = at
		}
		inserted.Add(int64(len(ids)))
	}
	insertTime := time.Since(start)
	if err := b.await(ctx, ph, nil); err != nil {
		return latencyResult{}, err
	}
	stopProgress()

	var latencies []time.Duration
	for id, arrived := range ph.ArrivalsByPayload() {
		if at, ok := committed[id]; ok {
			latencies = append(latencies, arrived.Sub(at))
		}
	}
	return latencyResult{phase: ph.Result(start), ms: percentiles(latencies), inserted: total, insertTime: insertTime}, nil
}

// noisyResult is what the noisy phase measured.
type noisyResult struct {
	Backlog       int     `json:"backlog"`
	Timeout       string  `json:"timeout"`
	AlonePerS     float64 `json:"alone_per_s"`
	BesidePerS    float64 `json:"beside_hanging_per_s"`
	Ratio         float64 `json:"ratio"`
	alone, beside harness.PhaseResult
}

// noisy measures a healthy webhook's rate alone (A), then beside a webhook
// whose endpoint hangs until the sender's timeout, with --noisy-backlog
// deliveries queued for it before the healthy events are inserted (B).
// Both run with the default per-webhook in-flight cap, the isolation being
// measured.
func (b *run) noisy(ctx context.Context) (noisyResult, error) {
	result := noisyResult{Backlog: b.o.NoisyBacklog, Timeout: b.o.NoisyTimeout.String()}
	if err := b.disableWebhooks(ctx); err != nil {
		return result, err
	}
	stop, err := b.startInProcess(ctx, jobs.Config{Delivery: delivery.Config{Timeout: b.o.NoisyTimeout}})
	if err != nil {
		return result, err
	}
	defer stop()
	// However the phase ends, the hanging handlers return, so that the
	// client stops at once.
	defer b.recv.ReleaseHanging()

	healthy := func(name string) (harness.PhaseResult, error) {
		if _, err := b.addWebhook(ctx, name, 0, "investment.*"); err != nil {
			return harness.PhaseResult{}, err
		}
		if _, err := b.pool.Exec(ctx, "ANALYZE webhooks.webhooks"); err != nil {
			return harness.PhaseResult{}, fmt.Errorf("error analyzing: %w", err)
		}
		ph := b.recv.NewPhase(name, b.o.Events, harness.ArrivalsCounted)
		stopProgress := b.progress(func() string { return name + ": " + ph.Progress() })
		defer stopProgress()
		start := time.Now()
		if err := b.insertInvestments(ctx, b.o.Events); err != nil {
			return harness.PhaseResult{}, err
		}
		if err := b.await(ctx, ph, nil); err != nil {
			return harness.PhaseResult{}, err
		}
		stopProgress()
		return ph.Result(start), nil
	}
	if result.alone, err = healthy("noisy-alone"); err != nil {
		return result, err
	}
	if err := b.disableWebhooks(ctx); err != nil {
		return result, err
	}

	// The hanging webhook subscribes to pipeline.created only, the healthy
	// one to investment.*: the backlog is the hanging one's alone.
	hanging, err := b.addWebhook(ctx, "hang", 0, "pipeline.created")
	if err != nil {
		return result, err
	}
	defer b.disableWebhooks(context.WithoutCancel(ctx), hanging) //nolint:errcheck
	if err := b.queueBacklog(ctx, hanging); err != nil {
		return result, err
	}
	if result.beside, err = healthy("noisy-beside-hanging"); err != nil {
		return result, err
	}
	result.AlonePerS, result.BesidePerS = result.alone.PerS, result.beside.PerS
	result.Ratio = result.BesidePerS / result.AlonePerS
	return result, nil
}

// queueBacklog inserts --noisy-backlog pipelines and waits until expansion
// has queued a delivery of each for the hanging webhook.
func (b *run) queueBacklog(ctx context.Context, hanging string) error {
	n := b.o.NoisyBacklog
	var queued atomic.Int64
	stopProgress := b.progress(func() string {
		return fmt.Sprintf("noisy backlog: %d/%d deliveries queued for the hanging endpoint", queued.Load(), n)
	})
	defer stopProgress()
	for done := 0; done < n; done += b.o.Batch {
		if _, err := b.pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name)
			SELECT $1, $2, 'Pipeline ' || i FROM generate_series(1, $3::int) i`, b.workspaceID, b.userID, min(b.o.Batch, n-done)); err != nil {
			return fmt.Errorf("error inserting pipelines: %w", err)
		}
	}
	deadline := time.Now().Add(stallTimeout)
	for {
		var count int64
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.messages WHERE webhook_id = $1`, hanging).Scan(&count); err != nil {
			return fmt.Errorf("error counting the backlog: %w", err)
		}
		queued.Store(count)
		if count >= int64(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: only %d of %d backlog deliveries were queued within %s", count, n, stallTimeout)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// startInProcess starts a River client in this process that expands and
// delivers, as serve's and worker's does, and returns what stops it.
func (b *run) startInProcess(ctx context.Context, config jobs.Config) (func(), error) {
	config.Delivery.Policy = b.policy
	config.Work, config.DeliverWorkers = true, b.o.Workers
	if b.o.Soak > 0 {
		// Every phase's retention job keeps the soak's partitions: one
		// with the default step made day-long slices after them.
		config.PartitionStep, config.Retention, config.JobRetention = b.soakStep(), b.o.Retention, b.o.soakJobRetention()
	}
	runner, err := jobs.NewRunner(b.pool, config)
	if err != nil {
		return nil, err
	}
	if err := runner.Start(ctx); err != nil {
		return nil, err
	}
	return runner.Stop, nil
}

// await waits until every delivery the phase expects has arrived, then a
// grace for late duplicates. Past waitTimeout, or stallTimeout
// without an arrival, it returns without error: what is missing is lost.
// failed reports worker processes that died.
func (b *run) await(ctx context.Context, ph *harness.Phase, failed <-chan error) error {
	deadline := time.Now().Add(waitTimeout)
	seen, lastArrival := ph.DistinctCount(), time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ph.Done():
			break wait
		case err := <-failed:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			if n := ph.DistinctCount(); n != seen {
				seen, lastArrival = n, now
			}
			if now.After(deadline) || now.Sub(lastArrival) > stallTimeout {
				return nil
			}
		}
	}
	select {
	case <-time.After(grace):
		return nil
	case err := <-failed:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// progress rewrites a line on standard error every 250ms with what line
// returns, until the func it returns is called, which writes it a last time
// and ends the line.
func (b *run) progress(line func() string) func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		width := 0
		write := func() {
			s := line()
			fmt.Fprintf(b.stderr, "\r%-*s", width, s) // padded over a longer line before
			width = max(width, len(s))
		}
		for {
			select {
			case <-tick.C:
				write()
			case <-done:
				write()
				fmt.Fprintln(b.stderr)
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-stopped
		})
	}
}
