package harness

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
	recv := NewReceiver()
	ph := recv.NewPhase("soak", 3, ArrivalsStreamed)
	t0 := time.Now()
	ph.Arrived("msg_1", "ev_1", t0)
	ph.Arrived("msg_2", "ev_1", t0.Add(time.Millisecond)) // the same event to a second webhook
	ph.Arrived("msg_1", "ev_1", t0.Add(2*time.Millisecond))
	got := ph.TakeArrivals()
	require.Equal(t, []Arrival{{KeyOf("ev_1"), t0}, {KeyOf("ev_1"), t0.Add(time.Millisecond)}}, got)
	require.Empty(t, ph.TakeArrivals(), "taken once")
	ph.Arrived("msg_3", "ev_2", t0.Add(3*time.Millisecond))
	require.Equal(t, []Arrival{{KeyOf("ev_2"), t0.Add(3 * time.Millisecond)}}, ph.TakeArrivals())
	r := ph.Result(t0)
	require.Equal(t, 3, r.Distinct)
	require.Equal(t, 1, r.Duplicates)
	require.Empty(t, ph.arrivals, "a streamed phase keeps no map of arrivals")

	counted := recv.NewPhase("saturation", 1, ArrivalsCounted)
	counted.Arrived("msg_1", "", t0)
	require.Empty(t, counted.TakeArrivals())
	require.Empty(t, counted.arrivals)
	require.NotEqual(t, KeyOf("ev_1"), KeyOf("ev_2"))
}
