package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countercyclical/webhooks/internal/dbtest"
)

// orderReceiver accepts pipeline.updated deliveries of pipelines named
// "v<N>", answering 500 to a tenth of them at random, and keeps per pipeline
// the versions it accepted (answered 2xx), in order; a webhook-id accepted
// before (at least once: a sender killed after the POST) is set aside.
type orderReceiver struct {
	mu       sync.Mutex
	accepted map[string][]int
	seen     map[string]bool
	dups     int
	refused  int
}

func (o *orderReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body cut short", http.StatusBadRequest)
		return
	}
	var env struct {
		Payload struct{ ID, Name string } `json:"payload"`
	}
	if err := json.Unmarshal(body, &env); err != nil || !strings.HasPrefix(env.Payload.Name, "v") {
		http.Error(w, "not a versioned pipeline", http.StatusBadRequest)
		return
	}
	version, _ := strconv.Atoi(strings.TrimPrefix(env.Payload.Name, "v"))
	// Deliveries are under way when a worker is killed.
	time.Sleep(5 * time.Millisecond)
	o.mu.Lock()
	defer o.mu.Unlock()
	if rand.Float64() < 0.1 {
		o.refused++
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	id := r.Header.Get("webhook-id")
	if o.seen[id] {
		o.dups++
		return
	}
	o.seen[id] = true
	o.accepted[env.Payload.ID] = append(o.accepted[env.Payload.ID], version)
}

func (o *orderReceiver) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seen)
}

// TestOrderedUnderKill: 200 pipelines updated 20 times each by concurrent
// transactions, to an ordered webhook whose endpoint refuses a tenth of its
// requests; two worker processes deliver, and one is killed with SIGKILL
// midway (the writes spread over 16 s). For every pipeline, the versions accepted must be 1 … 20 in that
// order: all 4,000 arrive, and none after a newer one. It runs with the
// chaos test (WEBHOOKS_CHAOS), on a server of its own.
func TestOrderedUnderKill(t *testing.T) {
	if _, ok := plans[os.Getenv("WEBHOOKS_CHAOS")]; !ok {
		t.Skip("WEBHOOKS_CHAOS=short or long runs the ordered test under kill (make test runs it)")
	}
	const resources, updates = 200, 20
	ctx := context.Background()
	bin := webhooksBinary(t)
	pg := newPGServer(t)
	url, pool := migratedDatabase(t, pg, bin)

	recv := &orderReceiver{accepted: map[string][]int{}, seen: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err, "listening")
	srv := &http.Server{Handler: recv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })

	workspace := dbtest.Workspace(t, pool, "ordered")
	user := dbtest.Member(t, pool, workspace, "owner")
	dbtest.WebhookWith(t, pool, workspace, user, "http://"+ln.Addr().String()+"/hook",
		dbtest.WebhookOptions{Name: "mirror", Events: []string{"pipeline.updated"}, Ordered: true})
	ids := make([]string, resources)
	for i := range ids {
		must(t, pool.QueryRow(ctx, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'v0') RETURNING id`,
			workspace, user).Scan(&ids[i]), "making a pipeline")
	}

	env := append(os.Environ(), "DATABASE_URL="+url, "WEBHOOKS_ALLOW_HTTP=true", "WEBHOOKS_ALLOWED_CIDRS=127.0.0.0/8",
		"WEBHOOKS_RETRY_SCHEDULE=100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s,1s", "WEBHOOKS_LOG_FORMAT=text")
	ws := newWorkers(t, bin, pg.dir, env, 2)
	started := time.Now()

	// Eight writers. The pipelines go in 20 groups of 10, a group every
	// 0.8 s, so that the kill falls among them; each pipeline's 20 updates
	// are made one after another, so that an unordered webhook would send
	// them out of order at the first refusal.
	writes := make(chan error, 8)
	for w := range 8 {
		go func() {
			for i := w; i < resources; i += 8 {
				time.Sleep(time.Until(started.Add(time.Duration(i/10) * 800 * time.Millisecond)))
				for v := 1; v <= updates; v++ {
					if _, err := pool.Exec(ctx, `UPDATE pipelines SET name = $2 WHERE id = $1`, ids[i], fmt.Sprintf("v%d", v)); err != nil {
						writes <- err
						return
					}
				}
			}
			writes <- nil
		}()
	}
	// A process judges another dead once it has been alive 10 s itself.
	time.Sleep(time.Until(started.Add(12 * time.Second)))
	ws.kill(0)
	t.Logf("%5.1fs worker 1 killed with SIGKILL; %d of %d accepted", time.Since(started).Seconds(), recv.total(), resources*updates)
	for range 8 {
		must(t, <-writes, "updating a pipeline")
	}
	deadline := time.Now().Add(3 * time.Minute)
	for recv.total() < resources*updates && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	t.Logf("%5.1fs %d of %d accepted; %d refused with 500, %d sent again after acceptance", time.Since(started).Seconds(),
		len(recv.seen), resources*updates, recv.refused, recv.dups)
	var bad []string
	for _, id := range ids {
		versions := recv.accepted[id]
		ok := len(versions) == updates
		for i, v := range versions {
			ok = ok && v == i+1
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: %v", id, versions))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("ordered: %d of %d pipelines not accepted as 1 … %d in order, e.g. %s", len(bad), resources, updates, strings.Join(bad[:min(len(bad), 3)], "; "))
	}
	if unexpected := ws.exitedUnexpectedly(); len(unexpected) > 0 {
		t.Fatalf("ordered: %s", strings.Join(unexpected, "\n"))
	}
}
