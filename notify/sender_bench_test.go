package notify

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/db/dbtest"
)

// BenchmarkSenderDrain measures the sender draining a backlog of b.N webhooks over 100
// conversations to a receiver that answers 204 at once (run with -benchtime=20000x).
func BenchmarkSenderDrain(b *testing.B) {
	pool := dbtest.NewPool(b)
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close) // after the node stops: cleanups run last first
	cfg := testConfig(srv.URL, "bench")
	cfg.Concurrency = DefaultConfig().Concurrency
	cfg.PollInterval = DefaultConfig().PollInterval
	convs := make([]uuid.UUID, 100)
	for i := range convs {
		convs[i] = uuid.New()
	}
	const chunk = 50
	for i := 0; i < b.N; i += chunk * len(convs) {
		for _, c := range convs {
			seqs := make([]int64, chunk)
			for k := range seqs {
				seqs[k] = int64(i/len(convs) + k + 1)
			}
			handOff(b, pool, cfg, c, seqs...)
		}
	}
	want := int64(countRows(b, pool, "webhook_deliveries"))
	b.ResetTimer()
	start := time.Now()
	startNode(b, pool, cfg)
	deadline := start.Add(5 * time.Minute)
	for got.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d webhooks delivered in 5 minutes", got.Load(), want)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
	b.ReportMetric(float64(want)/time.Since(start).Seconds(), "webhooks/s")
}
