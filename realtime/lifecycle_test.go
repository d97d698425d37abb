package realtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/internal/lifecycle"
	"github.com/parleyhq/parley/internal/lifecycle/lifecycletest"
)

// Every service of the live path is started and stopped many times from several goroutines at
// once: a Start either starts it or says it runs already, a Stop always leaves it stopped, and the
// race detector and goleak (TestMain) see nothing left behind.
func TestServicesStartAndStopConcurrently(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := NewHub(DefaultHubConfig(), newMemStore(), nil, NewMetrics(prometheus.NewRegistry()), logger)
	require.NoError(t, err)
	b := setupDispatcher(t)
	rb := setupRedis(t)
	rb.announce(t, "node-a")
	services := map[string]lifecycle.Service{
		"hub":            hub,
		"local broker":   NewLocalBroker(hub, logger),
		"dispatcher":     b.d,
		"redis consumer": rb.newBroker(t, rb.config("node-a")).consumer,
	}
	for name, svc := range services {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lifecycletest.StartStopConcurrently(t, svc, 4, 15)
			require.NoError(t, svc.Start(context.Background()), "starts again after all that")
			require.NoError(t, svc.Stop(context.Background()))
		})
	}
}

// blockingSink holds every delivery until released.
type blockingSink struct {
	recordingSink
	entered chan struct{}
	release chan struct{}
}

func (s *blockingSink) Deliver(ctx context.Context, batch []Envelope) error {
	s.entered <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.recordingSink.Deliver(ctx, batch)
}

// With the local broker, the hub gets events outside the dispatcher's transaction, as it does from
// the Redis consumer: a hub that is slow to take a batch holds no outbox row locked, and the
// dispatcher's pass has committed before the hub has the batch.
func TestLocalBrokerDeliversOutsideTheOutboxTransaction(t *testing.T) {
	t.Parallel()
	sink := &blockingSink{entered: make(chan struct{}, 1), release: make(chan struct{})}
	local := NewLocalBroker(sink, testLogger())
	require.NoError(t, local.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, local.Stop(context.Background())) })
	b := setupDispatcher(t)
	b.d.broker = local
	conv := insertConversation(t, b.pool)
	insertEvent(t, b.pool, conv, 1)

	n, err := b.d.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, outboxCount(t, b.pool), "the pass committed")
	select {
	case <-sink.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the hub never got the batch")
	}
	require.Zero(t, sink.deliveredCount(), "the hub is still taking it")
	close(sink.release)
	require.Eventually(t, func() bool { return sink.deliveredCount() == 1 }, 5*time.Second, 5*time.Millisecond)
}

// A batch the hub refuses is tried again until taken, and later batches wait their turn.
func TestLocalBrokerRetriesInOrder(t *testing.T) {
	t.Parallel()
	sink := &recordingSink{refuse: errors.New("store down")}
	local := NewLocalBroker(sink, testLogger())
	require.NoError(t, local.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, local.Stop(context.Background())) })
	conv := uuid.New()
	require.NoError(t, local.Publish(context.Background(), []Envelope{envelope(conv, 1)}))
	require.NoError(t, local.Publish(context.Background(), []Envelope{envelope(conv, 2)}))
	require.Eventually(t, func() bool { attempts, _, _ := sink.snapshot(); return attempts >= 2 }, 5*time.Second, 5*time.Millisecond)
	sink.mu.Lock()
	sink.refuse = nil
	sink.mu.Unlock()
	require.Eventually(t, func() bool { return sink.deliveredCount() == 2 }, 5*time.Second, 5*time.Millisecond)
	_, delivered, _ := sink.snapshot()
	require.Equal(t, []int64{1, 2}, bySeq(delivered)[conv])
	require.ErrorIs(t, NewLocalBroker(sink, testLogger()).Publish(context.Background(), nil), errBrokerStopped, "a stopped broker takes nothing")
}
