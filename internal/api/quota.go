package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Quotas per workspace. The number of webhooks is a limit on what exists:
// creating one more is refused with 422, like GitHub's hook limit, and
// retrying does not help until one is deleted. Test sends are a rate:
// over it, 429 and Retry-After say when the next one is taken.
const (
	// DefaultMaxWebhooksPerWorkspace is Config.MaxWebhooksPerWorkspace's
	// default.
	DefaultMaxWebhooksPerWorkspace = 100
	// DefaultTestSendsPerMinute is Config.TestSendsPerMinute's default.
	DefaultTestSendsPerMinute = 10
)

// quotaMessage is the field error of a create over the webhook quota: for
// the host app's developers (an API key) it names the setting, for the
// page's people what to do.
func (s *Server) quotaMessage(p principal) string {
	msg := fmt.Sprintf("this workspace has %s, the most it may have; delete one to create another", plural(s.config.MaxWebhooksPerWorkspace, "webhook"))
	if p.KeyID != "" {
		msg += " (the limit is WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE of the server)"
	}
	return msg
}

// tooManyTests answers a test send over the workspace's rate, with when
// the next is taken.
func (s *Server) tooManyTests(w http.ResponseWriter, p principal, wait time.Duration) {
	seconds := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	detail := fmt.Sprintf("this workspace has sent %s in the last minute, the most it may; send the next in %d s", plural(s.config.TestSendsPerMinute, "test"), seconds)
	if p.KeyID != "" {
		detail += " (the limit is WEBHOOKS_TEST_SENDS_PER_MINUTE of the server)"
	}
	writeProblem(w, http.StatusTooManyRequests, detail)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// window counts events per key over a sliding window: at most limit in
// any span of per. It keeps the times of each key's last limit events at
// most, and forgets keys quiet for a whole window.
type window struct {
	mu        sync.Mutex
	limit     int
	per       time.Duration
	times     map[string][]time.Time
	lastSweep time.Time
}

func newWindow(limit int, per time.Duration) *window {
	return &window{limit: limit, per: per, times: map[string][]time.Time{}}
}

// take counts an event of key at now when the window has room, and
// otherwise says how long until it has.
func (w *window) take(key string, now time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Sub(w.lastSweep) >= w.per {
		for k, ts := range w.times {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= w.per {
				delete(w.times, k)
			}
		}
		w.lastSweep = now
	}
	ts := w.times[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= w.per {
		i++
	}
	ts = ts[i:]
	if len(ts) >= w.limit {
		w.times[key] = ts
		return ts[0].Add(w.per).Sub(now), false
	}
	w.times[key] = append(ts, now)
	return 0, true
}
