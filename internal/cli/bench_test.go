package cli_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
)

// TestBenchJSON runs every phase of bench, small, and reads its JSON: every
// delivery arrived, and each rate was measured.
func TestBenchJSON(t *testing.T) {
	t.Parallel()
	// The scratch database is made beside DATABASE_URL's, and dropped.
	env := map[string]string{"DATABASE_URL": dbtest.NewDB(t)}
	res := run(t, env, "bench", "--events", "50", "--webhooks", "2", "--baseline-jobs", "500", "--rate", "100", "--duration", "2s", "--json")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stderr, "saturation: 100/100 delivered", "progress goes to standard error")

	var report struct {
		Events         int      `json:"events"`
		Webhooks       int      `json:"webhooks"`
		RiverJobsPerS  float64  `json:"river_jobs_per_s"`
		DeliveriesPerS float64  `json:"deliveries_per_s"`
		Ratio          float64  `json:"ratio"`
		Lost           *int     `json:"lost"`
		Duplicates     *int     `json:"duplicates"`
		Late           *int     `json:"late"`
		NoisyRatio     *float64 `json:"noisy_ratio"`
		Latency        struct {
			P50, P95, P99, Max float64
		} `json:"latency_ms"`
		Phases []struct {
			Name               string
			Expected, Distinct int
		} `json:"phases"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &report), "one JSON object: %s", res.stdout)
	require.Equal(t, 50, report.Events)
	require.Equal(t, 2, report.Webhooks)
	require.NotNil(t, report.Lost)
	require.Zero(t, *report.Lost)
	require.NotNil(t, report.Duplicates)
	require.NotNil(t, report.Late)
	require.Zero(t, *report.Late, "nothing arrived after its phase, nor from a disabled webhook")
	require.Positive(t, report.RiverJobsPerS)
	require.Positive(t, report.DeliveriesPerS)
	require.Positive(t, report.Ratio)
	require.Positive(t, report.Latency.P50)
	require.LessOrEqual(t, report.Latency.P50, report.Latency.P95)
	require.LessOrEqual(t, report.Latency.P95, report.Latency.P99)
	require.LessOrEqual(t, report.Latency.P99, report.Latency.Max)
	require.Nil(t, report.NoisyRatio, "noisy_ratio only with --noisy")
	require.Len(t, report.Phases, 2)
	require.Equal(t, "saturation", report.Phases[0].Name)
	require.Equal(t, 100, report.Phases[0].Distinct)
	require.Equal(t, "latency", report.Phases[1].Name)
	require.Equal(t, 200, report.Phases[1].Distinct, "100 events/s for 2s")
}

func TestBenchFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--events", "0"}, "--events must be at least 1, not 0"},
		{[]string{"--webhooks", "0", "--rate", "-5"}, "--webhooks must be at least 1, not 0; --rate must be at least 1, not -5"},
		{[]string{"--duration", "0s"}, "--duration must be a positive duration such as 30s, not 0s"},
		{[]string{"--processes", "-1"}, "--processes must be at least 0, not -1"},
		{[]string{"--noisy-backlog", "10"}, "--noisy-backlog and --noisy-timeout need --noisy"},
		{[]string{"--noisy", "--noisy-timeout", "0s"}, "--noisy-timeout must be a positive duration"},
		{[]string{"--ordered-events", "10"}, "--ordered-events and --ordered-resources need --ordered"},
		{[]string{"--ordered", "--ordered-resources", "0"}, "--ordered-resources must be at least 1, not 0"},
		{[]string{"--ordered", "--soak", "1m"}, "--ordered is a phase of the bench without --soak"},
		{[]string{"--days", "30", "--soak", "1m"}, "--days is for the bench without --soak"},
		{[]string{"--job-retention", "5m"}, "--retention, --job-retention and --history need --soak"},
		{[]string{"--soak", "1m", "--job-retention", "0s"}, "--job-retention must be at least 1s, not 0s"},
		{[]string{"--soak", "1m", "--retention", "30s"}, "--retention must be at least 1m, not 30s"},
		{[]string{"--days", "-1"}, "--days must be at least 0, not -1"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--rate", "fast"}, `invalid value "fast" for flag -rate`},
		{[]string{"extra"}, `bench takes flags only, not "extra"`},
	} {
		res := run(t, nil, append([]string{"bench"}, tt.args...)...)
		require.Equal(t, 2, res.code, tt.args)
		require.Contains(t, res.stderr, tt.want, tt.args)
		require.Contains(t, res.stderr, "Usage: webhooks", tt.args)
	}
	res := run(t, nil, "bench", "--bogus")
	require.Contains(t, res.stderr, "-baseline-jobs int", "a bad flag lists bench's flags")
}
