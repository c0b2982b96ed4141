package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/countercyclical/webhooks/internal/auth"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/netguard"
	"github.com/countercyclical/webhooks/internal/pgurl"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/sql/migrations"
	"github.com/countercyclical/webhooks/webhook"
)

// benchMaxConns is the pool size connect gives serve and worker: the bench
// pool is sized the same, so that delivery here runs as it does there.
const benchMaxConns = 30

// How long a phase waits for its deliveries: what has not arrived by then is
// reported as lost rather than waited for.
const (
	benchWaitTimeout  = 5 * time.Minute // after the phase's last insert
	benchStallTimeout = 2 * time.Minute // without a new arrival
	// benchGrace is waited after the last expected arrival, so that a late
	// duplicate is counted.
	benchGrace = time.Second
)

// benchFlags are bench's flags; see parseBenchFlags.
type benchFlags struct {
	events, hooks, batch, workers int
	baselineJobs                  int
	rate                          int
	duration                      time.Duration
	processes                     int
	noisy                         bool
	noisyBacklog                  int
	noisyTimeout                  time.Duration
	filtered                      int
	ordered                       bool
	orderedEvents                 int
	orderedResources              int
	json                          bool
	cpuProfile                    string
	// The soak (soak.go).
	soak, retention time.Duration
	history         int
	rateGiven       bool
}

func newBenchFlagSet(f *benchFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&f.events, "events", 2000, "events captured in the saturation phase")
	fs.IntVar(&f.hooks, "webhooks", 5, "webhooks subscribed to every event in the saturation phase")
	fs.IntVar(&f.batch, "batch", 100, "rows per INSERT statement in the saturation phases")
	fs.IntVar(&f.workers, "workers", jobs.DefaultDeliverWorkers, "delivery workers (per process with --processes)")
	fs.IntVar(&f.baselineJobs, "baseline-jobs", 20000, "no-op River jobs of the baseline")
	fs.IntVar(&f.rate, "rate", 1000, "events per second offered in the latency phase")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "how long the latency phase offers events")
	fs.IntVar(&f.processes, "processes", 0, "worker processes that deliver the saturation phase (0: this process)")
	fs.BoolVar(&f.noisy, "noisy", false, "also measure a healthy webhook beside one whose endpoint hangs")
	fs.IntVar(&f.noisyBacklog, "noisy-backlog", 1000, "deliveries queued for the hanging endpoint (with --noisy)")
	fs.DurationVar(&f.noisyTimeout, "noisy-timeout", 15*time.Second, "the sender's request timeout in the noisy phase (with --noisy)")
	fs.IntVar(&f.filtered, "filtered", 0, "also time the expansion of this many events to --webhooks webhooks without a filter and with one that matches a tenth of them")
	fs.BoolVar(&f.ordered, "ordered", false, "also measure an ordered webhook's saturation against an unordered one's, with --ordered-events updates over --ordered-resources resources")
	fs.IntVar(&f.orderedEvents, "ordered-events", 2000, "updates delivered in each ordered phase (with --ordered)")
	fs.IntVar(&f.orderedResources, "ordered-resources", 500, "resources the ordered phases' updates are spread over (with --ordered)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of the table")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (pprof) to the file")
	fs.DurationVar(&f.soak, "soak", 0, "instead of the latency phase, offer --rate events/s (default: 60% of the saturation measured) to --webhooks webhooks this long, printing a line a minute")
	fs.DurationVar(&f.retention, "retention", 10*time.Minute, "the soak's WEBHOOKS_RETENTION (with --soak); partitions are a tenth of it, at least a minute")
	fs.IntVar(&f.history, "history", 0, "attempts written in bulk, before the soak, within its retention (with --soak)")
	return fs
}

func parseBenchFlags(args []string) (benchFlags, error) {
	var f benchFlags
	fs := newBenchFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		return f, usageError{"bench: " + err.Error()} // followed by bench's usage
	}
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	var problems []string
	atLeast := func(name string, v, least int) {
		if v < least {
			problems = append(problems, fmt.Sprintf("--%s must be at least %d, not %d", name, least, v))
		}
	}
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			problems = append(problems, fmt.Sprintf("--%s must be a positive duration such as 30s, not %s", name, d))
		}
	}
	switch {
	case fs.NArg() != 0:
		return f, usageError{fmt.Sprintf("bench takes flags only, not %q", fs.Arg(0))}
	case !f.noisy && (given["noisy-backlog"] || given["noisy-timeout"]):
		return f, usageError{"bench: --noisy-backlog and --noisy-timeout need --noisy"}
	case f.soak == 0 && (given["retention"] || given["history"]):
		return f, usageError{"bench: --retention and --history need --soak"}
	case f.soak > 0 && given["filtered"]:
		return f, usageError{"bench: --filtered is a phase of the bench without --soak"}
	case f.soak > 0 && f.ordered:
		return f, usageError{"bench: --ordered is a phase of the bench without --soak"}
	case !f.ordered && (given["ordered-events"] || given["ordered-resources"]):
		return f, usageError{"bench: --ordered-events and --ordered-resources need --ordered"}
	}
	f.rateGiven = given["rate"]
	atLeast("history", f.history, 0)
	if given["soak"] {
		positive("soak", f.soak)
		if f.retention < time.Minute {
			problems = append(problems, fmt.Sprintf("--retention must be at least 1m, not %s", f.retention))
		}
	}
	atLeast("events", f.events, 1)
	atLeast("webhooks", f.hooks, 1)
	atLeast("batch", f.batch, 1)
	atLeast("workers", f.workers, 1)
	atLeast("baseline-jobs", f.baselineJobs, 1)
	atLeast("rate", f.rate, 1)
	positive("duration", f.duration)
	if f.rate >= 1 && f.duration > 0 && float64(f.rate)*f.duration.Seconds() < 1 {
		problems = append(problems, fmt.Sprintf("--rate %d for --duration %s offers no event; offer at least one", f.rate, f.duration))
	}
	atLeast("processes", f.processes, 0)
	atLeast("filtered", f.filtered, 0)
	atLeast("ordered-events", f.orderedEvents, 1)
	atLeast("ordered-resources", f.orderedResources, 1)
	atLeast("noisy-backlog", f.noisyBacklog, 1)
	positive("noisy-timeout", f.noisyTimeout)
	if len(problems) > 0 {
		return f, usageError{"bench: " + strings.Join(problems, "; ")}
	}
	return f, nil
}

