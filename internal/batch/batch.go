// Package batch runs the requests of concurrent callers in batches, one
// statement and one commit for all of them: the delivery's loads and
// records, and the ordered queue's releases. It imports nothing of this
// project.
package batch

import (
	"context"
	"sync"
	"time"
)

// Timeout bounds one batch's statement: a database that does not answer
// must not hold every delivery's batch behind it for good.
const Timeout = 30 * time.Second

// Batcher runs the requests of concurrent deliveries in batches: whatever
// arrived while the previous batch ran goes into the next, so a batch costs
// one round trip and one commit however many deliveries share it, and a
// lone request waits for nothing (group commit, as River's completer does
// for job completions). A goroutine runs only while requests wait: there is nothing to stop.
type Batcher[In, Out any] struct {
	// run answers a batch, one output per input, in order; or fails it
	// whole.
	run func(batch []In) ([]Out, error)
	max int

	mu      sync.Mutex
	queue   []*request[In, Out]
	running bool
}

type request[In, Out any] struct {
	in   In
	out  Out
	err  error
	done chan struct{}
}

// New returns a batcher that answers batches of at most max requests with
// run.
func New[In, Out any](max int, run func(batch []In) ([]Out, error)) *Batcher[In, Out] {
	return &Batcher[In, Out]{run: run, max: max}
}

// Do queues in and waits for its batch, or for ctx to end; in the latter
// case the batch still runs.
func (b *Batcher[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	r := &request[In, Out]{in: in, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	if !b.running {
		b.running = true
		go b.loop()
	}
	b.mu.Unlock()
	select {
	case <-r.done:
		return r.out, r.err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

func (b *Batcher[In, Out]) loop() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.max)
		if n == 0 {
			b.queue = nil
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()

		ins := make([]In, len(batch))
		for i, r := range batch {
			ins[i] = r.in
		}
		outs, err := b.run(ins)
		for i, r := range batch {
			if err != nil {
				r.err = err
			} else {
				r.out = outs[i]
			}
			close(r.done)
		}
	}
}
