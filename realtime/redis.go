package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

const groupPrefix = "node:"

// RedisBroker publishes events to Redis Streams and reads them back on every node: each node has
// its own consumer group on every shard stream, acknowledges entries once its hub has them, and
// re-reads its pending entries after a restart. Signals go over pub/sub on a dedicated connection.
type RedisBroker struct {
	cfg     RedisConfig
	client  *redis.Client
	metrics *Metrics
	logger  *slog.Logger
	streams []string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewRedisBroker connects to Redis, failing fast when it is unreachable.
func NewRedisBroker(ctx context.Context, cfg RedisConfig, metrics *Metrics, logger *slog.Logger) (*RedisBroker, error) {
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse redis URL: %w", err)
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("connect to redis: %w", err)
	}
	b := &RedisBroker{cfg: cfg, client: client, metrics: metrics, logger: logger, cancel: func() {}}
	for i := range cfg.Shards {
		// The hash tag differs per shard, so Redis Cluster can spread the streams.
		b.streams = append(b.streams, fmt.Sprintf("%s:events:{%d}", cfg.Namespace, i))
	}
	return b, nil
}

func (b *RedisBroker) group() string { return groupPrefix + b.cfg.NodeID }

func (b *RedisBroker) signalsChannel() string { return b.cfg.Namespace + ":signals" }

func (b *RedisBroker) deadLetterStream() string { return b.cfg.Namespace + ":events:dead" }

func (b *RedisBroker) nodeKey(node string) string { return b.cfg.Namespace + ":node:" + node }

func (b *RedisBroker) streamFor(id uuid.UUID) string {
	h := fnv.New32a()
	h.Write(id[:])
	return b.streams[h.Sum32()%uint32(len(b.streams))]
}

// Publish appends the batch to the shard streams in one round trip.
func (b *RedisBroker) Publish(ctx context.Context, batch []Envelope) error {
	pipe := b.client.Pipeline()
	for _, env := range batch {
		pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: b.streamFor(env.ConversationID), MaxLen: b.cfg.MaxLen, Approx: true,
			Values: []any{"c", env.ConversationID.String(), "s", env.Seq, "t", env.CommittedAt.UnixMicro(), "p", env.Payload},
		})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("xadd: %w", err)
	}
	return nil
}

// Signal publishes an ephemeral signal to every node.
func (b *RedisBroker) Signal(ctx context.Context, s Signal) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.client.Publish(ctx, b.signalsChannel(), data).Err()
}

// Ping reports whether Redis answers; readiness uses it.
func (b *RedisBroker) Ping(ctx context.Context) error { return b.client.Ping(ctx).Err() }

// Client is the broker's Redis client, for the node's other uses of the same Redis (rate limits).
// The broker owns it: it closes with the broker.
func (b *RedisBroker) Client() *redis.Client { return b.client }

