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

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// While a batch runs, the calls that arrive wait and run together in the next, each with its own
// result and error; a caller whose context ends still gets the result of the run it joined.
func TestCallsThatArriveDuringARunFormTheNextBatch(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	b := New(10, 1, time.Second, func(_ context.Context, reqs []int, res []int, errs []error) {
		mu.Lock()
		sizes = append(sizes, len(reqs))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release
		}
		for i, r := range reqs {
			if r < 0 {
				errs[i] = errors.New("negative")
				continue
			}
			res[i] = r * 2
		}
	})

	var wg sync.WaitGroup
	results := make([]int, 13)
	errs := make([]error, 13)
	wg.Go(func() { results[0], errs[0] = b.Do(context.Background(), 0) })
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 1 }, 5*time.Second, time.Millisecond)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 1; i < 13; i++ {
		ctx := context.Background()
		if i == 5 {
			ctx = cancelled
		}
		req := i
		if i == 7 {
			req = -1
		}
		wg.Go(func() { results[i], errs[i] = b.Do(ctx, req) })
	}
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.pending) == 12 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()

	require.Equal(t, []int{1, 10, 2}, sizes, "one call, then the 12 that waited, by at most 10")
	for i, r := range results {
		if i == 7 {
			require.EqualError(t, errs[i], "negative")
			continue
		}
		require.NoError(t, errs[i])
		require.Equal(t, i*2, r)
	}
	require.Zero(t, b.running, "the turn is free again")
}
