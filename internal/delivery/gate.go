package delivery

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Bounds of the waits gates hand out.
const (
	// slowHold tells an endpoint that is merely busy from one that is slow
	// or hangs: a webhook whose slots free within it is waited for in the
	// worker (by at most as many deliveries as it has slots), cheaper than
	// a snooze; past it, waiting jobs snooze, and back off.
	slowHold = time.Second
	// unknownHold stands for how long a slot is held before any was
	// released.
	unknownHold = 100 * time.Millisecond
	// Jobs waiting behind a slow endpoint snooze from slowBackoff on,
	// doubling, and at most maxSnooze, however long the backlog.
	slowBackoff = time.Second
	maxSnooze   = 10 * time.Minute
	// minSpacing bounds how often the waiting jobs of one webhook wake.
	minSpacing = time.Millisecond
	// A process puts a slow webhook's backlog aside at most every
	// parkEvery, up to parkMax jobs at a time, planning at most parkRate
	// wakes a second.
	parkEvery = 10 * time.Second
	parkMax   = 10000
	parkRate  = 10
)

// gates caps the deliveries under way per webhook in this process, in
// memory: nothing in the database is taken in turn by every delivery of a
// webhook. With P processes a hanging endpoint holds at most max workers of
// each, P × max in all.
//
// A delivery that finds its webhook at the cap waits in the worker for a
// slot when the endpoint frees them quickly (busy, not slow): as many
// deliveries as slots will free within slowHold at the endpoint's pace, no
// more than it has slots while that pace is unknown or late; otherwise it
// snoozes.
// Snoozes are spaced after the previous one of the same webhook by the time a
// slot takes to free, so the jobs waiting behind an endpoint wake about as
// often as it frees slots. Behind a slow or hanging endpoint each job's
// snooze also doubles with each snooze (from a second, ±20%, up to
// maxSnooze), and the webhook's queued jobs are put aside in one statement:
// the waiting costs the database a few updates per job, not one per job every
// second.
type gates struct {
	max int
	mu  sync.Mutex
	m   map[string]*gate
}

type gate struct {
	slots chan struct{}
	// hold is a moving average of how long a slot is held; lastRelease
	// tells a slot held far longer than that (an endpoint that has just
	// started to hang).
	hold        time.Duration
	lastRelease time.Time
	// nextWake is when the next job snoozed behind this webhook wakes;
	// nextRate the same for the rate limit.
	nextWake, nextRate time.Time
	// spacing is the last spacing of snoozes and slow whether the endpoint
	// then held its slots longer than slowHold; lastPark when the backlog
	// was last put aside. waiting counts the deliveries waiting in workers.
	spacing  time.Duration
	slow     bool
	lastPark time.Time
	waiting  int
	users    int
}

func newGates(max int) *gates {
	return &gates{max: max, m: make(map[string]*gate)}
}

func (g *gates) get(webhookID string) *gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	gt := g.m[webhookID]
	if gt == nil {
		gt = &gate{slots: make(chan struct{}, g.max), lastRelease: time.Now()}
		g.m[webhookID] = gt
	}
	gt.users++
	return gt
}

// put forgets a webhook nobody uses any more, once its snoozes are due.
func (g *gates) put(webhookID string, gt *gate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gt.users--
	if gt.users == 0 && time.Now().After(gt.nextWake) && time.Now().After(gt.nextRate) {
		delete(g.m, webhookID)
	}
}

