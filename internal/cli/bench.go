package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/countercyclical/webhooks/internal/bench"
)

// newBenchFlagSet reads bench's flags into the bench's options. The flags,
// their checks and their usage errors are the command's (help.go lists
// them); what they mean is package bench's.
func newBenchFlagSet(f *bench.Options) *flag.FlagSet {
	d := bench.DefaultOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&f.Events, "events", d.Events, "events captured in the saturation phase")
	fs.IntVar(&f.Webhooks, "webhooks", d.Webhooks, "webhooks subscribed to every event in the saturation phase")
	fs.IntVar(&f.Batch, "batch", d.Batch, "rows per INSERT statement in the saturation phases")
	fs.IntVar(&f.Workers, "workers", d.Workers, "delivery workers (per process with --processes)")
	fs.IntVar(&f.BaselineJobs, "baseline-jobs", d.BaselineJobs, "no-op River jobs of the baseline")
	fs.IntVar(&f.Rate, "rate", d.Rate, "events per second offered in the latency phase")
	fs.DurationVar(&f.Duration, "duration", d.Duration, "how long the latency phase offers events")
	fs.IntVar(&f.Processes, "processes", d.Processes, "worker processes that deliver the saturation phase (0: this process)")
	fs.BoolVar(&f.Noisy, "noisy", d.Noisy, "also measure a healthy webhook beside one whose endpoint hangs")
	fs.IntVar(&f.NoisyBacklog, "noisy-backlog", d.NoisyBacklog, "deliveries queued for the hanging endpoint (with --noisy)")
	fs.DurationVar(&f.NoisyTimeout, "noisy-timeout", d.NoisyTimeout, "the sender's request timeout in the noisy phase (with --noisy)")
	fs.IntVar(&f.Filtered, "filtered", d.Filtered, "also time the expansion of this many events to --webhooks webhooks without a filter and with one that matches a tenth of them")
	fs.BoolVar(&f.Ordered, "ordered", d.Ordered, "also measure an ordered webhook's saturation against an unordered one's, with --ordered-events updates over --ordered-resources resources")
	fs.IntVar(&f.OrderedEvents, "ordered-events", d.OrderedEvents, "updates delivered in each ordered phase (with --ordered)")
	fs.IntVar(&f.OrderedResources, "ordered-resources", d.OrderedResources, "resources the ordered phases' updates are spread over (with --ordered)")
	fs.BoolVar(&f.JSON, "json", d.JSON, "print one JSON object instead of the table")
	fs.StringVar(&f.CPUProfile, "cpuprofile", d.CPUProfile, "write a CPU profile of this process (pprof) to the file")
	fs.DurationVar(&f.Soak, "soak", d.Soak, "instead of the latency phase, offer --rate events/s (default: 60% of the saturation measured) to --webhooks webhooks this long, printing a line a minute")
	fs.DurationVar(&f.Retention, "retention", d.Retention, "the soak's WEBHOOKS_RETENTION (with --soak); partitions are a tenth of it, at least a minute")
	fs.DurationVar(&f.JobRetention, "job-retention", d.JobRetention, "the soak's WEBHOOKS_JOB_RETENTION (with --soak; default: the shorter of WEBHOOKS_JOB_RETENTION's default and --retention)")
	fs.IntVar(&f.History, "history", d.History, "attempts written in bulk, before the soak, within its retention (with --soak)")
	fs.IntVar(&f.Days, "days", d.Days, "make the day-long partitions of the logs that this many days of history fill (30: a month's retention), empty, before the run (without --soak)")
	return fs
}

func parseBenchFlags(args []string) (bench.Options, error) {
	var f bench.Options
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
	case !f.Noisy && (given["noisy-backlog"] || given["noisy-timeout"]):
		return f, usageError{"bench: --noisy-backlog and --noisy-timeout need --noisy"}
	case f.Soak == 0 && (given["retention"] || given["job-retention"] || given["history"]):
		return f, usageError{"bench: --retention, --job-retention and --history need --soak"}
	case f.Soak > 0 && given["days"]:
		return f, usageError{"bench: --days is for the bench without --soak, whose partitions follow --retention"}
	case f.Soak > 0 && given["filtered"]:
		return f, usageError{"bench: --filtered is a phase of the bench without --soak"}
	case f.Soak > 0 && f.Ordered:
		return f, usageError{"bench: --ordered is a phase of the bench without --soak"}
	case !f.Ordered && (given["ordered-events"] || given["ordered-resources"]):
		return f, usageError{"bench: --ordered-events and --ordered-resources need --ordered"}
	}
	if f.Soak > 0 && given["rate"] {
		f.SoakRate = f.Rate
	}
	atLeast("history", f.History, 0)
	atLeast("days", f.Days, 0)
	if given["soak"] {
		positive("soak", f.Soak)
		if f.Retention < time.Minute {
			problems = append(problems, fmt.Sprintf("--retention must be at least 1m, not %s", f.Retention))
		}
		if given["job-retention"] && f.JobRetention < time.Second {
			problems = append(problems, fmt.Sprintf("--job-retention must be at least 1s, not %s", f.JobRetention))
		}
	}
	atLeast("events", f.Events, 1)
	atLeast("webhooks", f.Webhooks, 1)
	atLeast("batch", f.Batch, 1)
	atLeast("workers", f.Workers, 1)
	atLeast("baseline-jobs", f.BaselineJobs, 1)
	atLeast("rate", f.Rate, 1)
	positive("duration", f.Duration)
	if f.Rate >= 1 && f.Duration > 0 && float64(f.Rate)*f.Duration.Seconds() < 1 {
		problems = append(problems, fmt.Sprintf("--rate %d for --duration %s offers no event; offer at least one", f.Rate, f.Duration))
	}
	atLeast("processes", f.Processes, 0)
	atLeast("filtered", f.Filtered, 0)
	atLeast("ordered-events", f.OrderedEvents, 1)
	atLeast("ordered-resources", f.OrderedResources, 1)
	atLeast("noisy-backlog", f.NoisyBacklog, 1)
	positive("noisy-timeout", f.NoisyTimeout)
	if len(problems) > 0 {
		return f, usageError{"bench: " + strings.Join(problems, "; ")}
	}
	return f, nil
}

// bench runs the bench (package bench) in a scratch database beside
// DATABASE_URL's.
func (c *command) bench(ctx context.Context, args []string) error {
	f, err := parseBenchFlags(args)
	if err != nil {
		return err
	}
	server, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer server.Close()
	f.Server, f.DatabaseURL = server, c.databaseURL()
	return bench.Run(ctx, f, c.stdout, c.stderr)
}