// Start creates this node's groups, subscribes to signals and starts consuming into sink.
func (b *RedisBroker) Start(ctx context.Context, sink Sink) error {
	// The heartbeat first: another node's maintenance removes groups of nodes without one.
	if err := b.heartbeat(ctx); err != nil {
		return err
	}
	if err := b.ensureGroups(ctx); err != nil {
		return err
	}
	pubsub := b.client.Subscribe(ctx, b.signalsChannel())
	if _, err := pubsub.Receive(ctx); err != nil {
		pubsub.Close()
		return fmt.Errorf("subscribe to signals: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancel = cancel
	b.wg.Go(func() {
		<-runCtx.Done()
		pubsub.Close()
	})
	b.wg.Go(func() {
		for msg := range pubsub.Channel() {
			var s Signal
			if err := json.Unmarshal([]byte(msg.Payload), &s); err != nil {
				b.logger.Warn("redis: bad signal", "error", err)
				continue
			}
			sink.DeliverSignal(s)
		}
	})
	b.wg.Go(func() { b.consume(runCtx, sink) })
	return nil
}

// Stop ends consuming and waits. Safe before Start and twice.
func (b *RedisBroker) Stop() {
	b.cancel()
	b.wg.Wait()
}

// Close closes the Redis client; call after Stop.
func (b *RedisBroker) Close() error { return b.client.Close() }

func (b *RedisBroker) ensureGroups(ctx context.Context) error {
	for _, s := range b.streams {
		err := b.client.XGroupCreateMkStream(ctx, s, b.group(), "$").Err()
		if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("create consumer group on %s: %w", s, err)
		}
	}
	return nil
}

func (b *RedisBroker) heartbeat(ctx context.Context) error {
	if err := b.client.Set(ctx, b.nodeKey(b.cfg.NodeID), time.Now().UTC().Format(time.RFC3339), b.cfg.NodeGoneAfter).Err(); err != nil {
		return fmt.Errorf("node heartbeat: %w", err)
	}
	return nil
}

// consume reads this node's pending entries first (those of a previous run, from the start of
// its pending list), then new ones.
func (b *RedisBroker) consume(ctx context.Context, sink Sink) {
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	from := repeat("0", len(b.streams)) // pending phase: read the pending list after these ids
	caughtUp := true                    // false while what Redis lost is still to be read back
	var lastMaintenance time.Time
	for ctx.Err() == nil {
		if time.Since(lastMaintenance) > b.maintenanceInterval() {
			b.maintain(ctx, sink)
			lastMaintenance = time.Now()
		}
		if !caughtUp {
			caughtUp = b.catchUp(ctx, sink)
		}
		args := &redis.XReadGroupArgs{Group: b.group(), Consumer: b.cfg.NodeID, Count: 256, Block: b.cfg.Block}
		if from != nil {
			args.Streams = append(append(args.Streams, b.streams...), from...)
			args.Block = -1 // the pending list is there or not: do not wait
		} else {
			args.Streams = append(append(args.Streams, b.streams...), repeat(">", len(b.streams))...)
		}
		res, err := b.client.XReadGroup(ctx, args).Result()
		if errors.Is(err, redis.Nil) {
			from = nil
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				// Redis lost the stream (a restart without persistence): make the group again.
				// What was added before it, and what this node had not read when Redis lost it,
				// will never be read from the stream: the sink reads it back from the log.
				if b.heartbeat(ctx) == nil && b.ensureGroups(ctx) == nil {
					caughtUp = b.catchUp(ctx, sink)
				}
			}
			b.logger.Warn("redis: read streams", "error", err)
			backoff.wait(ctx)
			continue
		}
		backoff.reset()
		n := b.handle(ctx, sink, res)
		if from != nil {
			if n == 0 {
				from = nil // pending list done: on to new entries
				continue
			}
			for _, stream := range res {
				if len(stream.Messages) > 0 {
					from[slices.Index(b.streams, stream.Stream)] = stream.Messages[len(stream.Messages)-1].ID
				}
			}
		}
	}
}

// catchUp asks the sink to read back from the log what Redis lost, and reports whether it did.
func (b *RedisBroker) catchUp(ctx context.Context, sink Sink) bool {
	if err := sink.CatchUp(ctx); err != nil {
		if ctx.Err() == nil {
			b.logger.Warn("redis: read back from the log what Redis lost", "error", err)
		}
		return false
	}
	return true
}

func (b *RedisBroker) maintenanceInterval() time.Duration { return max(b.cfg.ClaimIdle/3, time.Second) }

// handle delivers read entries to the sink and acknowledges them; it returns how many it read.
// Entries that cannot be decoded, or whose delivery fails, stay pending: maintenance tries them
// again and, after MaxDeliveries, moves them to the dead-letter stream.
func (b *RedisBroker) handle(ctx context.Context, sink Sink, res []redis.XStream) int {
	n := 0
	for _, stream := range res {
		n += len(stream.Messages)
		batch := make([]Envelope, 0, len(stream.Messages))
		ids := make([]string, 0, len(stream.Messages))
		for _, msg := range stream.Messages {
			env, err := decodeEntry(msg)
			if err != nil {
				b.logger.Error("redis: undecodable stream entry", "stream", stream.Stream, "id", msg.ID, "error", err)
				continue
			}
			batch = append(batch, env)
			ids = append(ids, msg.ID)
		}
		if len(batch) == 0 {
			continue
		}
		if err := sink.Deliver(ctx, batch); err != nil {
			b.logger.Warn("redis: deliver to hub", "stream", stream.Stream, "error", err)
			continue
		}
		if err := b.client.XAck(ctx, stream.Stream, b.group(), ids...).Err(); err != nil && ctx.Err() == nil {
			b.logger.Warn("redis: acknowledge", "stream", stream.Stream, "error", err)
		}
	}
	return n
}

func decodeEntry(msg redis.XMessage) (Envelope, error) {
	str := func(k string) string { s, _ := msg.Values[k].(string); return s }
	id, err := uuid.Parse(str("c"))
	if err != nil {
		return Envelope{}, fmt.Errorf("conversation id: %w", err)
	}
	seq, err := strconv.ParseInt(str("s"), 10, 64)
	if err != nil {
		return Envelope{}, fmt.Errorf("seq: %w", err)
	}
	micros, _ := strconv.ParseInt(str("t"), 10, 64)
	payload := str("p")
	if payload == "" {
		return Envelope{}, errors.New("no payload")
	}
	return Envelope{ConversationID: id, Seq: seq, Payload: []byte(payload), CommittedAt: time.UnixMicro(micros)}, nil
}

