package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/internal/lifecycle"
	"github.com/parleyhq/parley/internal/lifecycle/lifecycletest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ticking is the smallest service: one goroutine that runs until stopped.
type ticking struct {
	life lifecycle.Base
}

func (s *ticking) Start(context.Context) error {
	return s.life.Start("ticking", func(run *lifecycle.Run) error {
		run.Go(func(ctx context.Context) { <-ctx.Done() })
		return nil
	})
}

func (s *ticking) Stop(ctx context.Context) error { return s.life.Stop(ctx, nil) }

func TestStartTwiceIsAnError(t *testing.T) {
	t.Parallel()
	s := &ticking{}
	require.NoError(t, s.Start(t.Context()))
	require.ErrorIs(t, s.Start(t.Context()), lifecycle.ErrRunning)
	require.NoError(t, s.Stop(t.Context()))
}

func TestStopIsIdempotentAndSafeBeforeStart(t *testing.T) {
	t.Parallel()
	s := &ticking{}
	require.NoError(t, s.Stop(t.Context()))
	require.NoError(t, s.Start(t.Context()))
	require.NoError(t, s.Stop(t.Context()))
	require.NoError(t, s.Stop(t.Context()))
	require.NoError(t, s.Start(t.Context()), "a stopped service starts again")
	require.NoError(t, s.Stop(t.Context()))
}

func TestFailedStartStopsWhatItStarted(t *testing.T) {
	t.Parallel()
	var b lifecycle.Base
	ended := make(chan struct{})
	err := b.Start("failing", func(run *lifecycle.Run) error {
		run.Go(func(ctx context.Context) {
			defer close(ended)
			<-ctx.Done()
		})
		return errors.New("refused")
	})
	require.ErrorContains(t, err, "start failing: refused")
	select {
	case <-ended:
	default:
		t.Fatal("the goroutine of a failed start still runs")
	}
	require.Nil(t, b.Running())
}

func TestStopWaitsForGoroutinesAndTheirCause(t *testing.T) {
	t.Parallel()
	var b lifecycle.Base
	var cause error
	require.NoError(t, b.Start("svc", func(run *lifecycle.Run) error {
		run.Go(func(ctx context.Context) {
			<-ctx.Done()
			cause = context.Cause(ctx)
		})
		return nil
	}))
	run := b.Running()
	require.NoError(t, b.Stop(t.Context(), nil))
	require.ErrorIs(t, cause, lifecycle.ErrStopped, "written before Stop returned")
	require.False(t, run.Go(func(context.Context) {}), "a stopped run starts nothing")
}

func TestStopGivesUpWithItsContextAndCanWaitAgain(t *testing.T) {
	t.Parallel()
	var b lifecycle.Base
	release := make(chan struct{})
	require.NoError(t, b.Start("slow", func(run *lifecycle.Run) error {
		run.Go(func(context.Context) { <-release })
		return nil
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.Stop(ctx, nil), context.DeadlineExceeded)
	require.ErrorIs(t, b.Start("slow", func(*lifecycle.Run) error { return nil }), lifecycle.ErrRunning, "still stopping")
	close(release)
	require.NoError(t, b.Stop(t.Context(), nil))
}

// Starts and stops from many goroutines at once: every Start either runs the service or says it
// runs already, and at the end nothing is left running (goleak).
func TestConcurrentStartsAndStops(t *testing.T) {
	t.Parallel()
	s := &ticking{}
	lifecycletest.StartStopConcurrently(t, s, 16, 200)
	require.Nil(t, s.life.Running())
}

func TestEveryRunsUntilItsContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	lifecycle.Every(ctx, time.Millisecond, func(context.Context) {
		if calls++; calls == 3 {
			cancel()
		}
	})
	require.Equal(t, 3, calls, "no call after the context ended")
}
