// Package lifecycletest checks that a lifecycle service stands being started and stopped from
// several goroutines at once.
package lifecycletest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/parleyhq/parley/internal/lifecycle"
)

// StartStopConcurrently starts and stops svc rounds times in each of goroutines goroutines at
// once: every Start must start it or say it runs already, every Stop must succeed. It leaves svc
// stopped; goleak in the caller's TestMain then sees whether anything was left behind.
func StartStopConcurrently(t testing.TB, svc lifecycle.Service, goroutines, rounds int) {
	t.Helper()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range rounds {
				if err := svc.Start(context.Background()); err != nil && !errors.Is(err, lifecycle.ErrRunning) {
					t.Errorf("start: %v", err)
				}
				if err := svc.Stop(context.Background()); err != nil {
					t.Errorf("stop: %v", err)
				}
			}
		})
	}
	wg.Wait()
}
