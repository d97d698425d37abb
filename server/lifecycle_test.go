package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

// Building, serving and closing the whole server many times in one process leaves no goroutine
// behind and does not grow the heap: nothing is global, every resource has an owner that closes
// it. This test is deliberately not parallel: it counts the process's goroutines, and parallel
// tests only start once sequential ones are done.
func TestServerLifecycleLeavesNothingBehind(t *testing.T) {
	const cycles = 100
	cfg := DefaultConfig()
	cfg.DatabaseURL = dbtest.NewDatabase(t)
	cfg.Auth = AuthConfig{Secret: []byte(testSecret)}
	cfg.DBMaxConns = 2
	token := tokenFor(t, "alice")

	cycle := func() error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, err := New(ctx, cfg, discardLogger())
		if err != nil {
			return err
		}
		defer s.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx, ln) }()

		transport := &http.Transport{}
		defer transport.CloseIdleConnections()
		client := &http.Client{Transport: transport}
		for _, path := range []string{"/readyz", "/v1/me", "/v1/conversations", "/metrics"} {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
			}
		}
		cancel()
		return <-served
	}

	// One warm-up cycle fills what is loaded once per process (the parsed spec, TLS and DNS
	// tables, regexp caches), so the baseline reflects steady state.
	require.NoError(t, cycle())
	baseGoroutines, baseHeap := settle(t, 0)

	for i := range cycles {
		require.NoError(t, cycle(), "cycle %d", i)
	}
	goroutines, heap := settle(t, baseGoroutines)

	growth := int64(heap) - int64(baseHeap)
	t.Logf("after %d build/serve/close cycles: goroutines %d (baseline %d), heap %.2f MiB (baseline %.2f MiB, growth %+.1f KiB)",
		cycles, goroutines, baseGoroutines, mib(heap), mib(baseHeap), float64(growth)/1024)
	require.LessOrEqual(t, goroutines, baseGoroutines, "goroutines leaked")
	require.Less(t, growth, int64(2<<20), "heap grew by more than 2 MiB over %d cycles", cycles)
}

// settle waits (up to a deadline) for background goroutines of closed servers to exit, then
// returns the goroutine count and the live heap after a full collection.
func settle(t *testing.T, want int) (goroutines int, heap uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		goroutines = runtime.NumGoroutine()
		if want == 0 || goroutines <= want || time.Now().After(deadline) {
			break
		}
		runtime.Gosched()
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return goroutines, m.HeapAlloc
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
