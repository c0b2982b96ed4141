package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A rate window that ended by the database's clock, but not yet by ours, or
// the other way round, still makes a snooze River accepts: positive.
func TestRateSnoozeNeverNegative(t *testing.T) {
	t.Parallel()
	g := newGates(10)
	for _, end := range []time.Time{time.Now().Add(-2 * time.Second), time.Now(), time.Now().Add(300 * time.Millisecond)} {
		require.Positive(t, g.rateSnooze("w", 5, end))
	}
}

// A webhook that was slow once, then idle, is not judged slow when it is
// busy again: its first deliveries over the cap wait in the worker or
// snooze briefly, rather than back off and have the backlog put aside.
func TestGateIdleIsNotSlow(t *testing.T) {
	t.Parallel()
	g := newGates(1)
	g.m["w"] = &gate{slots: make(chan struct{}, 1), hold: 5 * time.Second, lastRelease: time.Now().Add(-time.Hour), nextWake: time.Now().Add(time.Minute)}

	release, _ := g.acquire(context.Background(), "w", 0)
	require.NotNil(t, release)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	again, snooze := g.acquire(ctx, "w", 3)
	require.Nil(t, again, "at the cap")
	require.False(t, g.m["w"].slow, "busy, not slow")
	require.Less(t, snooze, slowBackoff, "no back-off")
	_, _, park := g.parkPlan("w")
	require.False(t, park, "its backlog is not put aside")
}
