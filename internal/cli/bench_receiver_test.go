package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStreamedArrivals: a streamed phase hands over each delivery's arrival
// once, a duplicate's never, and keeps nothing once taken; a counted phase
// keeps none.
func TestStreamedArrivals(t *testing.T) {
	t.Parallel()
	recv := newBenchReceiver()
	ph := recv.newPhase("soak", 3, arrivalsStreamed)
	t0 := time.Now()
	ph.arrived("msg_1", "ev_1", t0)
	ph.arrived("msg_2", "ev_1", t0.Add(time.Millisecond)) // the same event to a second webhook
	ph.arrived("msg_1", "ev_1", t0.Add(2*time.Millisecond))
	got := ph.takeArrivals()
	require.Equal(t, []benchArrival{{keyOf("ev_1"), t0}, {keyOf("ev_1"), t0.Add(time.Millisecond)}}, got)
	require.Empty(t, ph.takeArrivals(), "taken once")
	ph.arrived("msg_3", "ev_2", t0.Add(3*time.Millisecond))
	require.Equal(t, []benchArrival{{keyOf("ev_2"), t0.Add(3 * time.Millisecond)}}, ph.takeArrivals())
	r := ph.result(t0)
	require.Equal(t, 3, r.Distinct)
	require.Equal(t, 1, r.Duplicates)
	require.Empty(t, ph.arrivals, "a streamed phase keeps no map of arrivals")

	counted := recv.newPhase("saturation", 1, arrivalsCounted)
	counted.arrived("msg_1", "", t0)
	require.Empty(t, counted.takeArrivals())
	require.Empty(t, counted.arrivals)
	require.NotEqual(t, keyOf("ev_1"), keyOf("ev_2"))
}
