package realtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/internal/redistest"
)

// recordingSink records what a broker hands it, and refuses deliveries while told to.
type recordingSink struct {
	mu        sync.Mutex
	refuse    error
	attempts  int // envelopes offered, accepted or not
	delivered []Envelope
	signals   []Signal
	catchUps  int
}

func (s *recordingSink) Deliver(_ context.Context, batch []Envelope) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts += len(batch)
	if s.refuse != nil {
		return s.refuse
	}
	s.delivered = append(s.delivered, batch...)
	return nil
}

func (s *recordingSink) DeliverSignal(sig Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signals = append(s.signals, sig)
}

func (s *recordingSink) CatchUp(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.catchUps++
	return nil
}

func (s *recordingSink) catchUpCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.catchUps
}

func (s *recordingSink) snapshot() (attempts int, delivered []Envelope, signals []Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts, slices.Clone(s.delivered), slices.Clone(s.signals)
}

func (s *recordingSink) deliveredCount() int {
	_, delivered, _ := s.snapshot()
	return len(delivered)
}

// redisBundle is a namespace of its own on the test Redis, removed when the test ends, and a plain
// client to look at it.
type redisBundle struct {
	ns     string
	client *redis.Client
}

func setupRedis(t *testing.T) redisBundle {
	t.Helper()
	ns, client := redistest.Namespace(t)
	return redisBundle{ns: ns, client: client}
}

func (b redisBundle) config(node string) RedisConfig {
	cfg := DefaultRedisConfig(redistest.URL(), node)
	cfg.Namespace = b.ns
	cfg.Shards = 4
	cfg.Block = 100 * time.Millisecond
	cfg.ClaimIdle = 200 * time.Millisecond
	cfg.MaxDeliveries = 3
	cfg.NodeGoneAfter = time.Minute
	return cfg
}

// testRedisNode is one node's use of the Redis broker in these tests: a client of its own, the
// publisher and the consumer, whose sink is named when it starts.
type testRedisNode struct {
	*RedisPublisher
	client   *redis.Client
	consumer *RedisConsumer
	target   Sink
}

func (n *testRedisNode) Deliver(ctx context.Context, batch []Envelope) error {
	return n.target.Deliver(ctx, batch)
}
func (n *testRedisNode) DeliverSignal(s Signal)            { n.target.DeliverSignal(s) }
func (n *testRedisNode) CatchUp(ctx context.Context) error { return n.target.CatchUp(ctx) }

// Start starts the node's consumer on sink.
func (n *testRedisNode) Start(ctx context.Context, sink Sink) error {
	n.target = sink
	return n.consumer.Start(ctx)
}

// Stop stops the node's consumer.
func (n *testRedisNode) Stop() error { return n.consumer.Stop(context.Background()) }

// Close closes the node's client, as a node that dies does.
func (n *testRedisNode) Close() error { return n.client.Close() }

func (n *testRedisNode) PendingEntries(ctx context.Context) (map[string]int64, error) {
	return n.consumer.PendingEntries(ctx)
}

// newBroker makes a node, stopped and closed when the test ends (before the namespace is removed).
func (b redisBundle) newBroker(t *testing.T, cfg RedisConfig) *testRedisNode {
	t.Helper()
	opts, err := redis.ParseURL(cfg.URL)
	require.NoError(t, err)
	client := redis.NewClient(opts)
	publisher, err := NewRedisPublisher(client, cfg)
	require.NoError(t, err)
	n := &testRedisNode{RedisPublisher: publisher, client: client}
	n.consumer, err = NewRedisConsumer(client, cfg, n, NewMetrics(prometheus.NewRegistry()), testLogger())
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, n.Stop())
		_ = n.Close() // closed already by tests that restart a node
	})
	return n
}

// startBroker is newBroker, started on sink.
func (b redisBundle) startBroker(t *testing.T, cfg RedisConfig, sink Sink) *testRedisNode {
	t.Helper()
	broker := b.newBroker(t, cfg)
	require.NoError(t, broker.Start(context.Background(), sink))
	return broker
}

// totalPending is how many entries the broker's node has not acknowledged, -1 when Redis does
// not answer. It does not fail the test, so Eventually conditions can call it.
// announce sets the heartbeat keys of nodes before they start. A node's Start creates its groups
// before its first heartbeat, and another node's maintenance in between destroys them
// (TestRedisBrokerStartRacesMaintenance); tests about something else announce their nodes first so
// that race cannot make them flaky.
func (b redisBundle) announce(t *testing.T, nodes ...string) {
	t.Helper()
	for _, node := range nodes {
		require.NoError(t, b.client.Set(context.Background(), b.ns+":node:"+node, "test", time.Minute).Err())
	}
}