// maintain refreshes the node's heartbeat, retries or dead-letters entries left pending too long,
// and removes the groups of nodes that are gone.
func (b *RedisBroker) maintain(ctx context.Context, sink Sink) {
	if err := b.heartbeat(ctx); err != nil {
		if ctx.Err() == nil {
			b.logger.Warn("redis: maintenance", "error", err)
		}
		return
	}
	for _, stream := range b.streams {
		if err := b.retryPending(ctx, sink, stream); err != nil && ctx.Err() == nil {
			b.logger.Warn("redis: retry pending", "stream", stream, "error", err)
		}
		if err := b.removeGoneGroups(ctx, stream); err != nil && ctx.Err() == nil {
			b.logger.Warn("redis: remove groups of gone nodes", "stream", stream, "error", err)
		}
	}
}

func (b *RedisBroker) retryPending(ctx context.Context, sink Sink, stream string) error {
	pending, err := b.client.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: stream, Group: b.group(), Idle: b.cfg.ClaimIdle, Start: "-", End: "+", Count: 100,
	}).Result()
	if err != nil {
		return err
	}
	var retry []string
	for _, p := range pending {
		if p.RetryCount < b.cfg.MaxDeliveries {
			retry = append(retry, p.ID)
			continue
		}
		if err := b.deadLetter(ctx, stream, p.ID); err != nil {
			return err
		}
	}
	if len(retry) == 0 {
		return nil
	}
	msgs, err := b.client.XClaim(ctx, &redis.XClaimArgs{
		Stream: stream, Group: b.group(), Consumer: b.cfg.NodeID, MinIdle: b.cfg.ClaimIdle, Messages: retry,
	}).Result()
	if err != nil {
		return err
	}
	b.metrics.streamReclaims.Add(float64(len(msgs)))
	b.handle(ctx, sink, []redis.XStream{{Stream: stream, Messages: msgs}})
	return nil
}

func (b *RedisBroker) deadLetter(ctx context.Context, stream, id string) error {
	msgs, err := b.client.XRangeN(ctx, stream, id, id, 1).Result()
	if err != nil {
		return err
	}
	values := []any{"stream", stream, "id", id, "group", b.group()}
	for _, m := range msgs {
		for k, v := range m.Values {
			values = append(values, k, v)
		}
	}
	pipe := b.client.TxPipeline()
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: b.deadLetterStream(), MaxLen: b.cfg.MaxLen, Approx: true, Values: values})
	pipe.XAck(ctx, stream, b.group(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	b.metrics.streamDeadLetter.Inc()
	b.logger.Error("redis: entry moved to the dead-letter stream", "stream", stream, "id", id, "dead_letter_stream", b.deadLetterStream())
	return nil
}

// removeGoneGroups destroys the groups of nodes whose heartbeat has expired, so their pending
// entries do not pin stream memory forever.
func (b *RedisBroker) removeGoneGroups(ctx context.Context, stream string) error {
	groups, err := b.client.XInfoGroups(ctx, stream).Result()
	if err != nil {
		return err
	}
	for _, g := range groups {
		node, ok := strings.CutPrefix(g.Name, groupPrefix)
		if !ok || node == b.cfg.NodeID {
			continue
		}
		alive, err := b.client.Exists(ctx, b.nodeKey(node)).Result()
		if err != nil {
			return err
		}
		if alive == 0 {
			if err := b.client.XGroupDestroy(ctx, stream, g.Name).Err(); err != nil {
				return err
			}
			b.logger.Info("redis: removed the consumer group of a gone node", "stream", stream, "group", g.Name)
		}
	}
	return nil
}

// PendingEntries reports, per shard stream, how many entries this node has not acknowledged.
func (b *RedisBroker) PendingEntries(ctx context.Context) (map[string]int64, error) {
	out := make(map[string]int64, len(b.streams))
	for _, s := range b.streams {
		p, err := b.client.XPending(ctx, s, b.group()).Result()
		if err != nil {
			return nil, err
		}
		out[s] = p.Count
	}
	return out, nil
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// backoff is an exponential, cancellable wait between retries.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max, cur: min} }

func (b *backoff) reset() { b.cur = b.min }

func (b *backoff) wait(ctx context.Context) {
	t := time.NewTimer(b.cur)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	b.cur = min(b.cur*2, b.max)
}