// bench measures the pipeline against River's own rate on this machine, in
// a scratch database of its own beside DATABASE_URL's: first River working
// no-op jobs on the delivery queue with the delivery settings; then the
// app's inserts captured, expanded and delivered to a receiver in this
// process, as fast as they go (saturation) and at a fixed offered rate
// (latency, commit to receipt); optionally a healthy webhook beside one that
// hangs. Every message id is counted at the receiver.
func (c *command) bench(ctx context.Context, args []string) error {
	f, err := parseBenchFlags(args)
	if err != nil {
		return err
	}
	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			return fmt.Errorf("error creating the CPU profile: %w", err)
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return fmt.Errorf("error starting the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	url, drop, err := c.scratchDatabase(ctx)
	if err != nil {
		return err
	}
	defer drop()
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("error parsing the scratch database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		config.MaxConns = benchMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return fmt.Errorf("error opening pool: %w", err)
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		return err
	}

	recv := newBenchReceiver()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("error starting the receiver: %w", err)
	}
	srv := &http.Server{Handler: recv, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(listener) //nolint:errcheck
	defer srv.Close()
	defer recv.releaseHanging() // before srv.Close: hanging handlers return at once

	allowed, err := netguard.ParseCIDRs("127.0.0.0/8")
	if err != nil {
		return err
	}
	b := &benchRun{c: c, flags: f, url: url, pool: pool, recv: recv, receiverURL: "http://" + listener.Addr().String(),
		policy: netguard.Policy{AllowHTTP: true, Allowed: allowed}}
	report := benchReport{
		Events: f.events, Webhooks: f.hooks, Batch: f.batch, Workers: f.workers, Processes: f.processes,
		BaselineJobs: f.baselineJobs, Rate: f.rate, Duration: f.duration.String(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
	}
	if err := pool.QueryRow(ctx, "SHOW server_version").Scan(&report.PostgreSQL); err != nil {
		return fmt.Errorf("error reading the server version: %w", err)
	}
	if f.soak > 0 {
		if err := b.slicePartitions(ctx); err != nil {
			return err
		}
	}
	if err := b.seed(ctx); err != nil {
		return err
	}

	if report.RiverJobsPerS, err = b.baseline(ctx); err != nil {
		return err
	}
	saturation, err := b.saturation(ctx)
	if err != nil {
		return err
	}
	report.DeliveriesPerS = saturation.PerS
	report.Ratio = saturation.PerS / report.RiverJobsPerS
	report.Phases = append(report.Phases, saturation)
	if err := b.vacuum(ctx); err != nil {
		return err
	}
	if f.soak > 0 {
		return b.runSoak(ctx, saturation.PerS)
	}
	latency, err := b.latency(ctx)
	if err != nil {
		return err
	}
	report.Latency = latency.ms
	report.LatencyInserted, report.LatencyInsertSeconds = latency.inserted, latency.insertTime.Seconds()
	report.Phases = append(report.Phases, latency.phase)
	if f.noisy {
		if err := b.vacuum(ctx); err != nil {
			return err
		}
		noisy, err := b.noisy(ctx)
		if err != nil {
			return err
		}
		report.Noisy = &noisy
		report.NoisyRatio = &noisy.Ratio
		report.Phases = append(report.Phases, noisy.alone, noisy.beside)
	}
	if f.filtered > 0 {
		if err := b.vacuum(ctx); err != nil {
			return err
		}
		filtered, err := b.filtered(ctx)
		if err != nil {
			return err
		}
		report.Filtered = &filtered
	}
	if f.ordered {
		if err := b.vacuum(ctx); err != nil {
			return err
		}
		ordered, err := b.ordered(ctx)
		if err != nil {
			return err
		}
		report.Ordered = &ordered
		report.Phases = append(report.Phases, ordered.Unordered, ordered.Ordered)
	}
	report.Late = recv.late()
	var lostIn []string
	for _, p := range report.Phases {
		report.Lost += p.Lost
		report.Duplicates += p.Duplicates
		if p.Lost > 0 {
			lostIn = append(lostIn, fmt.Sprintf("%d of %d in %s", p.Lost, p.Expected, p.Name))
		}
	}
	if f.json {
		err = report.writeJSON(c.stdout)
	} else {
		err = report.writeTable(c.stdout)
	}
	if err != nil {
		return err
	}
	if len(lostIn) > 0 {
		return fmt.Errorf("bench: deliveries lost: %s", strings.Join(lostIn, ", "))
	}
	return nil
}

// benchRun is one run's shared state: its scratch database, pool, receiver
// and seed.
type benchRun struct {
	c           *command
	flags       benchFlags
	url         string
	pool        *pgxpool.Pool
	recv        *benchReceiver
	receiverURL string
	policy      netguard.Policy

	workspaceID, userID string
}

// seed makes the workspace, its owner (who may read every event) and the
// saturation phase's webhooks.
func (b *benchRun) seed(ctx context.Context) error {
	if err := b.pool.QueryRow(ctx, `INSERT INTO workspaces (name) VALUES ('bench') RETURNING id`).Scan(&b.workspaceID); err != nil {
		return fmt.Errorf("error seeding: %w", err)
	}
	if err := b.pool.QueryRow(ctx, `INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id`).Scan(&b.userID); err != nil {
		return fmt.Errorf("error seeding: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO workspace_members VALUES ($1, $2, 'owner')`, b.workspaceID, b.userID); err != nil {
		return fmt.Errorf("error seeding: %w", err)
	}
	for i := range b.flags.hooks {
		if _, err := b.addWebhook(ctx, "saturation", i, "*"); err != nil {
			return err
		}
	}
	// The server may run without autovacuum: without statistics the
	// planner guesses at the small tables expansion joins.
	return b.gatherStatistics(ctx, "ANALYZE")
}

// gatherStatistics runs command (ANALYZE, or VACUUM ANALYZE) on every table
// but the empty partitions of the logs, made ahead. A partition analyzed
// or vacuumed while empty is planned as empty: PostgreSQL trusts the zero
// it measured, where it assumes ten pages of a table never measured, and
// the plans the pipeline keeps (the loader's, record_attempts') are made
// for an empty partition until autovacuum measures it again: in the soak,
// p99 of 160 to 590 ms for the first five minutes, the partitions this
// measured at its start.
func (b *benchRun) gatherStatistics(ctx context.Context, command string) error {
	rows, err := b.pool.Query(ctx, `SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND NOT (c.relispartition AND pg_relation_size(c.oid) = 0)
		ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("error listing tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("error listing tables: %w", err)
	}
	if _, err := b.pool.Exec(ctx, command+" "+strings.Join(tables, ", ")); err != nil {
		return fmt.Errorf("error in %s: %w", command, err)
	}
	return nil
}

// addWebhook adds an enabled webhook delivering to the receiver's
// /phase/i, created a minute ago so that it matches every event to come.
func (b *benchRun) addWebhook(ctx context.Context, phase string, i int, eventTypes ...string) (string, error) {
	var id string
	if err := b.pool.QueryRow(ctx, `INSERT INTO webhooks.webhooks (workspace_id, created_by, name, url, event_types, created_at)
		VALUES ($1, $2, $3, $4, $5, now() - interval '1 minute') RETURNING id`,
		b.workspaceID, b.userID, fmt.Sprintf("bench %s %d", phase, i), fmt.Sprintf("%s/%s/%d", b.receiverURL, phase, i), eventTypes).Scan(&id); err != nil {
		return "", fmt.Errorf("error adding a webhook: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO webhooks.signing_secrets (webhook_id, secret) VALUES ($1, $2)`, id, auth.NewSecret()); err != nil {
		return "", fmt.Errorf("error adding a signing secret: %w", err)
	}
	return id, nil
}

// disableWebhooks disables every webhook (ids nil, sent as NULL) or those
// given, so that the next phase's events reach only the webhooks it adds.
func (b *benchRun) disableWebhooks(ctx context.Context, ids ...string) error {
	if _, err := b.pool.Exec(ctx, `UPDATE webhooks.webhooks SET enabled = false, disabled_at = now(), disabled_reason = 'bench: phase over'
		WHERE enabled AND ($1::text[] IS NULL OR id = ANY($1))`, ids); err != nil {
		return fmt.Errorf("error disabling webhooks: %w", err)
	}
	return nil
}

// vacuum stands in for the autovacuum the server may run without, between
// phases: River's job rows are updated several times each.
func (b *benchRun) vacuum(ctx context.Context) error {
	return b.gatherStatistics(ctx, "VACUUM ANALYZE")
}

// insertInvestments inserts n investments in statements of --batch rows,
// each captured as investment.created.
func (b *benchRun) insertInvestments(ctx context.Context, n int) error {
	for done := 0; done < n; done += b.flags.batch {
		if _, err := b.pool.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol)
			SELECT $1, $2, 'Investment ' || i, 'KO' FROM generate_series(1, $3::int) i`, b.workspaceID, b.userID, min(b.flags.batch, n-done)); err != nil {
			return fmt.Errorf("error inserting investments: %w", err)
		}
	}
	return nil
}

// baseline measures River alone: --baseline-jobs no-op jobs, queued before
// the client starts, worked on the delivery queue with the delivery
// settings, timed from Start to the last completion.
func (b *benchRun) baseline(ctx context.Context) (float64, error) {
	n := b.flags.baselineJobs
	client, err := jobs.NewNoopClient(b.pool, jobs.Config{DeliverWorkers: b.flags.workers})
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
	deadline := time.After(benchWaitTimeout)
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
			return 0, fmt.Errorf("bench: River completed %d of %d no-op jobs within %s", completed.Load(), n, benchWaitTimeout)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	stopProgress()
	return float64(n) / elapsed.Seconds(), b.dropNoopJobs(ctx, client)
}

// dropNoopJobs stops the no-op client and deletes its jobs, so that the
// deliveries find the queue as it was.
func (b *benchRun) dropNoopJobs(ctx context.Context, client *river.Client[pgx.Tx]) error {
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
func (b *benchRun) saturation(ctx context.Context) (benchPhase, error) {
	ph := b.recv.newPhase("saturation", b.flags.events*b.flags.hooks, arrivalsCounted)
	var failed <-chan error
	if b.flags.processes > 0 {
		procs, err := b.startProcesses(ctx)
		if err != nil {
			return benchPhase{}, err
		}
		defer procs.stop()
		failed = procs.failed
	} else {
		// MaxInflight as many as the workers: the cap per webhook is not
		// what this phase measures.
		stop, err := b.startInProcess(ctx, jobs.Config{Delivery: delivery.Config{MaxInflight: b.flags.workers}})
		if err != nil {
			return benchPhase{}, err
		}
		defer stop()
	}
	stopProgress := b.progress(func() string { return "saturation: " + ph.progress() })
	defer stopProgress()
	start := time.Now()
	if err := b.insertInvestments(ctx, b.flags.events); err != nil {
		return benchPhase{}, err
	}
	if err := b.await(ctx, ph, failed); err != nil {
		return benchPhase{}, err
	}
	stopProgress()
	return ph.result(start), nil
}

// latencyResult is what the latency phase measured.
type latencyResult struct {
	phase      benchPhase
	ms         benchLatency
	inserted   int
	insertTime time.Duration
}

// latency offers --rate events a second to one fresh webhook for
// --duration and measures each delivery from its event's commit to its
// arrival.
func (b *benchRun) latency(ctx context.Context) (latencyResult, error) {
	if err := b.disableWebhooks(ctx); err != nil {
		return latencyResult{}, err
	}
	if _, err := b.addWebhook(ctx, "latency", 0, "*"); err != nil {
		return latencyResult{}, err
	}
	if _, err := b.pool.Exec(ctx, "ANALYZE webhooks.webhooks"); err != nil {
		return latencyResult{}, fmt.Errorf("error analyzing: %w", err)
	}
	total := int(float64(b.flags.rate) * b.flags.duration.Seconds())
	ph := b.recv.newPhase("latency", total, arrivalsFirstByPayload)
	stop, err := b.startInProcess(ctx, jobs.Config{Delivery: delivery.Config{MaxInflight: b.flags.workers}})
	if err != nil {
		return latencyResult{}, err
	}
	defer stop()

	var inserted atomic.Int64
	stopProgress := b.progress(func() string {
		return fmt.Sprintf("latency: %d/%d events inserted, %s", inserted.Load(), total, ph.progress())
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
		due := int(float64(b.flags.rate)*min(time.Since(start), b.flags.duration).Seconds()) - int(inserted.Load())
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
	for id, arrived := range ph.arrivalsByPayload() {
		if at, ok := committed[id]; ok {
			latencies = append(latencies, arrived.Sub(at))
		}
	}
	return latencyResult{phase: ph.result(start), ms: percentiles(latencies), inserted: total, insertTime: insertTime}, nil
}

// benchNoisy is what the noisy phase measured.
type benchNoisy struct {
	Backlog       int     `json:"backlog"`
	Timeout       string  `json:"timeout"`
	AlonePerS     float64 `json:"alone_per_s"`
	BesidePerS    float64 `json:"beside_hanging_per_s"`
	Ratio         float64 `json:"ratio"`
	alone, beside benchPhase
}

// noisy measures a healthy webhook's rate alone (A), then beside a webhook
// whose endpoint hangs until the sender's timeout, with --noisy-backlog
// deliveries queued for it before the healthy events are inserted (B).
// Both run with the default per-webhook in-flight cap, the isolation being
// measured.
func (b *benchRun) noisy(ctx context.Context) (benchNoisy, error) {
	result := benchNoisy{Backlog: b.flags.noisyBacklog, Timeout: b.flags.noisyTimeout.String()}
	if err := b.disableWebhooks(ctx); err != nil {
		return result, err
	}
	stop, err := b.startInProcess(ctx, jobs.Config{Delivery: delivery.Config{Timeout: b.flags.noisyTimeout}})
	if err != nil {
		return result, err
	}
	defer stop()
	// However the phase ends, the hanging handlers return, so that the
	// client stops at once.
	defer b.recv.releaseHanging()

	healthy := func(name string) (benchPhase, error) {
		if _, err := b.addWebhook(ctx, name, 0, "investment.*"); err != nil {
			return benchPhase{}, err
		}
		if _, err := b.pool.Exec(ctx, "ANALYZE webhooks.webhooks"); err != nil {
			return benchPhase{}, fmt.Errorf("error analyzing: %w", err)
		}
		ph := b.recv.newPhase(name, b.flags.events, arrivalsCounted)
		stopProgress := b.progress(func() string { return name + ": " + ph.progress() })
		defer stopProgress()
		start := time.Now()
		if err := b.insertInvestments(ctx, b.flags.events); err != nil {
			return benchPhase{}, err
		}
		if err := b.await(ctx, ph, nil); err != nil {
			return benchPhase{}, err
		}
		stopProgress()
		return ph.result(start), nil
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
func (b *benchRun) queueBacklog(ctx context.Context, hanging string) error {
	n := b.flags.noisyBacklog
	var queued atomic.Int64
	stopProgress := b.progress(func() string {
		return fmt.Sprintf("noisy backlog: %d/%d deliveries queued for the hanging endpoint", queued.Load(), n)
	})
	defer stopProgress()
	for done := 0; done < n; done += b.flags.batch {
		if _, err := b.pool.Exec(ctx, `INSERT INTO pipelines (workspace_id, created_by, name)
			SELECT $1, $2, 'Pipeline ' || i FROM generate_series(1, $3::int) i`, b.workspaceID, b.userID, min(b.flags.batch, n-done)); err != nil {
			return fmt.Errorf("error inserting pipelines: %w", err)
		}
	}
	deadline := time.Now().Add(benchStallTimeout)
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
			return fmt.Errorf("bench: only %d of %d backlog deliveries were queued within %s", count, n, benchStallTimeout)
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
func (b *benchRun) startInProcess(ctx context.Context, config jobs.Config) (func(), error) {
	config.Delivery.Policy = b.policy
	config.Work, config.DeliverWorkers = true, b.flags.workers
	if b.flags.soak > 0 {
		// Every phase's retention job keeps the soak's partitions: one
		// with the default step made day-long slices after them.
		config.PartitionStep, config.Retention, config.JobRetention = b.soakStep(), b.flags.retention, b.flags.retention
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

// benchProcs are `webhooks worker` child processes.
type benchProcs struct {
	cmds     []*exec.Cmd
	logs     []*lockedBuffer
	exited   []chan struct{}
	stopping atomic.Bool
	// failed receives an error, with the process's log, for each that
	// exits before it is stopped.
	failed chan error
	once   sync.Once
}

// startProcesses starts --processes `webhooks worker` processes on the
// scratch database, configured as the in-process client is, and waits
// until each says it is working.
func (b *benchRun) startProcesses(ctx context.Context) (*benchProcs, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("error finding this executable: %w", err)
	}
	// The parent's environment but its database and settings: the
	// processes run as the in-process client would.
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); name != "DATABASE_URL" && !strings.HasPrefix(name, "WEBHOOKS_") {
			env = append(env, kv)
		}
	}
	workers := strconv.Itoa(b.flags.workers)
	env = append(env, "DATABASE_URL="+b.url, "WEBHOOKS_ALLOW_HTTP=true", "WEBHOOKS_ALLOWED_CIDRS=127.0.0.0/8",
		"WEBHOOKS_DELIVER_WORKERS="+workers, "WEBHOOKS_MAX_INFLIGHT="+workers, "WEBHOOKS_LOG_FORMAT=text")

	p := &benchProcs{failed: make(chan error, b.flags.processes)}
	for i := range b.flags.processes {
		log := &lockedBuffer{}
		cmd := exec.Command(exe, "worker")
		cmd.Env, cmd.Stderr = env, log
		if err := cmd.Start(); err != nil {
			p.stop()
			return nil, fmt.Errorf("error starting worker process %d: %w", i+1, err)
		}
		exited := make(chan struct{})
		p.cmds, p.logs, p.exited = append(p.cmds, cmd), append(p.logs, log), append(p.exited, exited)
		go func() {
			err := cmd.Wait()
			close(exited)
			if !p.stopping.Load() {
				p.failed <- fmt.Errorf("bench: worker process %d exited (%v):\n%s", i+1, err, log.String())
			}
		}()
	}

	deadline := time.After(30 * time.Second)
	for {
		ready := 0
		for _, log := range p.logs {
			if strings.Contains(log.String(), "msg=working") {
				ready++
			}
		}
		if ready == len(p.logs) {
			break
		}
		select {
		case err := <-p.failed:
			p.stop()
			return nil, err
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("bench: %d of %d worker processes working after 30s:\n%s", ready, len(p.logs), p.allLogs())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	time.Sleep(200 * time.Millisecond) // their listeners, as startInProcess
	return p, nil
}

// stop sends each process SIGTERM, a graceful stop, and waits; a process
// still there after the longest graceful stop is killed.
func (p *benchProcs) stop() {
	p.once.Do(func() {
		p.stopping.Store(true)
		for _, cmd := range p.cmds {
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				_ = cmd.Process.Kill()
			}
		}
		deadline := time.After(30 * time.Second) // worker's stop: the request timeout, 15s, and 5s more
		for i, exited := range p.exited {
			select {
			case <-exited:
			case <-deadline:
				_ = p.cmds[i].Process.Kill()
				<-exited
			}
		}
	})
}

func (p *benchProcs) allLogs() string {
	var out strings.Builder
	for i, log := range p.logs {
		fmt.Fprintf(&out, "worker process %d:\n%s", i+1, log.String())
	}
	return out.String()
}

// lockedBuffer is a child's standard error, read while the child writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// await waits until every delivery the phase expects has arrived, then a
// grace for late duplicates. Past benchWaitTimeout, or benchStallTimeout
// without an arrival, it returns without error: what is missing is lost.
// failed reports worker processes that died.
func (b *benchRun) await(ctx context.Context, ph *benchReceiverPhase, failed <-chan error) error {
	deadline := time.Now().Add(benchWaitTimeout)
	seen, lastArrival := ph.distinctCount(), time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ph.done:
			break wait
		case err := <-failed:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			if n := ph.distinctCount(); n != seen {
				seen, lastArrival = n, now
			}
			if now.After(deadline) || now.Sub(lastArrival) > benchStallTimeout {
				return nil
			}
		}
	}
	select {
	case <-time.After(benchGrace):
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
func (b *benchRun) progress(line func() string) func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		width := 0
		write := func() {
			s := line()
			fmt.Fprintf(b.c.stderr, "\r%-*s", width, s) // padded over a longer line before
			width = max(width, len(s))
		}
		for {
			select {
			case <-tick.C:
				write()
			case <-done:
				write()
				fmt.Fprintln(b.c.stderr)
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

// scratchDatabase creates an empty database beside DATABASE_URL's and
// returns its URL and a func that drops it.
func (c *command) scratchDatabase(ctx context.Context) (string, func(), error) {
	admin, err := connect(ctx, c.databaseURL())
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("webhooks_bench_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("error creating scratch database: %w", err)
	}
	url, err := pgurl.WithDatabase(c.databaseURL(), name)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	return url, func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		admin.Close()
	}, nil
}

// benchReceiver is the endpoint of every bench webhook. A webhook's URL
// path starts with its phase, and each phase counts its own deliveries by
// webhook-id; /hang/... hangs until the request ends or the bench releases
// it.
type benchReceiver struct {
	mu      sync.Mutex
	phases  map[string]*benchReceiverPhase
	strays  int // deliveries to no phase's path
	release chan struct{}
	once    sync.Once
}

// late counts the deliveries that arrived after their phase was counted, or
// to no phase: a disabled webhook's, a duplicate later than the grace.
func (b *benchReceiver) late() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.strays
	for _, ph := range b.phases {
		ph.mu.Lock()
		n += ph.late
		ph.mu.Unlock()
	}
	return n
}

func newBenchReceiver() *benchReceiver {
	return &benchReceiver{phases: map[string]*benchReceiverPhase{}, release: make(chan struct{})}
}

// benchReceiverPhase counts one phase's deliveries.
type benchReceiverPhase struct {
	name     string
	expected int
	log      arrivalLog

	mu       sync.Mutex
	ids      map[benchKey]struct{} // webhook-id values seen
	received int
	counted  bool // result was taken: later arrivals are late
	late     int
	last     time.Time // the last new webhook-id's arrival
	arrivals map[string]time.Time
	fresh    []benchArrival // arrivalsStreamed: not yet taken
	done     chan struct{}  // closed when every expected id has arrived
}

// arrivalLog is what a phase keeps of when its deliveries arrived.
type arrivalLog int

const (
	arrivalsCounted        arrivalLog = iota // nothing: they are only counted
	arrivalsFirstByPayload                   // each payload id's first arrival (arrivalsByPayload)
	arrivalsStreamed                         // every delivery's, until taken (takeArrivals)
)

// benchArrival is one delivery's arrival, by its payload id.
type benchArrival struct {
	payload benchKey
	at      time.Time
}

// benchKey stands for an id in the maps a phase keeps. It holds no pointer,
// so the garbage collector does not scan the millions of them a long soak
// keeps: that scan ran in the process of the workers being measured. 16
// bytes of SHA-256 make a collision of two ids as good as impossible.
type benchKey [16]byte

func keyOf(id string) benchKey {
	sum := sha256.Sum256([]byte(id))
	return benchKey(sum[:16])
}

func (b *benchReceiver) newPhase(name string, expected int, log arrivalLog) *benchReceiverPhase {
	ph := &benchReceiverPhase{name: name, expected: expected, log: log,
		ids: make(map[benchKey]struct{}, expected), arrivals: map[string]time.Time{}, done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.phases[name] = ph
	return ph
}

// releaseHanging lets every hanging request return, now and from now on.
func (b *benchReceiver) releaseHanging() { b.once.Do(func() { close(b.release) }) }

func (b *benchReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	// Read to the end: the server then watches the connection, and cancels
	// the request's context when the sender gives up.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	phase, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if phase == "hang" {
		select {
		case <-r.Context().Done():
		case <-b.release:
		}
		return
	}
	b.mu.Lock()
	ph := b.phases[phase]
	if ph == nil {
		b.strays++
	}
	b.mu.Unlock()
	if ph == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var payloadID string
	if ph.log != arrivalsCounted {
		var env struct {
			Payload struct {
				ID string `json:"id"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			http.Error(w, "bad envelope", http.StatusBadRequest)
			return
		}
		payloadID = env.Payload.ID
	}
	ph.arrived(r.Header.Get(webhook.HeaderID), payloadID, now)
	w.WriteHeader(http.StatusNoContent)
}

func (p *benchReceiverPhase) arrived(msgID, payloadID string, at time.Time) {
	key := keyOf(msgID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counted {
		p.late++
		return
	}
	p.received++
	if _, ok := p.ids[key]; ok {
		return
	}
	p.ids[key] = struct{}{}
	p.last = at
	switch p.log {
	case arrivalsFirstByPayload:
		if _, ok := p.arrivals[payloadID]; !ok {
			p.arrivals[payloadID] = at
		}
	case arrivalsStreamed:
		p.fresh = append(p.fresh, benchArrival{keyOf(payloadID), at})
	}
	if len(p.ids) == p.expected {
		close(p.done)
	}
}

// takeArrivals hands over the arrivals since it was last called: a swap,
// so that the handlers it holds up wait no longer for a long phase than for
// a short one.
func (p *benchReceiverPhase) takeArrivals() []benchArrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.fresh
	p.fresh = nil
	return out
}

func (p *benchReceiverPhase) distinctCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids)
}

