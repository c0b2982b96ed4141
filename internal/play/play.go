// Package play is a local webhook receiver for trying endpoints out: it
// accepts deliveries on any path, verifies their signatures, remembers the
// last few, shows them on a page, and can fail on purpose to exercise the
// sender's retries.
//
// It imports webhook alone: it receives as any receiver would.
package play

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/countercyclical/webhooks/webhook"
)

// MaxBody is the largest delivery body accepted.
const MaxBody = 1 << 20

// Config says how the receiver answers.
type Config struct {
	// Secrets verify deliveries when given; a delivery that fails
	// verification is answered 401.
	Secrets []string
	// FailRate is the share of deliveries answered FailStatus, 0 to 1.
	FailRate float64
	// FailStatus is the status of failed answers (default 500).
	FailStatus int
	// Delay holds every answer back this long.
	Delay time.Duration
	// Gone answers every delivery 410 Gone, which tells the sender to
	// disable the webhook.
	Gone bool
	// RetryAfter, in seconds, is sent with failed answers when positive.
	RetryAfter int
	// Keep is how many deliveries are remembered (default 100); older
	// ones are counted only.
	Keep int
	// Log gets one line per delivery.
	Log io.Writer
	// Rand and Now replace math/rand and time.Now in tests.
	Rand func() float64
	Now  func() time.Time
}

// Delivery is one request received.
type Delivery struct {
	Seq         int64             `json:"seq"`
	ReceivedAt  time.Time         `json:"receivedAt"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Headers     map[string]string `json:"headers"`
	Body        string            `json:"body"`
	WebhookID   string            `json:"webhookId"`
	EventType   string            `json:"eventType"`
	EventID     string            `json:"eventId"`
	Verified    *bool             `json:"verified"` // nil: no secret to verify with
	VerifyError string            `json:"verifyError,omitempty"`
	Duplicate   bool              `json:"duplicate"`
	Status      int               `json:"status"`
}

// Receiver is the http.Handler of `webhooks play`.
type Receiver struct {
	config Config
	mux    *http.ServeMux

	mu         sync.Mutex
	total      int64
	deliveries []Delivery // oldest first, at most config.Keep
	seen       map[string]bool
	seenOrder  []string
}

// New returns a receiver.
func New(config Config) *Receiver {
	config.FailStatus = cmp.Or(config.FailStatus, http.StatusInternalServerError)
	config.Keep = cmp.Or(config.Keep, 100)
	if config.Log == nil {
		config.Log = io.Discard
	}
	if config.Rand == nil {
		config.Rand = rand.Float64
	}
	if config.Now == nil {
		config.Now = time.Now
	}
	r := &Receiver{config: config, seen: map[string]bool{}, mux: http.NewServeMux()}
	r.mux.HandleFunc("GET /{$}", r.page)
	r.mux.HandleFunc("GET /api/deliveries", r.list)
	r.mux.HandleFunc("POST /", r.receive)
	return r
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

// Deliveries returns the remembered deliveries, newest first, and how many
// were received in all.
func (r *Receiver) Deliveries() ([]Delivery, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Delivery, len(r.deliveries))
	for i, d := range r.deliveries {
		out[len(out)-1-i] = d
	}
	return out, r.total
}

func (r *Receiver) receive(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "error reading body", http.StatusBadRequest)
		return
	}
	d := Delivery{
		ReceivedAt: r.config.Now().UTC(),
		Method:     req.Method,
		Path:       req.URL.RequestURI(),
		Headers:    map[string]string{},
		Body:       string(body),
		WebhookID:  req.Header.Get(webhook.HeaderID),
	}
	for name, values := range req.Header {
		d.Headers[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	var envelope struct {
		EventType string `json:"eventType"`
		EventID   string `json:"eventId"`
	}
	_ = json.Unmarshal(body, &envelope) // a body that is not an envelope is shown as it is
	d.EventType, d.EventID = envelope.EventType, envelope.EventID

	if len(r.config.Secrets) > 0 {
		err := webhook.Verifier{Secrets: r.config.Secrets, Now: r.config.Now}.Verify(req.Header, body)
		ok := err == nil
		d.Verified = &ok
		if err != nil {
			d.VerifyError = err.Error()
		}
	}

	if r.config.Delay > 0 {
		select {
		case <-time.After(r.config.Delay):
		case <-req.Context().Done():
			return // the sender gave up: there is no one to answer
		}
	}

	d.Status = http.StatusOK
	switch {
	case d.Verified != nil && !*d.Verified:
		d.Status = http.StatusUnauthorized
	case r.config.Gone:
		d.Status = http.StatusGone
	case r.config.FailRate > 0 && r.config.Rand() < r.config.FailRate:
		d.Status = r.config.FailStatus
	}
	if d.Status >= 300 && r.config.RetryAfter > 0 && d.Status != http.StatusUnauthorized {
		w.Header().Set("Retry-After", strconv.Itoa(r.config.RetryAfter))
	}

	d = r.record(d)
	fmt.Fprintln(r.config.Log, logLine(d))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(d.Status)
	if d.VerifyError != "" {
		fmt.Fprintln(w, d.VerifyError)
		return
	}
	fmt.Fprintln(w, http.StatusText(d.Status))
}

// record numbers a delivery, marks it duplicate when its webhook-id came
// before, and keeps it, forgetting the oldest beyond Keep.
func (r *Receiver) record(d Delivery) Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	d.Seq = r.total
	if d.WebhookID != "" {
		d.Duplicate = r.seen[d.WebhookID]
		if !d.Duplicate {
			r.seen[d.WebhookID] = true
			r.seenOrder = append(r.seenOrder, d.WebhookID)
			// Remember ten times as many ids as deliveries: retries of a
			// message come long after the message itself.
			if limit := 10 * r.config.Keep; len(r.seenOrder) > limit {
				delete(r.seen, r.seenOrder[0])
				r.seenOrder = r.seenOrder[1:]
			}
		}
	}
	r.deliveries = append(r.deliveries, d)
	if len(r.deliveries) > r.config.Keep {
		r.deliveries = r.deliveries[len(r.deliveries)-r.config.Keep:]
	}
	return d
}

func logLine(d Delivery) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %s %s", d.ReceivedAt.Format("15:04:05.000"), d.Status, d.Method, d.Path)
	fmt.Fprintf(&b, " type=%s webhook-id=%s event-id=%s", cmp.Or(d.EventType, "-"), cmp.Or(d.WebhookID, "-"), cmp.Or(d.EventID, "-"))
	switch {
	case d.Verified == nil:
		b.WriteString(" unverified (no --secret)")
	case *d.Verified:
		b.WriteString(" verified")
	default:
		fmt.Fprintf(&b, " NOT VERIFIED: %s", d.VerifyError)
	}
	if d.Duplicate {
		b.WriteString(" duplicate of an earlier webhook-id")
	}
	return b.String()
}

func (r *Receiver) list(w http.ResponseWriter, req *http.Request) {
	deliveries, total := r.Deliveries()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Total      int64      `json:"total"`
		Deliveries []Delivery `json:"deliveries"`
	}{total, deliveries})
}
