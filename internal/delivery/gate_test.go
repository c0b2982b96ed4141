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

// slowGate is a webhook at its cap of one whose endpoint holds a slot for
// 5 s: slow.
func slowGate(g *gates, webhookID string) {
	gt := &gate{slots: make(chan struct{}, g.max), hold: 5 * time.Second, lastRelease: time.Now()}
	for range g.max {
		gt.slots <- struct{}{}
	}
	g.m[webhookID] = gt
}

// The cap holds per webhook: slots up to it are taken at once, one more is
// not (it snoozes once its context ends), another webhook is not held back,
// and a slot released is taken again.
func TestGateCaps(t *testing.T) {
	t.Parallel()
	g := newGates(2)
	r1, _ := g.acquire(context.Background(), "w", 0)
	r2, _ := g.acquire(context.Background(), "w", 0)
	require.NotNil(t, r1)
	require.NotNil(t, r2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r3, snooze := g.acquire(ctx, "w", 0)
	require.Nil(t, r3, "at the cap")
	require.Positive(t, snooze)
	other, _ := g.acquire(context.Background(), "other", 0)
	require.NotNil(t, other, "another webhook has its own slots")
	other()
	r1()
	r4, _ := g.acquire(context.Background(), "w", 0)
	require.NotNil(t, r4, "the slot released is free again")
	r2()
	r4()
}

// A delivery at the cap of an endpoint that frees slots quickly waits in
// its worker for one, rather than snoozing.
func TestGateWaitsForABusyEndpoint(t *testing.T) {
	t.Parallel()
	g := newGates(1)
	release, _ := g.acquire(context.Background(), "w", 0)
	require.NotNil(t, release)
	go func() {
		time.Sleep(20 * time.Millisecond) // the POST under way
		release()
	}()
	again, snooze := g.acquire(context.Background(), "w", 0)
	require.NotNil(t, again, "waited for the slot")
	require.Zero(t, snooze)
	again()
}

// Behind a slow endpoint a job's snooze doubles with each snooze it had,
// ±20%, up to maxSnooze.
func TestGateSlowBacksOff(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		snoozes  int
		min, max time.Duration
	}{
		{0, 800 * time.Millisecond, 1200 * time.Millisecond},
		{3, 6400 * time.Millisecond, 9600 * time.Millisecond},
		{16, maxSnooze - time.Second, maxSnooze},
	} {
		g := newGates(1)
		slowGate(g, "w")
		release, snooze := g.acquire(context.Background(), "w", c.snoozes)
		require.Nil(t, release)
		require.True(t, g.m["w"].slow)
		require.GreaterOrEqual(t, snooze, c.min, "after %d snoozes", c.snoozes)
		require.LessOrEqual(t, snooze, c.max, "after %d snoozes", c.snoozes)
	}
}

// A slow webhook's backlog is put aside at most once per parkEvery, and the
// next wake-up moves past the jobs put aside.
func TestParkPlanOncePerEvery(t *testing.T) {
	t.Parallel()
	g := newGates(1)
	slowGate(g, "w")
	_, _ = g.acquire(context.Background(), "w", 0)
	wake, spacing, ok := g.parkPlan("w")
	require.True(t, ok)
	require.GreaterOrEqual(t, spacing, time.Second/parkRate, "no more than parkRate wakes a second")
	require.True(t, wake.After(time.Now()))
	_, _, again := g.parkPlan("w")
	require.False(t, again, "once per parkEvery")
	before := g.m["w"].nextWake
	g.parked("w", 100, spacing)
	require.Equal(t, before.Add(100*spacing), g.m["w"].nextWake)

	busy := newGates(1)
	_, _, ok = busy.parkPlan("w")
	require.False(t, ok, "a webhook not found slow is not put aside")
}

// Jobs that found the rate limit used up wake spaced at the rate it lets
// them through.
func TestRateSnoozesSpaced(t *testing.T) {
	t.Parallel()
	g := newGates(10)
	end := time.Now().Add(500 * time.Millisecond)
	first := g.rateSnooze("w", 10, end)
	second := g.rateSnooze("w", 10, end)
	third := g.rateSnooze("w", 10, end)
	require.InDelta(t, float64(100*time.Millisecond), float64(second-first), float64(10*time.Millisecond))
	require.InDelta(t, float64(100*time.Millisecond), float64(third-second), float64(10*time.Millisecond))
}

// A webhook nobody delivers to any more is forgotten, once the wake-ups it
// handed out are due.
func TestGateForgotten(t *testing.T) {
	t.Parallel()
	g := newGates(1)
	release, _ := g.acquire(context.Background(), "w", 0)
	release()
	require.Empty(t, g.m)
	_ = g.rateSnooze("w", 1, time.Now().Add(time.Hour))
	require.Contains(t, g.m, "w", "kept while a snooze it handed out is pending")
}
