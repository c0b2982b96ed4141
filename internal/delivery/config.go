package delivery

import (
	"cmp"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/countercyclical/webhooks/internal/netguard"
)

// Config says how deliveries are made.
type Config struct {
	// Schedule is the wait before each retry (WEBHOOKS_RETRY_SCHEDULE).
	Schedule []time.Duration
	// DisableAfter disables a webhook failing without success this long.
	DisableAfter time.Duration
	// ConnectTimeout and Timeout bound each attempt.
	ConnectTimeout, Timeout time.Duration
	// MaxInflight caps the deliveries under way per webhook in this
	// process (default 10).
	MaxInflight int
	Policy      netguard.Policy
	// Transport replaces the guarded transport in tests that need to.
	Transport http.RoundTripper
	// Hooks, in tests, stop a delivery where no endpoint can.
	Hooks Hooks
}

// Hooks are called, when set, at those points of a delivery: between its
// POST and its record (before each try of the batch the attempt is in), and
// between its record and River's completion.
type Hooks struct {
	BeforeRecord func(batch []Attempt)
	AfterRecord  func(a Attempt)
}

// DefaultSchedule is the waits after the first attempt: 5 s, 5 min, 30 min,
// 2 h, 5 h, 10 h, 10 h, about a day in all.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// MaxAttempts is a delivery job's: the first attempt and one per wait of
// the schedule.
func (c Config) MaxAttempts() int { return 1 + len(c.WithDefaults().Schedule) }

// WithDefaults is the configuration with its defaults filled in.
func (c Config) WithDefaults() Config {
	if c.Schedule == nil {
		c.Schedule = DefaultSchedule
	}
	c.DisableAfter = cmp.Or(c.DisableAfter, 120*time.Hour)
	c.ConnectTimeout = cmp.Or(c.ConnectTimeout, 5*time.Second)
	c.Timeout = cmp.Or(c.Timeout, 15*time.Second)
	c.MaxInflight = cmp.Or(c.MaxInflight, 10)
	return c
}

// RetryDelay is the wait after failed attempt number attempt (1-based): the
// schedule's, ±20% jitter.
func (c Config) RetryDelay(attempt int) time.Duration {
	if len(c.Schedule) == 0 {
		return time.Second
	}
	i := min(max(attempt-1, 0), len(c.Schedule)-1)
	d := c.Schedule[i]
	jitter := (rand.Float64()*0.4 - 0.2) * float64(d)
	return d + time.Duration(jitter)
}
