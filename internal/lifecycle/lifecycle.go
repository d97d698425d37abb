// Package lifecycle gives Parley's long-lived parts one shape: a service is constructed without
// side effects, started with Start (which returns once it runs, or with the reason it cannot) and
// stopped with Stop (which returns once every goroutine it started has ended). Both are safe to
// call from several goroutines; Stop is idempotent and safe before Start; Start on a running
// service is an error. A stopped service may be started again.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Service is a long-lived part of a node: the hub, the dispatcher, a broker's consumer.
type Service interface {
	// Start brings the service up. ctx bounds only the start itself: the service runs until Stop.
	Start(ctx context.Context) error
	// Stop ends the service and waits for its goroutines, or for ctx to end first.
	Stop(ctx context.Context) error
}

// ErrRunning is Start's answer when the service runs already.
var ErrRunning = errors.New("service is running already")

// ErrStopped is the cause of a run's context once Stop has been called.
var ErrStopped = errors.New("service stopped")

// Base holds a service's state: stopped, or running with the goroutines of one run. Embed it (or
// keep it in a field) and call Start and Stop from the service's own.
type Base struct {
	mu  sync.Mutex
	run *Run
}

// Start runs start with a new Run, under the service's lock, so that Stop waits for a start in
// progress. When start fails, what it started is stopped and waited for, and the service stays
// stopped.
func (b *Base) Start(name string, start func(run *Run) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.run != nil {
		return fmt.Errorf("start %s: %w", name, ErrRunning)
	}
	run := newRun()
	if err := start(run); err != nil {
		run.stop()
		<-run.done
		return fmt.Errorf("start %s: %w", name, err)
	}
	b.run = run
	return nil
}

// Stop cancels the running run's context (its cause is ErrStopped), calls beforeWait (which may
// be nil) and waits for the run's goroutines or for ctx. After a wait cut short by ctx, the
// service is still stopping: Stop may be called again to wait on.
func (b *Base) Stop(ctx context.Context, beforeWait func()) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	run := b.run
	if run == nil {
		return nil
	}
	run.stop()
	if beforeWait != nil {
		beforeWait()
	}
	select {
	case <-run.done:
		b.run = nil
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop: %w", context.Cause(ctx))
	}
}

// Running returns the current run, or nil while the service is stopped. A caller that starts
// goroutines for the service outside Start (a connection, say) goes through the run's Go, which
// refuses once Stop has begun.
func (b *Base) Running() *Run {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.run
}

// Run is one run of a service: a context that Stop cancels, and the goroutines started in it.
type Run struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu       sync.Mutex
	stopping bool
	wg       sync.WaitGroup
}

func newRun() *Run {
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &Run{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	// The run's own reaper: once cancelled, and so closed to new goroutines, it waits for those
	// started and says so.
	go func() {
		<-ctx.Done()
		r.wg.Wait()
		close(r.done)
	}()
	return r
}

// Context ends when Stop is called; its cause is then ErrStopped.
func (r *Run) Context() context.Context { return r.ctx }

// Go runs fn in a goroutine of the run, which Stop waits for, and reports false (running nothing)
// once Stop has begun.
func (r *Run) Go(fn func(ctx context.Context)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn(r.ctx)
	}()
	return true
}

func (r *Run) stop() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	r.cancel(ErrStopped)
}

// Every calls fn each interval until ctx ends: the body of a service's periodic loop, run in a
// goroutine of its Run.
func Every(ctx context.Context, interval time.Duration, fn func(ctx context.Context)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if ctx.Err() != nil {
				return // both were ready: the end wins
			}
			fn(ctx)
		}
	}
}
