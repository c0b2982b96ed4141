package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/countercyclical/webhooks/internal/harness"
)

// latencyMS is commit to arrival, in milliseconds.
type latencyMS struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// percentiles are nearest-rank percentiles of latencies.
func percentiles(latencies []time.Duration) latencyMS {
	if len(latencies) == 0 {
		return latencyMS{}
	}
	slices.Sort(latencies)
	at := func(p float64) float64 {
		i := max(int(math.Ceil(p*float64(len(latencies))))-1, 0)
		return float64(latencies[i].Microseconds()) / 1000
	}
	return latencyMS{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: at(1)}
}

// runReport is a run's parameters and measures.
type runReport struct {
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
	// Days is Options.Days: the empty day-long partitions made before the
	// run; Partitions how many each partitioned table of the logs then had.
	Days       int `json:"days,omitempty"`
	Partitions int `json:"partitions"`

	RiverJobsPerS  float64 `json:"river_jobs_per_s"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	// Ratio is deliveries_per_s / river_jobs_per_s.
	Ratio                float64   `json:"ratio"`
	Latency              latencyMS `json:"latency_ms"`
	LatencyInserted      int       `json:"latency_events"`
	LatencyInsertSeconds float64   `json:"latency_insert_seconds"`
	Lost                 int       `json:"lost"`
	Duplicates           int       `json:"duplicates"`
	// Late are deliveries that arrived after their phase was counted.
	Late       int                   `json:"late"`
	NoisyRatio *float64              `json:"noisy_ratio,omitempty"`
	Noisy      *noisyResult          `json:"noisy,omitempty"`
	Filtered   *filteredResult       `json:"filtered,omitempty"`
	Ordered    *orderedResult        `json:"ordered,omitempty"`
	Phases     []harness.PhaseResult `json:"phases"`
}

func (r runReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("error writing the report: %w", err)
	}
	return nil
}

func (r runReport) writeTable(w io.Writer) error {
	where := "in this process"
	if r.Processes > 0 {
		where = fmt.Sprintf("per process, the saturation's in %d worker processes, the other phases' in this one", r.Processes)
	}
	fmt.Fprintf(w, "bench: %d events × %d webhooks = %d deliveries (INSERTs of %d rows); %d delivery workers %s; GOMAXPROCS %d, %d CPUs; PostgreSQL %s\n\n",
		r.Events, r.Webhooks, r.Events*r.Webhooks, r.Batch, r.Workers, where, r.GOMAXPROCS, r.NumCPU, r.PostgreSQL)
	if r.Days > 0 {
		fmt.Fprintf(w, "%d partitions of the logs, as %d days of history leave them (those days' empty)\n\n", r.Partitions, r.Days)
	}
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
		expansion := func(e expansion) string {
			return fmt.Sprintf("%.1f µs/event", e.USPerEvent)
		}
		row("expansion, no match", expansion(f.Unmatched), fmt.Sprintf("%d events queued, then expanded; %d webhooks take none of them", f.Events, f.Webhooks))
		row("expansion, no filter", expansion(f.Unfiltered), fmt.Sprintf("%d events queued, then expanded to %d webhooks: %d messages, %d jobs",
			f.Events, f.Webhooks, f.Unfiltered.Messages, f.Unfiltered.DeliverJobs))
		row("expansion, filter", expansion(f.Filtered), fmt.Sprintf("the same with %s, which matches 1 in %d: %d messages, %d jobs",
			f.Filtered.Filter, filterMatch, f.Filtered.Messages, f.Filtered.DeliverJobs))
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
