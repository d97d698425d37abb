package notify

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

func startLeases(t *testing.T, l *Leases) {
	t.Helper()
	require.NoError(t, l.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, l.Stop(context.Background())) })
}

// owner is the node holding shard's lease in the database, "" when none.
func owner(t *testing.T, l *Leases, shard int16) string {
	t.Helper()
	var o *string
	require.NoError(t, l.pool.QueryRow(t.Context(), `SELECT CASE WHEN lease_until > now() THEN owner END FROM webhook_leases WHERE shard = $1`, shard).Scan(&o))
	if o == nil {
		return ""
	}
	return *o
}

func TestLeasesSplitFairlyAndHandOverOnStop(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	a := NewLeases(testConfig("http://127.0.0.1:1", "a"), pool, testLogger())
	startLeases(t, a)
	require.Len(t, a.Held(), Shards, "alone, a node holds every shard")

	changed := a.Changed()
	b := NewLeases(testConfig("http://127.0.0.1:1", "b"), pool, testLogger())
	startLeases(t, b)
	waitFor(t, 5*time.Second, "half the shards each", func() bool {
		return len(a.Held()) == Shards/2 && len(b.Held()) == Shards/2
	})
	require.Empty(t, intersect(a.Held(), b.Held()))
	select {
	case <-changed:
	default:
		t.Fatal("a's change was not signalled")
	}

	bHeld := b.Held()
	require.NoError(t, b.Stop(t.Context()))
	require.Empty(t, b.Held())
	// b left and released its shards, so a takes them at its next beat rather than after b's
	// leases lapse.
	var nodes int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM webhook_nodes WHERE node = 'b'`).Scan(&nodes))
	require.Zero(t, nodes, "b is no longer counted")
	for _, s := range bHeld {
		if o := owner(t, a, s); o != "" {
			require.Equal(t, "a", o, "shard %d", s)
		}
	}
	waitFor(t, 5*time.Second, "a holding every shard again", func() bool { return len(a.Held()) == Shards })
}

func TestLeasesKeepAShardInUseUntilItsPOSTEnds(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	a := NewLeases(testConfig("http://127.0.0.1:1", "a"), pool, testLogger())
	startLeases(t, a)
	const busy = Shards - 1 // a keeps its lowest shards when it gives some up
	_, ok := a.acquire(busy)
	require.True(t, ok)

	b := NewLeases(testConfig("http://127.0.0.1:1", "b"), pool, testLogger())
	startLeases(t, b)
	waitFor(t, 5*time.Second, "b taking the free shards", func() bool { return len(b.Held()) == Shards/2-1 })
	require.NotContains(t, a.Held(), int16(busy), "given up: no new POSTs")
	_, ok = a.acquire(busy)
	require.False(t, ok)
	require.Equal(t, "a", owner(t, a, busy), "still a's while its POST is in flight")

	a.done(busy)
	waitFor(t, 5*time.Second, "b taking the shard once the POST ended", func() bool { return len(b.Held()) == Shards/2 })
	require.Contains(t, b.Held(), int16(busy))
}

func TestLeasesStopSendingWhenNotRenewedInTime(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	cfg := testConfig("http://127.0.0.1:1", "a")
	cfg.LeaseTTL = time.Minute // no renewal during the test: the clock below moves instead
	l := NewLeases(cfg, pool, testLogger())
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	l.now = func() time.Time { return time.Unix(0, clock.Load()) }
	startLeases(t, l)
	_, ok := l.acquire(3)
	require.True(t, ok)
	l.done(3)

	clock.Add(int64(cfg.LeaseTTL - leaseMargin)) // the lease ends now: another node may take it
	require.Empty(t, l.Held())
	_, ok = l.acquire(3)
	require.False(t, ok, "no POST may start once the lease is about to lapse")
}
