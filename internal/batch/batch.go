// Package batch runs concurrent calls in batches, the way a database's group commit does, with no
// goroutine and no timer of its own: a caller that finds a turn free runs the calls waiting
// behind it together with its own, then hands the turn to the next caller still waiting. A lone
// call runs at once; under load, calls are batched by as many as arrived during one run.
package batch

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Batcher batches calls of Req to Res.
type Batcher[Req, Res any] struct {
	maxBatch   int
	maxRunning int
	timeout    time.Duration
	run        func(ctx context.Context, reqs []Req, res []Res, errs []error)

	mu      sync.Mutex
	pending []*call[Req, Res]
	running int
}

type call[Req, Res any] struct {
	req Req
	res Res
	err error
	// Exactly one is signalled: done once the call has run, or lead when the call is to run
	// the next batch itself.
	done chan struct{}
	lead chan struct{}
}

// New returns a Batcher that runs at most maxRunning batches at once, each of at most maxBatch
// calls, with run, which fills res[i] and errs[i] for reqs[i]. A batch's context is its first
// caller's without its cancellation (the others wait on the same run), bounded by timeout.
func New[Req, Res any](maxBatch, maxRunning int, timeout time.Duration, run func(ctx context.Context, reqs []Req, res []Res, errs []error)) *Batcher[Req, Res] {
	return &Batcher[Req, Res]{maxBatch: max(maxBatch, 1), maxRunning: max(maxRunning, 1), timeout: timeout, run: run}
}

// Do runs req in the next batch and returns its result.
func (b *Batcher[Req, Res]) Do(ctx context.Context, req Req) (Res, error) {
	c := &call[Req, Res]{req: req, done: make(chan struct{}), lead: make(chan struct{})}
	b.mu.Lock()
	lead := b.running < b.maxRunning
	if lead {
		b.running++
	} else {
		b.pending = append(b.pending, c)
	}
	b.mu.Unlock()
	if !lead {
		// The batch runs, or will, whatever this caller's context says.
		select {
		case <-c.done:
			return c.res, c.err
		case <-c.lead:
		}
	}
	b.runBatch(ctx, c)
	return c.res, c.err
}

// runBatch runs first and the calls waiting behind it, then hands the turn to the first call
// still waiting, if any.
func (b *Batcher[Req, Res]) runBatch(ctx context.Context, first *call[Req, Res]) {
	b.mu.Lock()
	n := min(len(b.pending), b.maxBatch-1)
	calls := append([]*call[Req, Res]{first}, b.pending[:n]...)
	b.pending = slices.Delete(b.pending, 0, n)
	b.mu.Unlock()

	reqs := make([]Req, len(calls))
	for i, c := range calls {
		reqs[i] = c.req
	}
	res, errs := make([]Res, len(calls)), make([]error, len(calls))
	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.timeout)
	b.run(runCtx, reqs, res, errs)
	cancel()
	for i, c := range calls {
		c.res, c.err = res[i], errs[i]
		close(c.done)
	}

	b.mu.Lock()
	var next *call[Req, Res]
	if len(b.pending) > 0 {
		next = b.pending[0]
		b.pending = slices.Delete(b.pending, 0, 1)
	} else {
		b.running--
	}
	b.mu.Unlock()
	if next != nil {
		next.lead <- struct{}{}
	}
}