func (p *benchReceiverPhase) progress() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d/%d delivered", len(p.ids), p.expected)
}

func (p *benchReceiverPhase) arrivalsByPayload() map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]time.Time, len(p.arrivals))
	for k, v := range p.arrivals {
		out[k] = v
	}
	return out
}

// result counts the phase: lost is expected less distinct ids received,
// duplicates received less distinct; the rate runs from start to the last
// new arrival.
func (p *benchReceiverPhase) result(start time.Time) benchPhase {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counted = true
	r := benchPhase{Name: p.name, Expected: p.expected, Received: p.received, Distinct: len(p.ids),
		Lost: p.expected - len(p.ids), Duplicates: p.received - len(p.ids)}
	if !p.last.IsZero() {
		r.Seconds = p.last.Sub(start).Seconds()
		r.PerS = float64(len(p.ids)) / r.Seconds
	}
	return r
}

// benchPhase is one phase's count at the receiver.
type benchPhase struct {
	Name       string  `json:"name"`
	Expected   int     `json:"expected"`
	Received   int     `json:"received"`
	Distinct   int     `json:"distinct"`
	Lost       int     `json:"lost"`
	Duplicates int     `json:"duplicates"`
	Seconds    float64 `json:"seconds"` // first insert to last arrival
	PerS       float64 `json:"per_s"`
}

