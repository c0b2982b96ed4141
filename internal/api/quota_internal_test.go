package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWindow: at most limit events in any span of per, per key; a refusal
// says how long until the oldest leaves the window; quiet keys are
// forgotten.
func TestWindow(t *testing.T) {
	t.Parallel()
	w := newWindow(2, time.Minute)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	_, ok := w.take("a", t0)
	require.True(t, ok)
	_, ok = w.take("a", t0.Add(10*time.Second))
	require.True(t, ok)
	wait, ok := w.take("a", t0.Add(20*time.Second))
	require.False(t, ok)
	require.Equal(t, 40*time.Second, wait)
	_, ok = w.take("b", t0.Add(20*time.Second))
	require.True(t, ok, "another key has its own window")
	_, ok = w.take("a", t0.Add(time.Minute))
	require.True(t, ok, "the first has left the window")
	wait, ok = w.take("a", t0.Add(61*time.Second))
	require.False(t, ok)
	require.Equal(t, 9*time.Second, wait)

	_, ok = w.take("c", t0.Add(5*time.Minute))
	require.True(t, ok)
	require.Len(t, w.times, 1, "a and b, quiet for a minute, were forgotten")
}