// acquire takes one of the webhook's slots and returns its release; or,
// when none frees soon, nil and how long to snooze a job snoozed snoozes
// times before.
func (g *gates) acquire(ctx context.Context, webhookID string, snoozes int) (release func(), snooze time.Duration) {
	gt := g.get(webhookID)
	start := time.Now()
	release = func() {
		<-gt.slots
		g.mu.Lock()
		now := time.Now()
		gt.hold = (gt.hold*7 + now.Sub(start)) / 8
		gt.lastRelease = now
		g.mu.Unlock()
		g.put(webhookID, gt)
	}
	select {
	case gt.slots <- struct{}{}:
		g.mu.Lock()
		if len(gt.slots) == 1 {
			// Busy from now: the time before was idle, not slowness, and
			// what was learnt of the endpoint before (its pace, the
			// wake-ups planned at it) may no longer hold.
			gt.lastRelease, gt.hold, gt.nextWake = time.Now(), 0, time.Now()
		}
		g.mu.Unlock()
		return release, 0
	default:
	}
	estimate, slow, queue := g.judge(gt, true)
	if queue {
		timer := time.NewTimer(slowHold)
		defer timer.Stop()
		select {
		case gt.slots <- struct{}{}:
			g.mu.Lock()
			gt.waiting--
			g.mu.Unlock()
			start = time.Now()
			return release, 0
		case <-timer.C:
		case <-ctx.Done():
		}
		g.mu.Lock()
		gt.waiting--
		g.mu.Unlock()
		estimate, slow, _ = g.judge(gt, false)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	gt.spacing = max(estimate/time.Duration(g.max), minSpacing)
	gt.slow = slow
	earliest := time.Now().Add(gt.spacing)
	if slow {
		backoff := slowBackoff << min(snoozes, 16)
		backoff += time.Duration((rand.Float64()*0.4 - 0.2) * float64(backoff))
		earliest = time.Now().Add(min(backoff, maxSnooze))
	}
	wait := g.space(&gt.nextWake, earliest, gt.spacing)
	gt.users--
	return nil, wait
}

// judge estimates how long the webhook's slots are held, says whether that
// makes it slow, and, when wait is asked, whether the delivery may wait for
// a slot in its worker (counted in waiting if so).
func (g *gates) judge(gt *gate, wait bool) (estimate time.Duration, slow, queue bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	estimate = max(gt.hold, time.Since(gt.lastRelease))
	if gt.hold == 0 {
		estimate = max(estimate, unknownHold)
	}
	slow = estimate >= slowHold
	// While slots free as often as the endpoint's pace promises, as many
	// deliveries may wait as slots will free within slowHold.
	releasing := gt.hold > 0 && time.Since(gt.lastRelease) < 4*gt.hold+10*time.Millisecond
	expected := g.max
	if releasing {
		expected = max(expected, int(int64(slowHold)*int64(g.max)/int64(gt.hold)))
	}
	if wait && !slow && gt.waiting < expected {
		gt.waiting++
		queue = true
	}
	return estimate, slow, queue
}

// parkPlan says whether this process should now put aside the backlog of a
// slow webhook it just found at its cap, and the wake-ups to give it: after the
// snoozes handed out so far, as far apart. At most once per parkEvery.
func (g *gates) parkPlan(webhookID string) (wake time.Time, spacing time.Duration, ok bool) {
	gt := g.get(webhookID)
	defer g.put(webhookID, gt)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !gt.slow || time.Since(gt.lastPark) < parkEvery {
		return time.Time{}, 0, false
	}
	gt.lastPark = time.Now()
	// The spacing is young when a webhook first reaches its cap: what a
	// park plans lasts, so it plans no more than parkRate wakes a second.
	return maxTime(gt.nextWake, time.Now().Add(slowBackoff)), max(gt.spacing, time.Second/parkRate), true
}

// parked moves the next wake-up past n jobs put aside.
func (g *gates) parked(webhookID string, n int, spacing time.Duration) {
	gt := g.get(webhookID)
	defer g.put(webhookID, gt)
	g.mu.Lock()
	defer g.mu.Unlock()
	gt.nextWake = minTime(gt.nextWake.Add(time.Duration(n)*spacing), time.Now().Add(maxSnooze))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// rateSnooze is how long to snooze a delivery that found its webhook's
// rate limit used up until windowEnd: waiting jobs wake spaced at the rate
// the limit lets them through.
func (g *gates) rateSnooze(webhookID string, perSecond int32, windowEnd time.Time) time.Duration {
	gt := g.get(webhookID)
	defer g.put(webhookID, gt)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.space(&gt.nextRate, windowEnd, max(time.Second/time.Duration(max(perSecond, 1)), minSpacing))
}

// space hands out the wake-up at *next, no sooner than earliest, and moves
// it on by spacing; the wait is at most maxSnooze. g.mu is held.
func (g *gates) space(next *time.Time, earliest time.Time, spacing time.Duration) time.Duration {
	if next.Before(earliest) {
		*next = earliest
	}
	wait := time.Until(*next)
	if wait < maxSnooze {
		*next = next.Add(spacing)
	}
	// Never negative (River refuses it): earliest may be a window's end
	// by the database's clock, already past by ours.
	return min(max(wait, minSpacing), maxSnooze)
}