func totalPending(broker *testRedisNode) int64 {
	pending, err := broker.PendingEntries(context.Background())
	if err != nil {
		return -1
	}
	var n int64
	for _, p := range pending {
		n += p
	}
	return n
}

func envelope(conv uuid.UUID, seq int64) Envelope {
	return Envelope{
		ConversationID: conv, Seq: seq,
		Payload:     fmt.Appendf(nil, `{"conversation_id":%q,"seq":%d,"type":"message.created"}`, conv, seq),
		CommittedAt: time.Now().Truncate(time.Microsecond),
	}
}

// bySeq groups envelopes by conversation, keeping their order.
func bySeq(envs []Envelope) map[uuid.UUID][]int64 {
	out := make(map[uuid.UUID][]int64)
	for _, e := range envs {
		out[e.ConversationID] = append(out[e.ConversationID], e.Seq)
	}
	return out
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestRedisBrokerFansOutToEveryNode(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	rb.announce(t, "node-a", "node-b")
	sinkA, sinkB := &recordingSink{}, &recordingSink{}
	a := rb.startBroker(t, rb.config("node-a"), sinkA)
	nodeB := rb.startBroker(t, rb.config("node-b"), sinkB)

	convs := []uuid.UUID{uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()}
	var sent []Envelope
	for seq := int64(1); seq <= 20; seq++ {
		var batch []Envelope
		for _, conv := range convs {
			batch = append(batch, envelope(conv, seq))
		}
		require.NoError(t, a.Publish(context.Background(), batch))
		sent = append(sent, batch...)
	}

	for name, sink := range map[string]*recordingSink{"node-a": sinkA, "node-b": sinkB} {
		require.Eventuallyf(t, func() bool { return sink.deliveredCount() >= len(sent) }, 10*time.Second, 10*time.Millisecond,
			"%s receives every envelope", name)
		_, delivered, _ := sink.snapshot()
		require.Len(t, delivered, len(sent), name)
		got := bySeq(delivered)
		for _, conv := range convs {
			require.Equalf(t, seqRange(1, 20), got[conv], "%s: conversation %s in publish order", name, conv)
		}
		for _, env := range delivered {
			want := sent[slices.IndexFunc(sent, func(e Envelope) bool { return e.ConversationID == env.ConversationID && e.Seq == env.Seq })]
			require.Equal(t, string(want.Payload), string(env.Payload))
			require.True(t, want.CommittedAt.Equal(env.CommittedAt), "committed at %v, got %v", want.CommittedAt, env.CommittedAt)
		}
	}
	for name, broker := range map[string]*testRedisNode{"node-a": a, "node-b": nodeB} {
		require.Eventuallyf(t, func() bool { return totalPending(broker) == 0 }, 5*time.Second, 10*time.Millisecond,
			"%s acknowledges what it delivered", name)
	}
}

func TestRedisBrokerRestartRedeliversPending(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	cfg := rb.config("node-a")
	// Maintenance must not reclaim the entries here: what delivers them is the restarted node
	// reading its own pending list.
	cfg.ClaimIdle = time.Minute
	conv := uuid.New()

	refusing := &recordingSink{refuse: errors.New("hub refuses")}
	first := rb.startBroker(t, cfg, refusing)
	require.NoError(t, first.Publish(context.Background(), []Envelope{envelope(conv, 1), envelope(conv, 2), envelope(conv, 3)}))
	require.Eventually(t, func() bool {
		attempts, _, _ := refusing.snapshot()
		return attempts >= 3
	}, 5*time.Second, 10*time.Millisecond, "the refused entries were read")
	require.Equal(t, int64(3), totalPending(first))
	// The node dies with its entries unacknowledged.
	require.NoError(t, first.Stop())
	require.NoError(t, first.Close())

	accepting := &recordingSink{}
	second := rb.newBroker(t, cfg)
	require.Equal(t, int64(3), totalPending(second), "still pending after the node stopped")
	require.NoError(t, second.Start(context.Background(), accepting))
	require.Eventually(t, func() bool { return accepting.deliveredCount() >= 3 }, 5*time.Second, 10*time.Millisecond,
		"the restarted node delivers its pending entries")
	_, delivered, _ := accepting.snapshot()
	require.Equal(t, []int64{1, 2, 3}, bySeq(delivered)[conv])
	require.Eventually(t, func() bool { return totalPending(second) == 0 }, 5*time.Second, 10*time.Millisecond)

	// Live entries flow after the pending ones.
	require.NoError(t, second.Publish(context.Background(), []Envelope{envelope(conv, 4)}))
	require.Eventually(t, func() bool { return accepting.deliveredCount() >= 4 }, 5*time.Second, 10*time.Millisecond)
	_, delivered, _ = accepting.snapshot()
	require.Equal(t, []int64{1, 2, 3, 4}, bySeq(delivered)[conv])
	_, accepted, _ := refusing.snapshot()
	require.Empty(t, accepted)
}

func TestRedisBrokerRetriesRefusedDelivery(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	sink := &recordingSink{refuse: errors.New("hub busy")}
	broker := rb.startBroker(t, rb.config("node-a"), sink)
	conv := uuid.New()
	require.NoError(t, broker.Publish(context.Background(), []Envelope{envelope(conv, 1), envelope(conv, 2)}))
	require.Eventually(t, func() bool {
		attempts, _, _ := sink.snapshot()
		return attempts >= 2
	}, 5*time.Second, 10*time.Millisecond, "the entries were read and refused")

	sink.mu.Lock()
	sink.refuse = nil
	sink.mu.Unlock()
	require.Eventually(t, func() bool { return sink.deliveredCount() >= 2 }, 10*time.Second, 10*time.Millisecond,
		"maintenance delivers the pending entries again once they have been idle for ClaimIdle")
	_, delivered, _ := sink.snapshot()
	require.Equal(t, []int64{1, 2}, bySeq(delivered)[conv])
	require.Eventually(t, func() bool { return totalPending(broker) == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestRedisBrokerDeadLetters(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	cfg := rb.config("node-a")
	sink := &recordingSink{refuse: errors.New("cannot decode")}
	broker := rb.startBroker(t, cfg, sink)
	conv := uuid.New()
	env := envelope(conv, 7)
	require.NoError(t, broker.Publish(context.Background(), []Envelope{env}))

	dead := rb.ns + ":events:dead"
	require.Eventually(t, func() bool {
		n, err := rb.client.XLen(context.Background(), dead).Result()
		return err == nil && n == 1
	}, 15*time.Second, 20*time.Millisecond, "moved to %s", dead)
	require.Eventually(t, func() bool { return totalPending(broker) == 0 }, 5*time.Second, 10*time.Millisecond,
		"the dead-lettered entry is acknowledged")

	msgs, err := rb.client.XRange(context.Background(), dead, "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	values := msgs[0].Values
	require.Equal(t, "node:node-a", values["group"])
	require.Equal(t, conv.String(), values["c"])
	require.Equal(t, "7", values["s"])
	require.Equal(t, string(env.Payload), values["p"])
	require.Contains(t, broker.keys.streams, values["stream"])
	original, err := rb.client.XRange(context.Background(), values["stream"].(string), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, original, 1)
	require.Equal(t, original[0].ID, values["id"])

	attempts, delivered, _ := sink.snapshot()
	require.Equal(t, int(cfg.MaxDeliveries), attempts, "delivered MaxDeliveries times, then dead-lettered")
	require.Empty(t, delivered)
}

// groupsOn names the consumer groups of a stream, sorted; nil when Redis does not answer. It does
// not fail the test, so Eventually conditions can call it.
func groupsOn(client *redis.Client, stream string) []string {
	groups, err := client.XInfoGroups(context.Background(), stream).Result()
	if err != nil {
		return nil
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	return names
}

func TestRedisBrokerRemovesGroupsOfGoneNodes(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	rb.announce(t, "node-a", "node-b", "node-c")
	rb.startBroker(t, rb.config("node-a"), &recordingSink{})
	rb.startBroker(t, rb.config("node-c"), &recordingSink{})
	gone := rb.startBroker(t, rb.config("node-b"), &recordingSink{})
	streams := gone.keys.streams
	require.Len(t, streams, 4)
	for _, s := range streams {
		require.Equal(t, []string{"node:node-a", "node:node-b", "node:node-c"}, groupsOn(rb.client, s))
	}

	// node-b goes away: it stops, and its heartbeat expires (deleted here rather than waited for).
	require.NoError(t, gone.Stop())
	require.NoError(t, gone.Close())
	require.NoError(t, rb.client.Del(context.Background(), rb.ns+":node:node-b").Err())

	require.Eventually(t, func() bool {
		for _, s := range streams {
			if slices.Contains(groupsOn(rb.client, s), "node:node-b") {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "the gone node's groups are destroyed")
	for _, s := range streams {
		require.Equal(t, []string{"node:node-a", "node:node-c"}, groupsOn(rb.client, s), "live nodes keep their groups")
	}
	for _, node := range []string{"node-a", "node-c"} {
		n, err := rb.client.Exists(context.Background(), rb.ns+":node:"+node).Result()
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "%s heartbeats", node)
	}
}

// startupHook, on the client of a starting node, runs another node's removal of gone groups just
// before the starting node sets its heartbeat key for the first time: the moment at which a node
// already running may do its maintenance. It also holds the starting node's stream reads until
// the test opens the gate, so the test sees the groups as Start left them.
type startupHook struct {
	key   string
	other *testRedisNode
	once  sync.Once
	gate  chan struct{}
}

func (h *startupHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *startupHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *startupHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch args := cmd.Args(); {
		case cmd.Name() == "set" && len(args) > 1 && args[1] == h.key:
			h.once.Do(func() {
				for _, s := range h.other.keys.streams {
					_ = h.other.consumer.removeGoneGroups(ctx, s)
				}
			})
		case cmd.Name() == "xreadgroup":
			select {
			case <-h.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return next(ctx, cmd)
	}
}

// TestRedisBrokerStartRacesMaintenance: a node that starts while another runs must keep its
// consumer groups, and receive what is published once Start has returned. Start creates the groups
// before the first heartbeat, so maintenance of a running node in between takes the new node for
// gone and destroys its groups; the new node then recreates them at "$" on NOGROUP, and what was
// published meanwhile never reaches it.
func TestRedisBrokerStartRacesMaintenance(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	rb.announce(t, "node-a")
	running := rb.startBroker(t, rb.config("node-a"), &recordingSink{})

	sink := &recordingSink{}
	starting := rb.newBroker(t, rb.config("node-b"))
	hook := &startupHook{key: rb.ns + ":node:node-b", other: running, gate: make(chan struct{})}
	starting.client.AddHook(hook)
	require.NoError(t, starting.Start(context.Background(), sink))

	var missing []string
	for _, s := range starting.keys.streams {
		if !slices.Contains(groupsOn(rb.client, s), "node:node-b") {
			missing = append(missing, s)
		}
	}
	conv := uuid.New()
	require.NoError(t, running.Publish(context.Background(), []Envelope{envelope(conv, 1), envelope(conv, 2)}))
	close(hook.gate)
	require.Eventually(t, func() bool { return sink.deliveredCount() >= 2 }, 3*time.Second, 10*time.Millisecond,
		"what is published after Start reaches the new node (its groups were destroyed on %v)", missing)
	require.Empty(t, missing, "the starting node's groups were destroyed")
}

// Redis restarted without persistence has lost the streams, the node's groups and whatever the
// node had not read yet. The broker makes its groups again and asks the sink to read back from
// the log what it may have missed (Hub.CatchUp), then goes on with new entries.
func TestRedisBrokerCatchesUpWhenRedisLosesItsStreams(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	rb.announce(t, "node-a")
	sink := &recordingSink{}
	broker := rb.startBroker(t, rb.config("node-a"), sink)
	conv := uuid.New()
	require.NoError(t, broker.Publish(context.Background(), []Envelope{envelope(conv, 1)}))
	require.Eventually(t, func() bool { return sink.deliveredCount() == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Zero(t, sink.catchUpCount(), "nothing lost, nothing to read back")

	require.NoError(t, rb.client.Del(context.Background(), broker.keys.streams...).Err(), "Redis comes back empty")
	require.Eventually(t, func() bool { return sink.catchUpCount() == 1 }, 10*time.Second, 10*time.Millisecond,
		"the broker asks the sink to read back what Redis lost")
	for _, s := range broker.keys.streams {
		require.Equal(t, []string{"node:node-a"}, groupsOn(rb.client, s), "the group is made again")
	}
	require.NoError(t, broker.Publish(context.Background(), []Envelope{envelope(conv, 2)}))
	require.Eventually(t, func() bool { return sink.deliveredCount() == 2 }, 5*time.Second, 10*time.Millisecond)
	_, delivered, _ := sink.snapshot()
	require.Equal(t, []int64{1, 2}, bySeq(delivered)[conv])
	require.Equal(t, 1, sink.catchUpCount())
}

func TestRedisBrokerSignalReachesEveryNode(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	sinkA, sinkB := &recordingSink{}, &recordingSink{}
	a := rb.startBroker(t, rb.config("node-a"), sinkA)
	rb.startBroker(t, rb.config("node-b"), sinkB)
	// A node that only publishes (never started) signals too.
	publisher := rb.newBroker(t, rb.config("publisher"))

	typing := Signal{ConversationID: uuid.New(), UserID: "alice", SkipUser: true, Frame: []byte(`{"type":"typing","user_id":"alice"}`)}
	read := Signal{ConversationID: uuid.New(), UserID: "bob", Frame: []byte(`{"type":"read","user_id":"bob","seq":3}`)}
	require.NoError(t, a.Signal(context.Background(), typing))
	require.NoError(t, publisher.Signal(context.Background(), read))

	for name, sink := range map[string]*recordingSink{"node-a": sinkA, "node-b": sinkB} {
		require.Eventuallyf(t, func() bool {
			_, _, signals := sink.snapshot()
			return len(signals) >= 2
		}, 5*time.Second, 10*time.Millisecond, "%s receives both signals", name)
		_, _, signals := sink.snapshot()
		require.Equal(t, []Signal{typing, read}, signals, name)
	}
}

func TestRedisBrokerShardsByConversation(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	broker := rb.newBroker(t, rb.config("node-a"))
	used := make(map[string]bool)
	for range 200 {
		conv := uuid.New()
		s := broker.keys.streamFor(conv)
		require.Equal(t, s, broker.keys.streamFor(conv), "a conversation keeps its shard")
		used[s] = true
	}
	require.Len(t, used, 4, "conversations spread over every shard")
	for i, s := range broker.keys.streams {
		require.Equal(t, rb.ns+":events:{"+strconv.Itoa(i)+"}", s)
	}
}

// A node whose Redis is down when it starts still starts; its consumer connects once Redis comes,
// has the sink read back what it may have missed, and receives what is published from then on.
func TestRedisConsumerStartsWithoutRedisAndConnectsWhenItComes(t *testing.T) {
	t.Parallel()
	redisServer := redistest.NewProcess(t) // not started: Redis is down
	cfg := DefaultRedisConfig(redisServer.URL(), "node-a")
	cfg.Shards = 2
	cfg.Block = 100 * time.Millisecond
	opts, err := redis.ParseURL(cfg.URL)
	require.NoError(t, err)
	client := redis.NewClient(opts)
	defer client.Close()
	publisher, err := NewRedisPublisher(client, cfg)
	require.NoError(t, err)
	sink := &recordingSink{}
	consumer, err := NewRedisConsumer(client, cfg, sink, NewMetrics(prometheus.NewRegistry()), testLogger())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	require.NoError(t, consumer.Start(ctx), "the node starts without Redis")
	require.Error(t, publisher.Publish(ctx, []Envelope{envelope(uuid.New(), 1)}), "Redis is down")
	require.NoError(t, redisServer.Start(ctx))
	require.Eventually(t, func() bool { return sink.catchUpCount() == 1 }, 20*time.Second, 10*time.Millisecond,
		"once connected, the sink reads back what the streams may have carried before the groups")
	conv := uuid.New()
	require.NoError(t, publisher.Publish(ctx, []Envelope{envelope(conv, 1), envelope(conv, 2)}))
	require.Eventually(t, func() bool { return sink.deliveredCount() == 2 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, consumer.Stop(ctx))
}

// A consumer stopped while Redis is still down stops at once, leaving nothing behind.
func TestRedisConsumerStopsWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	cfg := DefaultRedisConfig("redis://127.0.0.1:1/0?max_retries=-1", "node-a")
	opts, err := redis.ParseURL(cfg.URL)
	require.NoError(t, err)
	client := redis.NewClient(opts)
	defer client.Close()
	consumer, err := NewRedisConsumer(client, cfg, &recordingSink{}, NewMetrics(prometheus.NewRegistry()), testLogger())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, consumer.Start(ctx))
	require.NoError(t, consumer.Stop(ctx))
}

func TestRedisBrokerStopBeforeStart(t *testing.T) {
	t.Parallel()
	rb := setupRedis(t)
	broker := rb.newBroker(t, rb.config("node-a"))
	require.NoError(t, broker.Stop())
	require.NoError(t, broker.Stop())
}
