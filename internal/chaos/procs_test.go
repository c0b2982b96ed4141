package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// worker is one `webhooks worker` process slot: the process in it is killed
// and replaced again and again.
type worker struct {
	n      int
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	killed bool // by the test: its exit is expected
}

// workers runs the slots and replaces a process that exits on its own,
// noting why: only the test's kills are expected.
type workers struct {
	t    *testing.T
	bin  string
	env  []string
	dir  string
	mu   sync.Mutex
	slot []*worker
	// unexpected lists the processes that exited without being killed,
	// with the end of their logs.
	unexpected []string
	starts     int
	stopping   bool
}

func newWorkers(t *testing.T, bin, dir string, env []string, n int) *workers {
	w := &workers{t: t, bin: bin, env: env, dir: dir, slot: make([]*worker, n)}
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
	cmd := exec.Command(w.bin, "worker")
	cmd.Env, cmd.Stdout, cmd.Stderr = w.env, f, f
	// Should the test binary die without its cleanups, its workers go too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		w.t.Errorf("chaos: error starting worker %d: %v", i+1, err)
		return
	}
	wk := &worker{n: i, cmd: cmd, log: log, exited: make(chan struct{})}
	w.slot[i] = wk
	go func() {
		err := cmd.Wait()
		f.Close()
		close(wk.exited)
		w.mu.Lock()
		expected := wk.killed || w.stopping
		if !expected {
			b, _ := os.ReadFile(log)
			w.unexpected = append(w.unexpected, fmt.Sprintf("worker %d (pid %d) exited by itself (%v):\n%s", i+1, cmd.Process.Pid, err, tail(string(b), 3000)))
		}
		w.mu.Unlock()
		if !expected {
			// Replaced, as a supervisor would, after a pause.
			time.Sleep(time.Second)
			w.start(i)
		}
	}()
}

// waitWorking waits until the process in slot i logs that it works.
func (w *workers) waitWorking(i int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		wk := w.slot[i]
		w.mu.Unlock()
		if wk != nil {
			b, _ := os.ReadFile(wk.log)
			if strings.Contains(string(b), "msg=working") {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("worker %d not working after %s", i+1, timeout)
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
	_ = wk.cmd.Process.Signal(syscall.SIGKILL)
	<-wk.exited
	return wk.cmd.Process.Pid
}

func (w *workers) pid(i int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.slot[i] == nil {
		return 0
	}
	return w.slot[i].cmd.Process.Pid
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
			_ = wk.cmd.Process.Signal(syscall.SIGKILL)
			<-wk.exited
		}
	}
}

// receiver records every webhook-id it is sent, on a port that stays its
// own while it is down (closed: connections refused).
type receiver struct {
	addr string
	mu   sync.Mutex
	got  map[string]int // webhook-id: POSTs that arrived
	cut  int            // arrivals whose answer the outage cut off
	// closing is set while the receiver goes down.
	closing bool
	srv     *http.Server
	done    chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), got: map[string]int{}}
	if err := r.up(); err != nil {
		t.Fatalf("chaos: %v", err)
	}
	t.Cleanup(r.down)
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// The whole body first: a delivery counts once it has arrived.
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		http.Error(w, "body cut short", http.StatusBadRequest)
		return
	}
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	r.got[id]++
	r.mu.Unlock()
	// An endpoint takes a while to answer: deliveries are under way when
	// a worker is killed, some of them already arrived but not answered.
	time.Sleep(endpointLatency)
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
	// Handlers still sleeping (Close does not wait for them) find closing
	// set: the arrivals that lost their answer to the outage.
	time.Sleep(2 * endpointLatency)
	r.mu.Lock()
	r.closing = false
	r.mu.Unlock()
}

// counts returns the distinct webhook-ids, the POSTs beyond the first of
// each, and the arrivals whose answer was cut off.
func (r *receiver) counts() (distinct, duplicates, cut int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.got {
		distinct++
		duplicates += n - 1
	}
	return distinct, duplicates, r.cut
}

func (r *receiver) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.got))
	for id := range r.got {
		out = append(out, id)
	}
	return out
}
