package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/bench"
	"github.com/countercyclical/webhooks/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// small are the default options printing JSON, on a server pool of the
// test's own: the scratch database is made beside a database of its own,
// and dropped.
func small(t *testing.T) bench.Options {
	url := dbtest.NewDB(t)
	server, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(server.Close)
	o := bench.DefaultOptions()
	o.Server, o.DatabaseURL, o.JSON = server, url, true
	return o
}

type result struct {
	err            error
	stdout, stderr string
}

func runBench(t *testing.T, o bench.Options) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := bench.Run(context.Background(), o, &stdout, &stderr)
	return result{err, stdout.String(), stderr.String()}
}

// --days makes the partitions of that many days' history before the run,
// from that day to yesterday's, which the migrations made.
func TestBenchDays(t *testing.T) {
	t.Parallel()
	o := small(t)
	o.Events, o.Webhooks, o.BaselineJobs, o.Rate, o.Duration = 20, 1, 100, 20, time.Second
	var report struct {
		Days       int `json:"days"`
		Partitions int `json:"partitions"`
		Lost       int `json:"lost"`
	}
	res := runBench(t, o)
	require.NoError(t, res.err, res.stderr)
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &report), res.stdout)
	without := report.Partitions
	require.Positive(t, without)

	o.Days = 10
	res = runBench(t, o)
	require.NoError(t, res.err, res.stderr)
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &report), res.stdout)
	require.Equal(t, 10, report.Days)
	require.Equal(t, without+9, report.Partitions, "ten days back to the day before yesterday")
	require.Zero(t, report.Lost)
}

func TestBenchOrdered(t *testing.T) {
	t.Parallel()
	o := small(t)
	o.Events, o.Webhooks, o.BaselineJobs, o.Rate, o.Duration = 20, 1, 100, 20, time.Second
	o.Ordered, o.OrderedEvents, o.OrderedResources = true, 100, 20
	res := runBench(t, o)
	require.NoError(t, res.err, res.stderr)
	var report struct {
		Ordered struct {
			Events, Resources int
			Ratio             float64
		} `json:"ordered"`
		Phases []struct {
			Name               string
			Expected, Distinct int
		} `json:"phases"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &report), res.stdout)
	require.Equal(t, 100, report.Ordered.Events)
	require.Equal(t, 20, report.Ordered.Resources)
	require.Positive(t, report.Ordered.Ratio)
	require.Len(t, report.Phases, 4)
	for _, p := range report.Phases[2:] {
		require.Equal(t, 100, p.Distinct, p.Name)
	}
	require.Equal(t, []string{"unordered", "ordered"}, []string{report.Phases[2].Name, report.Phases[3].Name})
}

// TestBenchSoak runs a one-minute soak, small, and reads its JSON: a line
// for the minute with every delivery's latency, the tables' sizes and the
// six reads, both windows, and nothing lost.
func TestBenchSoak(t *testing.T) {
	t.Parallel()
	o := small(t)
	o.Events, o.Webhooks, o.BaselineJobs = 20, 2, 100
	o.Soak, o.SoakRate, o.Retention = time.Minute, 10, time.Minute
	res := runBench(t, o)
	require.NoError(t, res.err, res.stderr)
	require.Contains(t, res.stderr, "soak: 10 events/s to 2 webhooks (20 deliveries/s")
	var report struct {
		Rate     int
		Webhooks int
		Minutes  []struct {
			Minute, Deliveries int
			Latency            struct{ P50, P99 float64 } `json:"latency_ms"`
			Bytes              map[string]int64
			RiverJobs          int64              `json:"river_job_rows"`
			Reads              map[string]float64 `json:"reads_p95_ms"`
		}
		Windows []struct {
			P99              float64            `json:"latency_p99_ms"`
			Reads            map[string]float64 `json:"reads_p95_ms"`
			WorstMinuteReads map[string]float64 `json:"reads_worst_minute_p95_ms"`
		}
		Expected, Lost, Duplicates int
		LogBytesPerDelivery        float64 `json:"log_bytes_per_delivery"`
		MessagesUpdatedInPlace     float64 `json:"messages_updated_in_place"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &report), res.stdout)
	require.Equal(t, 10, report.Rate)
	require.Equal(t, 1200, report.Expected, "10 events/s for a minute to 2 webhooks")
	require.Zero(t, report.Lost)
	require.Len(t, report.Minutes, 1)
	m := report.Minutes[0]
	require.Equal(t, 1, m.Minute)
	require.Greater(t, m.Deliveries, 1000, "nearly all arrive within their minute")
	require.Positive(t, m.Latency.P50)
	require.LessOrEqual(t, m.Latency.P50, m.Latency.P99)
	for _, table := range []string{"outbox", "messages", "attempts", "river_job"} {
		require.Positive(t, m.Bytes[table], table)
	}
	require.Positive(t, m.RiverJobs)
	for _, read := range []string{"list", "deliveries", "failed", "event_type", "endpoint_health", "recover"} {
		require.Positive(t, m.Reads[read], read)
	}
	require.Len(t, report.Windows, 2)
	require.Equal(t, m.Latency.P99, report.Windows[1].P99)
	require.Equal(t, m.Reads, report.Windows[1].Reads, "a window of one minute has that minute's timings")
	require.Equal(t, m.Reads, report.Windows[1].WorstMinuteReads)
	require.Positive(t, report.LogBytesPerDelivery)
	require.Greater(t, report.MessagesUpdatedInPlace, 0.5, "a message's success is a HOT update")
}
