package realtime

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/internal/redistest"
)

// presenceNode is one node of a presence test over Redis: its hub (on the test's fake clock) and
// its sync, on a client of its own.
type presenceNode struct {
	presenceBundle
	client *redis.Client
	sync   *PresenceSync
}

// newPresenceNode starts a node on the Redis at url, in namespace ns; it stops (and its client
// closes) when the test ends.
func newPresenceNode(t *testing.T, url, ns, id string, clock *clockwork.FakeClock, configure ...func(*PresenceConfig)) presenceNode {
	t.Helper()
	b := setupPresence(t, clock, configure...)
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	opts.MaxRetries = -1 // a test that stops Redis wants each failure at once
	client := redis.NewClient(opts)
	cfg := DefaultRedisConfig(url, id)
	cfg.Namespace = ns
	sync, err := NewPresenceSync(client, cfg, b.tracker, testLogger())
	require.NoError(t, err)
	require.NoError(t, sync.Start(context.Background()))
	t.Cleanup(func() {
		require.NoError(t, sync.Stop(context.Background()))
		_ = client.Close() // closed already by tests that kill a node
	})
	return presenceNode{presenceBundle: b, client: client, sync: sync}
}

func (b presenceBundle) online(user string) bool {
	b.tracker.mu.Lock()
	defer b.tracker.mu.Unlock()
	return b.tracker.onlineLocked(user)
}

// eventually waits for cond without moving the clock.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 2*time.Millisecond, msg)
}

// A long lease: only the tests about leases let one lapse.
func longLease(c *PresenceConfig) { c.LeaseTTL, c.LeaseRenew = 10*time.Minute, 3*time.Minute }

func TestPresenceTwoNodesOnlineOfflineReconnect(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	clock := clockwork.NewFakeClockAt(presenceEpoch)
	a := newPresenceNode(t, redistest.URL(), rb.ns, "node-a", clock, longLease)
	b := newPresenceNode(t, redistest.URL(), rb.ns, "node-b", clock, longLease)
	w, _ := a.watcher(t, "alice")

	alice := b.connect(t, "alice")
	eventually(t, func() bool { return a.online("alice") }, "node-a hears alice is online on node-b")
	a.advance(t, time.Second, 1)
	frames, _ := presenceOut(t, w)
	require.Len(t, frames, 1)
	require.Equal(t, []string{"alice:online"}, statuses(frames[0]))
	members, err := rb.client.SMembers(context.Background(), rb.ns+":presence:on:node-b").Result()
	require.NoError(t, err)
	require.Equal(t, []string{"alice"}, members)

	// A reconnect within the grace: nothing leaves node-b, nothing is sent.
	b.hub.unregister(alice)
	b.advance(t, 5*time.Second, 0)
	alice = b.connect(t, "alice")
	b.advance(t, 10*time.Second, 0)
	require.True(t, a.online("alice"))
	frames, _ = presenceOut(t, w)
	require.Empty(t, frames)

	// A clean close: offline on every node after the grace.
	b.hub.unregister(alice)
	b.advance(t, 10*time.Second, 1)
	eventually(t, func() bool { return !a.online("alice") }, "node-a hears alice left node-b")
	a.advance(t, time.Second, 1)
	frames, _ = presenceOut(t, w)
	require.Len(t, frames, 1)
	require.Equal(t, []string{"alice:offline"}, statuses(frames[0]))
	require.True(t, frames[0].Users[0].LastSeenAt.Equal(presenceEpoch.Add(26*time.Second)), "last seen at the end of the grace, %s", frames[0].Users[0].LastSeenAt)
	seen, err := rb.client.HGet(context.Background(), rb.ns+":presence:seen", "alice").Int64()
	require.NoError(t, err)
	require.Equal(t, presenceEpoch.Add(26*time.Second).UnixMilli(), seen)
}

