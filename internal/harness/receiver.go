package harness

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/countercyclical/webhooks/webhook"
)

// Receiver is the endpoint of every webhook of a run. A webhook's URL path
// starts with its phase (/saturation/3), and each phase counts its own
// deliveries by webhook-id; /hang/... hangs until the request ends or
// ReleaseHanging.
type Receiver struct {
	// Delay is how long each answer takes once the delivery is counted, as
	// a real endpoint's would (0: at once); it is cut short when the
	// request ends.
	Delay time.Duration

	mu      sync.Mutex
	phases  map[string]*Phase
	strays  int // deliveries to no phase's path
	release chan struct{}
	once    sync.Once
}

func NewReceiver() *Receiver {
	return &Receiver{phases: map[string]*Phase{}, release: make(chan struct{})}
}

// Phase counts one phase's deliveries.
type Phase struct {
	name     string
	expected int
	log      ArrivalLog

	mu       sync.Mutex
	ids      map[Key]struct{} // webhook-id values seen
	received int
	counted  bool // Result was taken: later arrivals are late
	late     int
	last     time.Time // the last new webhook-id's arrival
	arrivals map[string]time.Time
	fresh    []Arrival     // ArrivalsStreamed: not yet taken
	done     chan struct{} // closed when every expected id has arrived
}

// ArrivalLog is what a phase keeps of when its deliveries arrived.
type ArrivalLog int

const (
	ArrivalsCounted        ArrivalLog = iota // nothing: they are only counted
	ArrivalsFirstByPayload                   // each payload id's first arrival (ArrivalsByPayload)
	ArrivalsStreamed                         // every delivery's, until taken (TakeArrivals)
)

// Arrival is one delivery's arrival, by its payload id.
type Arrival struct {
	Payload Key
	At      time.Time
}

// Key stands for an id in the maps a phase keeps. It holds no pointer, so
// the garbage collector does not scan the millions of them a long soak
// keeps: that scan ran in the process of the workers being measured. 16
// bytes of SHA-256 make a collision of two ids as good as impossible.
type Key [16]byte

func KeyOf(id string) Key {
	sum := sha256.Sum256([]byte(id))
	return Key(sum[:16])
}

// NewPhase starts counting the deliveries to /name/...; expected is how
// many distinct webhook-ids make the phase done (0: not known, never done).
func (r *Receiver) NewPhase(name string, expected int, log ArrivalLog) *Phase {
	ph := &Phase{name: name, expected: expected, log: log,
		ids: make(map[Key]struct{}, expected), arrivals: map[string]time.Time{}, done: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phases[name] = ph
	return ph
}

// Late counts the deliveries that arrived after their phase was counted,
// or to no phase: a disabled webhook's, a duplicate later than the grace.
func (r *Receiver) Late() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.strays
	for _, ph := range r.phases {
		ph.mu.Lock()
		n += ph.late
		ph.mu.Unlock()
	}
	return n
}

// ReleaseHanging lets every hanging request return, now and from now on.
func (r *Receiver) ReleaseHanging() { r.once.Do(func() { close(r.release) }) }

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	// Read to the end: the server then watches the connection, and cancels
	// the request's context when the sender gives up. A delivery counts
	// once it has all arrived.
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	phase, _, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if phase == "hang" {
		select {
		case <-req.Context().Done():
		case <-r.release:
		}
		return
	}
	r.mu.Lock()
	ph := r.phases[phase]
	if ph == nil {
		r.strays++
	}
	r.mu.Unlock()
	if ph == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var payloadID string
	if ph.log != ArrivalsCounted {
		var env struct {
			Payload struct {
				ID string `json:"id"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			http.Error(w, "bad envelope", http.StatusBadRequest)
			return
		}
		payloadID = env.Payload.ID
	}
	ph.Arrived(req.Header.Get(webhook.HeaderID), payloadID, now)
	if r.Delay > 0 {
		t := time.NewTimer(r.Delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// Arrived counts the delivery with webhook-id msgID of the event with
// payload id payloadID ("" when the phase keeps no arrivals) at at.
func (p *Phase) Arrived(msgID, payloadID string, at time.Time) {
	key := KeyOf(msgID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counted {
		p.late++
		return
	}
	p.received++
	if _, ok := p.ids[key]; ok {
		return
	}
	p.ids[key] = struct{}{}
	p.last = at
	switch p.log {
	case ArrivalsFirstByPayload:
		if _, ok := p.arrivals[payloadID]; !ok {
			p.arrivals[payloadID] = at
		}
	case ArrivalsStreamed:
		p.fresh = append(p.fresh, Arrival{KeyOf(payloadID), at})
	}
	if len(p.ids) == p.expected {
		close(p.done)
	}
}

// Done is closed once every expected webhook-id has arrived.
func (p *Phase) Done() <-chan struct{} { return p.done }

// TakeArrivals hands over the arrivals since it was last called: a swap,
// so that the handlers it holds up wait no longer for a long phase than
// for a short one.
func (p *Phase) TakeArrivals() []Arrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.fresh
	p.fresh = nil
	return out
}

// DistinctCount is how many distinct webhook-ids have arrived.
func (p *Phase) DistinctCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids)
}

// Counts are the distinct webhook-ids arrived, and the arrivals beyond
// the first of each.
func (p *Phase) Counts() (distinct, duplicates int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids), p.received - len(p.ids)
}

// Has says whether a delivery with webhook-id msgID has arrived.
func (p *Phase) Has(msgID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.ids[KeyOf(msgID)]
	return ok
}

// Progress is "n/expected delivered".
func (p *Phase) Progress() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d/%d delivered", len(p.ids), p.expected)
}

// ArrivalsByPayload are each payload id's first arrival
// (ArrivalsFirstByPayload).
func (p *Phase) ArrivalsByPayload() map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]time.Time, len(p.arrivals))
	for k, v := range p.arrivals {
		out[k] = v
	}
	return out
}

// Result counts the phase, after which arrivals are late: lost is expected
// less distinct ids received, duplicates received less distinct; the rate
// runs from start to the last new arrival.
func (p *Phase) Result(start time.Time) PhaseResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counted = true
	r := PhaseResult{Name: p.name, Expected: p.expected, Received: p.received, Distinct: len(p.ids),
		Lost: p.expected - len(p.ids), Duplicates: p.received - len(p.ids)}
	if !p.last.IsZero() {
		r.Seconds = p.last.Sub(start).Seconds()
		r.PerS = float64(len(p.ids)) / r.Seconds
	}
	return r
}

// PhaseResult is one phase's count at the receiver.
type PhaseResult struct {
	Name       string  `json:"name"`
	Expected   int     `json:"expected"`
	Received   int     `json:"received"`
	Distinct   int     `json:"distinct"`
	Lost       int     `json:"lost"`
	Duplicates int     `json:"duplicates"`
	Seconds    float64 `json:"seconds"` // first insert to last arrival
	PerS       float64 `json:"per_s"`
}
