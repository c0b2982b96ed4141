package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/countercyclical/webhooks/internal/readiness"
)

// WorkerConfig says how to start a `webhooks worker` process.
type WorkerConfig struct {
	// Bin is the webhooks binary.
	Bin string
	// Env is the process's whole environment; WEBHOOKS_READY_FD is added.
	Env []string
	// Log receives the process's standard output and error, besides the
	// tail kept for Log (nil: only the tail).
	Log io.Writer
	// Name names the process in errors, e.g. "worker process 1".
	Name string
}

// logTail is how much of a worker's log is kept for its errors.
const logTail = 64 << 10

// Worker is one `webhooks worker` child process.
type Worker struct {
	name string
	cmd  *exec.Cmd
	tail *tailBuffer
	// ready is closed when the worker has written the ready line;
	// unready receives why it never will (the pipe's end, or an error).
	ready   chan struct{}
	unready chan error
	exited  chan struct{}
	waitErr error // Wait's, once exited is closed
}

// StartWorker starts a worker process with the write end of a pipe as its
// file descriptor 3, named by WEBHOOKS_READY_FD; it does not wait for it
// to be ready (Ready does). Should this process die without stopping it
// (Linux), the worker is killed too.
func StartWorker(config WorkerConfig) (*Worker, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("error making %s's readiness pipe: %w", config.Name, err)
	}
	wk := &Worker{name: config.Name, tail: &tailBuffer{max: logTail},
		ready: make(chan struct{}), unready: make(chan error, 1), exited: make(chan struct{})}
	var log io.Writer = wk.tail
	if config.Log != nil {
		log = io.MultiWriter(config.Log, wk.tail)
	}
	cmd := exec.Command(config.Bin, "worker")
	cmd.Env = append(append([]string(nil), config.Env...), readiness.Env+"=3") // ExtraFiles[0] is fd 3
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = log, log, []*os.File{w}
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	// The child has its copy of the write end; with the parent's closed,
	// the read end ends when the child closes its copy or exits.
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("error starting %s: %w", config.Name, err)
	}
	wk.cmd = cmd
	go func() {
		defer r.Close()
		line, err := bufio.NewReader(r).ReadString('\n')
		switch {
		case line == readiness.Line:
			close(wk.ready)
		case err == nil || errors.Is(err, io.EOF):
			wk.unready <- fmt.Errorf("closed its readiness pipe without writing %q", readiness.Line)
		default:
			wk.unready <- fmt.Errorf("error reading its readiness pipe: %w", err)
		}
	}()
	go func() {
		wk.waitErr = cmd.Wait()
		close(wk.exited)
	}()
	return wk, nil
}

// Ready waits until the worker says it works: its River client and
// listener have started. It fails, with the end of the worker's log, when
// the worker exits (or closes the pipe) first, or after timeout.
func (w *Worker) Ready(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-w.ready:
		return nil
	case why := <-w.unready:
		// The pipe ends first when the process exits: its exit status
		// says more.
		select {
		case <-w.exited:
			return fmt.Errorf("%s (pid %d) exited before it was ready (%v):\n%s", w.name, w.Pid(), w.waitErr, w.Log())
		case <-time.After(5 * time.Second):
			return fmt.Errorf("%s (pid %d) %v:\n%s", w.name, w.Pid(), why, w.Log())
		}
	case <-deadline.C:
		return w.notReady(timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notReady is the error of a worker that did not say it works in time.
func (w *Worker) notReady(timeout time.Duration) error {
	return fmt.Errorf("%s (pid %d) not ready after %s:\n%s", w.name, w.Pid(), timeout, w.Log())
}

// Exited is closed when the process has exited; Err then says how.
func (w *Worker) Exited() <-chan struct{} { return w.exited }

// Err is the process's exit (exec.Cmd.Wait's error), once Exited is closed.
func (w *Worker) Err() error {
	<-w.exited
	return w.waitErr
}

// Pid is the process's id.
func (w *Worker) Pid() int { return w.cmd.Process.Pid }

// Log is the end of the process's standard output and error.
func (w *Worker) Log() string { return w.tail.String() }

// Stop sends SIGTERM, a graceful stop, and waits for the process to exit;
// one still there after grace is killed.
func (w *Worker) Stop(grace time.Duration) {
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		w.Kill()
		return
	}
	select {
	case <-w.exited:
	case <-time.After(grace):
		w.Kill()
	}
}

// Kill sends SIGKILL and waits for the process to exit.
func (w *Worker) Kill() {
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.exited
}

// Workers are worker processes started together, watched for an exit
// nobody asked for.
type Workers struct {
	List     []*Worker
	stopping chan struct{}
	// failed receives an error, with the process's log, for each that
	// exits before Stop.
	failed chan error
	once   sync.Once
}

// StartWorkers starts n workers (each named "worker process i") and waits,
// up to timeout in all, until each is ready. On error none is left running.
func StartWorkers(ctx context.Context, config WorkerConfig, n int, timeout time.Duration) (*Workers, error) {
	ws := &Workers{stopping: make(chan struct{}), failed: make(chan error, n)}
	for i := range n {
		c := config
		c.Name = fmt.Sprintf("worker process %d", i+1)
		w, err := StartWorker(c)
		if err != nil {
			ws.Stop(0)
			return nil, err
		}
		ws.List = append(ws.List, w)
		go func() {
			select {
			case <-w.exited:
			case <-ws.stopping:
				return
			}
			select {
			case <-ws.stopping:
			default:
				ws.failed <- fmt.Errorf("%s exited (%v):\n%s", w.name, w.waitErr, w.Log())
			}
		}()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, w := range ws.List {
		if err := w.Ready(ctx, timeout); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				// The shared deadline can end before Ready's own timer:
				// one message, whichever fires first.
				err = w.notReady(timeout)
			}
			ws.Stop(0)
			return nil, err
		}
	}
	return ws, nil
}

// Failed receives an error for each worker that exits before Stop.
func (ws *Workers) Failed() <-chan error { return ws.failed }

// Stop stops every worker (Worker.Stop), all at once, each within grace.
func (ws *Workers) Stop(grace time.Duration) {
	ws.once.Do(func() {
		close(ws.stopping)
		var wg sync.WaitGroup
		for _, w := range ws.List {
			wg.Go(func() { w.Stop(grace) })
		}
		wg.Wait()
	})
}

// tailBuffer keeps the last max bytes written to it, read while the
// process writes.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool // bytes were dropped from the front
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf, b.cut = append(b.buf[:0], b.buf[over:]...), true
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cut {
		return "[…]" + string(b.buf)
	}
	return string(b.buf)
}

// Binary is the webhooks binary to run: WEBHOOKS_BIN when set (make test
// sets it to bin/webhooks), else one built from this module into dir.
func Binary(dir string) (string, error) {
	if bin := os.Getenv("WEBHOOKS_BIN"); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, "webhooks")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/countercyclical/webhooks/cmd/webhooks").CombinedOutput(); err != nil {
		return "", fmt.Errorf("error building webhooks: %v\n%s", err, out)
	}
	return bin, nil
}
