package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/realtime"
)

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig sends to url as node, with durations short enough for tests.
func testConfig(url, node string) Config {
	cfg := DefaultConfig()
	cfg.URL = url
	cfg.Secret = testSecret
	cfg.NodeID = node
	cfg.Timeout = 2 * time.Second
	cfg.BackoffMin = 10 * time.Millisecond
	cfg.BackoffMax = 40 * time.Millisecond
	cfg.Concurrency = 8
	cfg.PollInterval = 20 * time.Millisecond
	cfg.LeaseTTL = 600 * time.Millisecond
	return cfg
}

// node is one node's webhook sending: its leases and its sender.
type node struct {
	leases  *Leases
	sender  *Sender
	metrics *Metrics
	reg     *prometheus.Registry
}

// startNode starts sending for cfg.NodeID; it is stopped when the test ends, sender first.
func startNode(t testing.TB, pool *pgxpool.Pool, cfg Config) *node {
	t.Helper()
	n := &node{reg: prometheus.NewRegistry(), leases: NewLeases(cfg, pool, testLogger())}
	n.metrics = NewMetrics(n.reg, pool)
	var err error
	n.sender, err = NewSender(cfg, pool, n.leases, n.metrics, testLogger())
	require.NoError(t, err)
	require.NoError(t, n.leases.Start(t.Context()))
	require.NoError(t, n.sender.Start(t.Context()))
	t.Cleanup(func() { n.stop(t) })
	return n
}

func (n *node) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, n.sender.Stop(ctx))
	require.NoError(t, n.leases.Stop(ctx))
}

// payload is an event as the API serves it, reduced to what the tests look at.
func payload(conv uuid.UUID, seq int64, typ string) []byte {
	return fmt.Appendf(nil, `{"conversation_id":%q,"seq":%d,"type":%q}`, conv, seq, typ)
}

// handOff hands events seqs of conv over as the dispatcher does, in one transaction.
func handOff(t testing.TB, pool *pgxpool.Pool, cfg Config, conv uuid.UUID, seqs ...int64) {
	t.Helper()
	batch := make([]realtime.Envelope, len(seqs))
	for i, seq := range seqs {
		batch[i] = realtime.Envelope{ConversationID: conv, Seq: seq, Payload: payload(conv, seq, "message.created"), CommittedAt: time.Now()}
	}
	var after func()
	err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		var err error
		after, err = NewHandOff(cfg, nil).HandOff(t.Context(), tx, batch)
		return err
	})
	require.NoError(t, err)
	if after != nil {
		after()
	}
}

// countRows is how many rows table has.
func countRows(t testing.TB, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n))
	return n
}
