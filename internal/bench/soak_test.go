package bench

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/jobs"
)

// TestSoakWindowReads: a window's read is the p95 of all its minutes'
// timings, beside the worst of its minutes' p95, so that one bad moment
// shows without standing for the window.
func TestSoakWindowReads(t *testing.T) {
	t.Parallel()
	ms := func(n int, d time.Duration) []time.Duration {
		return slices.Repeat([]time.Duration{d * time.Millisecond}, n)
	}
	calm := soakMinute{Minute: 1, Reads: map[string]float64{"list": 10}, reads: map[string][]time.Duration{"list": ms(20, 10)}}
	// Two slow timings of 20 are this minute's p95 (the 19th), but 2 of
	// the window's 40 are not its p95 (the 38th).
	spike := soakMinute{Minute: 2, Reads: map[string]float64{"list": 100}, reads: map[string][]time.Duration{"list": append(ms(18, 10), ms(2, 100)...)}}
	w := soakWindowOf([]soakMinute{calm, spike}, nil, 1, 2)
	require.Equal(t, 10.0, w.Reads["list"])
	require.Equal(t, 100.0, w.WorstMinuteReads["list"])
	// A third slow timing reaches the window's p95.
	spike.reads["list"] = append(ms(17, 10), ms(3, 100)...)
	w = soakWindowOf([]soakMinute{calm, spike}, nil, 1, 2)
	require.Equal(t, 100.0, w.Reads["list"])
}

// TestSoakJobRetention: the soak keeps completed jobs as the product does
// by default, unless its retention is shorter or --job-retention says.
func TestSoakJobRetention(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	require.Equal(t, jobs.DefaultJobRetention, o.soakJobRetention(), "the product's default, under the 10m retention")
	o.Retention = jobs.DefaultJobRetention / 2
	require.Equal(t, o.Retention, o.soakJobRetention(), "never past the soak's retention")
	o.JobRetention = 10 * time.Minute
	require.Equal(t, 10*time.Minute, o.soakJobRetention(), "--job-retention wins")
}