// A node that dies (its Redis client gone: no renewal, no cleanup) has its users taken offline by
// the others once its lease lapses, and its keys removed.
func TestPresenceNodeDeathTakesItsUsersOffline(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	clock := clockwork.NewFakeClockAt(presenceEpoch)
	short := func(c *PresenceConfig) { c.LeaseTTL, c.LeaseRenew = 3*time.Second, time.Second }
	a := newPresenceNode(t, redistest.URL(), rb.ns, "node-a", clock, short)
	b := newPresenceNode(t, redistest.URL(), rb.ns, "node-b", clock, short)
	w, _ := a.watcher(t, "alice", "bob")
	b.connect(t, "alice")
	a.connect(t, "bob")
	eventually(t, func() bool { return a.online("alice") }, "node-a hears alice is online on node-b")
	a.advance(t, time.Second, 1)
	presenceOut(t, w)

	require.NoError(t, b.client.Close()) // node-b dies
	died := clock.Now()
	eventually(t, func() bool {
		clock.Advance(50 * time.Millisecond)
		return !a.online("alice")
	}, "node-a takes alice offline once node-b's lease lapses")
	require.LessOrEqual(t, clock.Since(died), 3*time.Second+time.Second, "within the lease's TTL of its last renewal")
	a.advance(t, time.Second, 1)
	frames, _ := presenceOut(t, w)
	require.Len(t, frames, 1)
	require.Equal(t, []string{"alice:offline"}, statuses(frames[0]), "bob, on the live node, stays online")

	eventually(t, func() bool {
		n, err := rb.client.Exists(context.Background(), rb.ns+":presence:on:node-b").Result()
		return err == nil && n == 0
	}, "node-b's users removed from Redis")
	_, err := rb.client.ZScore(context.Background(), rb.ns+":presence:nodes", "node-b").Result()
	require.ErrorIs(t, err, redis.Nil)
}

// Redis gone for a while: presence degrades without blocking the hub, and once Redis is back
// (empty, as after a restart without persistence) each node writes its users again and the
// others read them.
func TestPresenceRedisOutageRecovers(t *testing.T) {
	t.Parallel()
	proc := redistest.StartProcess(t)
	ns := "parleytest:outage"
	clock := clockwork.NewFakeClockAt(presenceEpoch)
	a := newPresenceNode(t, proc.URL(), ns, "node-a", clock, longLease)
	b := newPresenceNode(t, proc.URL(), ns, "node-b", clock, longLease)
	alice := b.connect(t, "alice")
	eventually(t, func() bool { return a.online("alice") }, "node-a hears alice is online on node-b")

	proc.Kill()
	b.hub.unregister(alice)
	b.advance(t, 10*time.Second, 1) // alice leaves node-b while Redis is away
	b.connect(t, "bob")
	eventually(t, func() bool {
		return testutil.ToFloat64(b.metrics.presence.redisErrors.WithLabelValues("flush")) > 0
	}, "node-b counts its failed writes")

	require.NoError(t, proc.Start(context.Background()))
	eventually(t, func() bool { return a.online("bob") && !a.online("alice") }, "node-a reads node-b's users again")
	members, err := redis.NewClient(&redis.Options{Addr: proc.Addr}).SMembers(context.Background(), ns+":presence:on:node-b").Result()
	require.NoError(t, err)
	require.Equal(t, []string{"bob"}, members)
}

// A node that stops cleanly sets its lease to lapse a grace later: its users do not all go
// offline at once the moment it stops, and go offline on the other nodes after the grace (unless
// they reconnected elsewhere).
func TestPresenceNodeStopLeavesItsUsersForTheGrace(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	clock := clockwork.NewFakeClockAt(presenceEpoch)
	short := func(c *PresenceConfig) { c.LeaseTTL, c.LeaseRenew = 3*time.Second, time.Second }
	a := newPresenceNode(t, redistest.URL(), rb.ns, "node-a", clock, short)
	b := newPresenceNode(t, redistest.URL(), rb.ns, "node-b", clock, short)
	b.connect(t, "alice")
	b.connect(t, "bob")
	eventually(t, func() bool { return a.online("alice") && a.online("bob") }, "node-a hears alice and bob are online on node-b")

	stopped := clock.Now()
	require.NoError(t, b.hub.Stop(context.Background()))
	require.NoError(t, b.sync.Stop(context.Background()))
	require.Equal(t, 0.0, testutil.ToFloat64(b.metrics.presence.offline), "no user went offline on node-b as it stopped")
	lease, err := rb.client.ZScore(context.Background(), rb.ns+":presence:nodes", "node-b").Result()
	require.NoError(t, err)
	require.Equal(t, float64(stopped.Add(10*time.Second).UnixMilli()), lease, "node-b's lease lapses a grace after it stopped")
	require.True(t, a.online("alice"))

	a.connect(t, "bob") // bob reconnected to node-a meanwhile
	eventually(t, func() bool {
		clock.Advance(50 * time.Millisecond)
		return !a.online("alice")
	}, "node-a takes alice offline once node-b's lease lapses")
	require.GreaterOrEqual(t, clock.Since(stopped), 10*time.Second, "not before the grace")
	require.True(t, a.online("bob"), "bob is online on node-a")
}
