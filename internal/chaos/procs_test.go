package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/countercyclical/webhooks/internal/harness"
)

// worker is one `webhooks worker` process slot: the process in it is killed
// and replaced again and again.
type worker struct {
	proc   *harness.Worker
	killed bool // by the test: its exit is expected
}

// workers runs the slots and replaces a process that exits on its own,
// noting why: only the test's kills are expected. The processes themselves
// (their start, readiness pipe, log and end) are package harness's, as the
// bench's are.
type workers struct {
	t    *testing.T
	bin  string
	env  []string
	dir  string
	mu   sync.Mutex
	slot []*worker
	// next[i] is closed when slot i gets its next process.
	next []chan struct{}
	// unexpected lists the processes that exited without being killed,
	// with the end of their logs.
	unexpected []string
	starts     int
	stopping   bool
}

func newWorkers(t *testing.T, bin, dir string, env []string, n int) *workers {
	w := &workers{t: t, bin: bin, env: env, dir: dir, slot: make([]*worker, n), next: make([]chan struct{}, n)}
	for i := range w.next {
		w.next[i] = make(chan struct{})
	}
	t.Cleanup(w.stopAll)
	for i := range n {
		w.start(i)
	}
	for i := range n {
		if err := w.waitWorking(i, 2*time.Minute); err != nil {
			t.Fatalf("chaos: %v", err)
		}
	}
	return w
}

// start starts a process in slot i; it does not wait for it to work.
func (w *workers) start(i int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping {
		return
	}
	w.starts++
	log := filepath.Join(w.dir, fmt.Sprintf("worker-%d-%03d.log", i+1, w.starts))
	f, err := os.Create(log)
	if err != nil {
		w.t.Errorf("chaos: error creating %s: %v", log, err)
		return
	}
	proc, err := harness.StartWorker(harness.WorkerConfig{Bin: w.bin, Env: w.env, Log: f, Name: fmt.Sprintf("worker %d", i+1)})
	if err != nil {
		f.Close()
		w.t.Errorf("chaos: %v", err)
		return
	}
	wk := &worker{proc: proc}
	w.slot[i] = wk
	close(w.next[i])
	w.next[i] = make(chan struct{})
	go func() {
		<-proc.Exited()
		f.Close()
		w.mu.Lock()
		expected := wk.killed || w.stopping
		if !expected {
			w.unexpected = append(w.unexpected, fmt.Sprintf("worker %d (pid %d) exited by itself (%v):\n%s", i+1, proc.Pid(), proc.Err(), tail(proc.Log(), 3000)))
		}
		w.mu.Unlock()
		if !expected {
			// Replaced, as a supervisor would, after a pause.
			time.Sleep(time.Second)
			w.start(i)
		}
	}()
}

// waitWorking waits until the process in slot i says it is ready (its
// readiness pipe), and is still there; one that exits first is waited out
// for its replacement.
func (w *workers) waitWorking(i int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		w.mu.Lock()
		wk, next := w.slot[i], w.next[i]
		w.mu.Unlock()
		if wk != nil {
			if err := wk.proc.Ready(ctx, timeout); err == nil {
				select {
				case <-wk.proc.Exited():
				default:
					return nil
				}
			}
		}
		select {
		case <-next:
		case <-ctx.Done():
			return fmt.Errorf("worker %d not working after %s", i+1, timeout)
		}
	}
}

// kill sends SIGKILL to the process in slot i, waits until it is gone, and
// returns its pid.
func (w *workers) kill(i int) int {
	w.mu.Lock()
	wk := w.slot[i]
	if wk != nil {
		wk.killed = true
	}
	w.mu.Unlock()
	if wk == nil {
		return 0
	}
	wk.proc.Kill()
	return wk.proc.Pid()
}

func (w *workers) pid(i int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.slot[i] == nil {
		return 0
	}
	return w.slot[i].proc.Pid()
}

func (w *workers) exitedUnexpectedly() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.unexpected...)
}

// stopAll kills every process: the end of the test, or its failure.
func (w *workers) stopAll() {
	w.mu.Lock()
	w.stopping = true
	slots := append([]*worker(nil), w.slot...)
	w.mu.Unlock()
	for _, wk := range slots {
		if wk != nil {
			wk.proc.Kill()
		}
	}
}

// receiver counts every webhook-id it is sent (harness.Receiver, as the
// bench's does), on a port that stays its own while it is down (closed:
// connections refused).
type receiver struct {
	addr string
	recv *harness.Receiver
	// hooks counts the deliveries to every webhook: their URLs are
	// /hook/i.
	hooks *harness.Phase
	// handlers are the requests under way.
	handlers sync.WaitGroup
	mu       sync.Mutex
	cut      int // arrivals whose answer the outage cut off
	// closing is set while the receiver goes down.
	closing bool
	srv     *http.Server
	done    chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	recv := harness.NewReceiver()
	// An endpoint takes a while to answer: deliveries are under way when
	// a worker is killed, some of them already arrived but not answered.
	recv.Delay = endpointLatency
	r := &receiver{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), recv: recv, hooks: recv.NewPhase("hook", 0, harness.ArrivalsCounted)}
	if err := r.up(); err != nil {
		t.Fatalf("chaos: %v", err)
	}
	t.Cleanup(r.down)
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.handlers.Add(1)
	defer r.handlers.Done()
	// Counted once its whole body has arrived, answered endpointLatency
	// later, or not at all if the connection is closed meanwhile.
	r.recv.ServeHTTP(w, req)
	r.mu.Lock()
	if req.Context().Err() != nil && r.closing {
		// The connection was closed under it as the outage began: the
		// sender never hears of this arrival and sends it again. (A
		// sender killed meanwhile closes it too: counted with its jobs.)
		r.cut++
	}
	r.mu.Unlock()
}

// up listens again on the same address; a port just closed may take a
// moment to be free.
func (r *receiver) up() error {
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("receiver cannot listen on %s again: %w", r.addr, err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	r.mu.Lock()
	r.srv, r.done = srv, done
	r.mu.Unlock()
	return nil
}

// down closes the listener and lets requests under way finish (so that a
// POST it recorded is answered, not counted as a duplicate of the sender's
// making), within a second: Shutdown would wait 5 s for connections that
// have sent no request yet. Afterwards connections are refused.
func (r *receiver) down() {
	r.mu.Lock()
	srv, done := r.srv, r.done
	r.srv, r.closing = nil, true
	r.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	<-done
	// Close does not wait for the handlers; those still answering find
	// their connection closed, and closing set: the arrivals that lost
	// their answer to the outage.
	r.handlers.Wait()
	r.mu.Lock()
	r.closing = false
	r.mu.Unlock()
}

// counts returns the distinct webhook-ids, the POSTs beyond the first of
// each, and the arrivals whose answer was cut off.
func (r *receiver) counts() (distinct, duplicates, cut int) {
	distinct, duplicates = r.hooks.Counts()
	r.mu.Lock()
	defer r.mu.Unlock()
	return distinct, duplicates, r.cut
}

// has says whether the delivery with webhook-id id arrived.
func (r *receiver) has(id string) bool { return r.hooks.Has(id) }
