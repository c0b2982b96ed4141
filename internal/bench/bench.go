package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/countercyclical/webhooks/internal/harness"
	"github.com/countercyclical/webhooks/internal/netguard"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/sql/migrations"
)

// How long a phase waits for its deliveries: what has not arrived by then is
// reported as lost rather than waited for.
const (
	waitTimeout  = 5 * time.Minute // after the phase's last insert
	stallTimeout = 2 * time.Minute // without a new arrival
	// grace is waited after the last expected arrival, so that a late
	// duplicate is counted.
	grace = time.Second
)

// Options are a run's: what each phase offers and measures.
type Options struct {
	// Server is a pool on the PostgreSQL server of DatabaseURL, where the
	// scratch database is made beside DatabaseURL's, and dropped after.
	Server      *pgxpool.Pool
	DatabaseURL string

	// The saturation phase: Events captured, each to Webhooks webhooks, in
	// INSERTs of Batch rows; Workers delivery workers (per process with
	// Processes worker processes; 0: in this process).
	Events, Webhooks, Batch, Workers int
	Processes                        int
	// BaselineJobs are the no-op River jobs of the baseline.
	BaselineJobs int
	// The latency phase: Rate events a second offered for Duration.
	Rate     int
	Duration time.Duration
	// Noisy adds the noisy phase: NoisyBacklog deliveries queued for an
	// endpoint that hangs, with the sender's timeout NoisyTimeout.
	Noisy        bool
	NoisyBacklog int
	NoisyTimeout time.Duration
	// Filtered, when positive, adds the filtered phase: this many events'
	// expansion timed without a filter and with one.
	Filtered int
	// Ordered adds the ordered phases: OrderedEvents updates over
	// OrderedResources resources.
	Ordered                         bool
	OrderedEvents, OrderedResources int
	// JSON prints one JSON object instead of the table.
	JSON bool
	// CPUProfile, if not "", is where a CPU profile of this process goes.
	CPUProfile string

	// Soak, when positive, runs the soak (soak.go) this long instead of the
	// latency phase, at SoakRate events a second (0: 60% of the saturation
	// measured), with the retention Retention and History attempts written
	// before it. River keeps the soak's completed jobs JobRetention (0:
	// jobs.DefaultJobRetention, or Retention if shorter).
	Soak, Retention, JobRetention time.Duration
	SoakRate                      int
	History                       int
	// Days, when positive and without Soak, makes the day-long partitions of
	// the logs that Days days of history fill, before the run, empty: the
	// plans kept for any batch name every partition, so this measures the
	// pipeline as a month's retention (30) finds it.
	Days int

	// WorkerBinary is the webhooks binary of the Processes worker
	// processes ("": this executable).
	WorkerBinary string
}

// soakJobRetention is how long the soak's River keeps completed jobs.
func (o Options) soakJobRetention() time.Duration {
	if o.JobRetention > 0 {
		return o.JobRetention
	}
	return min(jobs.DefaultJobRetention, o.Retention)
}

// DefaultOptions are those of `webhooks bench` without flags.
func DefaultOptions() Options {
	return Options{
		Events: 2000, Webhooks: 5, Batch: 100, Workers: jobs.DefaultDeliverWorkers,
		BaselineJobs: 20000, Rate: 1000, Duration: 30 * time.Second,
		NoisyBacklog: 1000, NoisyTimeout: 15 * time.Second,
		OrderedEvents: 2000, OrderedResources: 500,
		Retention: 10 * time.Minute,
	}
}

// Run measures the pipeline against River's own rate on this machine, in
// a scratch database of its own beside DatabaseURL's: first River working
// no-op jobs on the delivery queue with the delivery settings; then the
// app's inserts captured, expanded and delivered to a receiver in this
// process, as fast as they go (saturation) and at a fixed offered rate
// (latency, commit to receipt); optionally a healthy webhook beside one that
// hangs. Every message id is counted at the receiver. The report goes to
// stdout, the progress to stderr.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if o.CPUProfile != "" {
		out, err := os.Create(o.CPUProfile)
		if err != nil {
			return fmt.Errorf("error creating the CPU profile: %w", err)
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return fmt.Errorf("error starting the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	url, drop, err := scratchDatabase(ctx, o.Server, o.DatabaseURL)
	if err != nil {
		return err
	}
	defer drop()
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("error parsing the scratch database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		config.MaxConns = jobs.MaxConns // as serve and worker
	}
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return fmt.Errorf("error opening pool: %w", err)
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		return err
	}

	recv := harness.NewReceiver()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("error starting the receiver: %w", err)
	}
	srv := &http.Server{Handler: recv, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(listener) //nolint:errcheck
	defer srv.Close()
	defer recv.ReleaseHanging() // before srv.Close: hanging handlers return at once

	allowed, err := netguard.ParseCIDRs("127.0.0.0/8")
	if err != nil {
		return err
	}
	b := &run{o: o, stdout: stdout, stderr: stderr, url: url, pool: pool, recv: recv, receiverURL: "http://" + listener.Addr().String(),
		policy: netguard.Policy{AllowHTTP: true, Allowed: allowed}}
	report := runReport{
		Events: o.Events, Webhooks: o.Webhooks, Batch: o.Batch, Workers: o.Workers, Processes: o.Processes,
		BaselineJobs: o.BaselineJobs, Rate: o.Rate, Duration: o.Duration.String(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), Days: o.Days,
	}
	if err := pool.QueryRow(ctx, "SHOW server_version").Scan(&report.PostgreSQL); err != nil {
		return fmt.Errorf("error reading the server version: %w", err)
	}
	switch {
	case o.Soak > 0:
		if err := b.slicePartitions(ctx); err != nil {
			return err
		}
	case o.Days > 0:
		if err := b.pastPartitions(ctx); err != nil {
			return err
		}
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM webhooks.partitions").Scan(&report.Partitions); err != nil {
		return fmt.Errorf("error counting the partitions: %w", err)
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
	if o.Soak > 0 {
		return b.runSoak(ctx, saturation.PerS)
	}
	latency, err := b.latency(ctx)
	if err != nil {
		return err
	}
	report.Latency = latency.ms
	report.LatencyInserted, report.LatencyInsertSeconds = latency.inserted, latency.insertTime.Seconds()
	report.Phases = append(report.Phases, latency.phase)
	if o.Noisy {
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
	if o.Filtered > 0 {
		if err := b.vacuum(ctx); err != nil {
			return err
		}
		filtered, err := b.filtered(ctx)
		if err != nil {
			return err
		}
		report.Filtered = &filtered
	}
	if o.Ordered {
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
	report.Late = recv.Late()
	var lostIn []string
	for _, p := range report.Phases {
		report.Lost += p.Lost
		report.Duplicates += p.Duplicates
		if p.Lost > 0 {
			lostIn = append(lostIn, fmt.Sprintf("%d of %d in %s", p.Lost, p.Expected, p.Name))
		}
	}
	if o.JSON {
		err = report.writeJSON(stdout)
	} else {
		err = report.writeTable(stdout)
	}
	if err != nil {
		return err
	}
	if len(lostIn) > 0 {
		return fmt.Errorf("bench: deliveries lost: %s", strings.Join(lostIn, ", "))
	}
	return nil
}

// run is one run's shared state: its scratch database, pool, receiver
// and seed.
type run struct {
	o           Options
	stdout      io.Writer
	stderr      io.Writer
	url         string
	pool        *pgxpool.Pool
	recv        *harness.Receiver
	receiverURL string
	policy      netguard.Policy

	workspaceID, userID string
}
