package batch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The batcher's goroutine runs only while requests wait: none is left once
// every test's requests are answered.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gated is a run that holds its first batch until released, so that the
// requests made meanwhile queue behind it; it records each batch.
type gated struct {
	mu      sync.Mutex
	batches [][]int
	started chan struct{}
	release chan struct{}
	fail    error
}

func newGated() *gated {
	return &gated{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gated) run(batch []int) ([]int, error) {
	g.mu.Lock()
	first := len(g.batches) == 0
	g.batches = append(g.batches, append([]int(nil), batch...))
	g.mu.Unlock()
	g.started <- struct{}{}
	if first {
		<-g.release
	}
	if g.fail != nil {
		return nil, g.fail
	}
	out := make([]int, len(batch))
	for i, in := range batch {
		out[i] = in * 10
	}
	return out, nil
}

// doAll runs Do for each input at once, and returns each answer by input.
func doAll(t *testing.T, b *Batcher[int, int], ctx context.Context, ins ...int) (map[int]int, map[int]error) {
	t.Helper()
	var mu sync.Mutex
	outs, errs := map[int]int{}, map[int]error{}
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() {
			out, err := b.Do(ctx, in)
			mu.Lock()
			defer mu.Unlock()
			outs[in], errs[in] = out, err
		})
	}
	wg.Wait()
	return outs, errs
}

// waitQueued waits until n requests wait behind the running batch.
// Nothing signals a request queued: it polls the queue.
func waitQueued(t *testing.T, b *Batcher[int, int], n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue) >= n
	}, 10*time.Second, time.Millisecond, "%d requests never queued", n)
}

// TestBatchesWhatArrivesMeanwhile: a lone request runs at once, alone; the
// requests that arrive while it runs go together into the next batch, each
// answered with its own output.
func TestBatchesWhatArrivesMeanwhile(t *testing.T) {
	g := newGated()
	b := New(100, g.run)
	first := make(chan int)
	go func() {
		out, err := b.Do(context.Background(), 1)
		require.NoError(t, err)
		first <- out
	}()
	<-g.started
	done := make(chan struct{})
	var outs map[int]int
	var errs map[int]error
	go func() {
		defer close(done)
		outs, errs = doAll(t, b, context.Background(), 2, 3, 4, 5)
	}()
	waitQueued(t, b, 4)
	close(g.release)
	require.Equal(t, 10, <-first)
	<-done
	for in := 2; in <= 5; in++ {
		require.NoError(t, errs[in])
		require.Equal(t, in*10, outs[in])
	}
	require.Len(t, g.batches, 2)
	require.Equal(t, []int{1}, g.batches[0])
	require.ElementsMatch(t, []int{2, 3, 4, 5}, g.batches[1])
}

// TestBatchMax: no batch is larger than max.
func TestBatchMax(t *testing.T) {
	g := newGated()
	b := New(2, g.run)
	go func() { _, _ = b.Do(context.Background(), 1) }()
	<-g.started
	done := make(chan struct{})
	go func() { defer close(done); doAll(t, b, context.Background(), 2, 3, 4, 5, 6) }()
	waitQueued(t, b, 5)
	close(g.release)
	<-done
	total := 0
	for _, batch := range g.batches {
		require.LessOrEqual(t, len(batch), 2)
		total += len(batch)
	}
	require.Equal(t, 6, total)
}

// TestBatchFailsWhole: a batch's error is every request's in it.
func TestBatchFailsWhole(t *testing.T) {
	g := newGated()
	g.fail = errors.New("the database is down")
	close(g.release)
	b := New(10, g.run)
	_, errs := doAll(t, b, context.Background(), 1, 2, 3)
	for in := 1; in <= 3; in++ {
		require.ErrorIs(t, errs[in], g.fail)
	}
}

// TestDoReturnsAtItsContextsEnd: a request whose context ends returns at
// once with the context's error; its batch still runs (a recorded attempt
// is written all the same).
func TestDoReturnsAtItsContextsEnd(t *testing.T) {
	g := newGated()
	b := New(10, g.run)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := b.Do(ctx, 7)
		errc <- err
	}()
	<-g.started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	close(g.release) // the batch ends; its goroutine with it (goleak)
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Equal(t, [][]int{{7}}, g.batches)
}