// benchLatency is commit to arrival, in milliseconds.
type benchLatency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// percentiles are nearest-rank percentiles of latencies.
func percentiles(latencies []time.Duration) benchLatency {
	if len(latencies) == 0 {
		return benchLatency{}
	}
	slices.Sort(latencies)
	at := func(p float64) float64 {
		i := max(int(math.Ceil(p*float64(len(latencies))))-1, 0)
		return float64(latencies[i].Microseconds()) / 1000
	}
	return benchLatency{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: at(1)}
}

// benchReport is a run's parameters and measures.
type benchReport struct {
	Events       int    `json:"events"`
	Webhooks     int    `json:"webhooks"`
	Batch        int    `json:"batch"`
	Workers      int    `json:"workers"`
	Processes    int    `json:"processes"`
	BaselineJobs int    `json:"baseline_jobs"`
	Rate         int    `json:"rate"`
	Duration     string `json:"duration"`
	GOMAXPROCS   int    `json:"gomaxprocs"`
	NumCPU       int    `json:"num_cpu"`
	PostgreSQL   string `json:"postgresql_version"`

	RiverJobsPerS  float64 `json:"river_jobs_per_s"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	// Ratio is deliveries_per_s / river_jobs_per_s.
	Ratio                float64      `json:"ratio"`
	Latency              benchLatency `json:"latency_ms"`
	LatencyInserted      int          `json:"latency_events"`
	LatencyInsertSeconds float64      `json:"latency_insert_seconds"`
	Lost                 int          `json:"lost"`
	Duplicates           int          `json:"duplicates"`
	// Late are deliveries that arrived after their phase was counted.
	Late       int            `json:"late"`
	NoisyRatio *float64       `json:"noisy_ratio,omitempty"`
	Noisy      *benchNoisy    `json:"noisy,omitempty"`
	Filtered   *benchFiltered `json:"filtered,omitempty"`
	Ordered    *benchOrdered  `json:"ordered,omitempty"`
	Phases     []benchPhase   `json:"phases"`
}

func (r benchReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("error writing the report: %w", err)
	}
	return nil
}

func (r benchReport) writeTable(w io.Writer) error {
	where := "in this process"
	if r.Processes > 0 {
		where = fmt.Sprintf("per process, the saturation's in %d worker processes, the other phases' in this one", r.Processes)
	}
	fmt.Fprintf(w, "bench: %d events × %d webhooks = %d deliveries (INSERTs of %d rows); %d delivery workers %s; GOMAXPROCS %d, %d CPUs; PostgreSQL %s\n\n",
		r.Events, r.Webhooks, r.Events*r.Webhooks, r.Batch, r.Workers, where, r.GOMAXPROCS, r.NumCPU, r.PostgreSQL)
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	row := func(measure, value, note string) { fmt.Fprintf(tw, "%s\t%s\t%s\n", measure, value, note) }
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" }
	row("measure", "value", "")
	row("River no-op baseline", fmt.Sprintf("%.0f jobs/s", r.RiverJobsPerS), fmt.Sprintf("%d jobs on the delivery queue, delivery settings", r.BaselineJobs))
	row("saturation", fmt.Sprintf("%.0f deliveries/s", r.DeliveriesPerS), fmt.Sprintf("%d webhooks, first insert to last arrival", r.Webhooks))
	row("ratio", fmt.Sprintf("%.3f", r.Ratio), "saturation / River baseline")
	latencyNote := fmt.Sprintf("commit to arrival, %d events/s offered for %s to 1 webhook (%d inserted in %.1fs)",
		r.Rate, r.Duration, r.LatencyInserted, r.LatencyInsertSeconds)
	row("latency p50", ms(r.Latency.P50), latencyNote)
	row("latency p95", ms(r.Latency.P95), "")
	row("latency p99", ms(r.Latency.P99), "")
	row("latency max", ms(r.Latency.Max), "")
	if r.Noisy != nil {
		row("noisy: healthy alone", fmt.Sprintf("%.0f deliveries/s", r.Noisy.AlonePerS), fmt.Sprintf("%d events to 1 webhook", r.Events))
		row("noisy: healthy beside hanging", fmt.Sprintf("%.0f deliveries/s", r.Noisy.BesidePerS),
			fmt.Sprintf("%d deliveries queued first for an endpoint that hangs; %s timeout", r.Noisy.Backlog, r.Noisy.Timeout))
		row("noisy ratio", fmt.Sprintf("%.3f", r.Noisy.Ratio), "beside hanging / alone")
	}
	if f := r.Filtered; f != nil {
		expansion := func(e benchExpansion) string {
			return fmt.Sprintf("%.1f µs/event", e.USPerEvent)
		}
		row("expansion, no match", expansion(f.Unmatched), fmt.Sprintf("%d events queued, then expanded; %d webhooks take none of them", f.Events, f.Webhooks))
		row("expansion, no filter", expansion(f.Unfiltered), fmt.Sprintf("%d events queued, then expanded to %d webhooks: %d messages, %d jobs",
			f.Events, f.Webhooks, f.Unfiltered.Messages, f.Unfiltered.DeliverJobs))
		row("expansion, filter", expansion(f.Filtered), fmt.Sprintf("the same with %s, which matches 1 in %d: %d messages, %d jobs",
			f.Filtered.Filter, benchFilterMatch, f.Filtered.Messages, f.Filtered.DeliverJobs))
	}
	if o := r.Ordered; o != nil {
		row("ordered: unordered webhook", fmt.Sprintf("%.0f deliveries/s", o.Unordered.PerS), fmt.Sprintf("%d updates over %d resources to 1 webhook", o.Events, o.Resources))
		row("ordered: ordered webhook", fmt.Sprintf("%.0f deliveries/s", o.Ordered.PerS), "the same updates to 1 ordered webhook: one at a time per resource")
		row("ordered ratio", fmt.Sprintf("%.3f", o.Ratio), "ordered / unordered")
	}
	var lost, dups []string
	for _, p := range r.Phases {
		lost = append(lost, fmt.Sprintf("%s %d of %d", p.Name, p.Lost, p.Expected))
		dups = append(dups, fmt.Sprintf("%s %d", p.Name, p.Duplicates))
	}
	row("lost", strconv.Itoa(r.Lost), strings.Join(lost, ", "))
	row("duplicates", strconv.Itoa(r.Duplicates), strings.Join(dups, ", "))
	if r.Late > 0 {
		row("late", strconv.Itoa(r.Late), "arrived after their phase was counted, or from a disabled webhook")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("error writing the report: %w", err)
	}
	// tabwriter pads an empty last cell; the lines end without the padding.
	for line := range strings.Lines(table.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return fmt.Errorf("error writing the report: %w", err)
		}
	}
	return nil
}
