package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/internal/lifecycle"
	"github.com/parleyhq/parley/internal/telemetry"
)

const groupPrefix = "node:"

// connectAtStartTimeout bounds Start's own try at Redis; later tries run in the background.
const connectAtStartTimeout = 5 * time.Second

// RedisConsumer is the consuming half of the Redis broker, a lifecycle service: each node has its
// own consumer group on every shard stream, hands what it reads to its hub (the sink),
// acknowledges entries once the hub has them, and re-reads its pending entries after a restart.
// Signals arrive over pub/sub on a dedicated connection.
type RedisConsumer struct {
	cfg     RedisConfig
	keys    redisKeys
	client  *redis.Client
	sink    Sink
	metrics *Metrics
	logger  *slog.Logger
	life    lifecycle.Base
}

// NewRedisConsumer returns a stopped consumer reading into sink over client, which the caller
// owns.
func NewRedisConsumer(client *redis.Client, cfg RedisConfig, sink Sink, metrics *Metrics, logger *slog.Logger) (*RedisConsumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("redis consumer: %w", err)
	}
	return &RedisConsumer{cfg: cfg, keys: newRedisKeys(cfg), client: client, sink: sink, metrics: metrics, logger: logger}, nil
}

func (b *RedisConsumer) group() string { return groupPrefix + b.cfg.NodeID }

// Start announces the node, creates its groups and subscribes to signals, so that what is
// published once it has returned reaches this node, then consumes. When Redis does not answer
// (down when the node starts, say) Start still succeeds: the node runs degraded, sends succeed and
// the outbox holds their events, while the consumer keeps trying, logging each failure; once it
// connects, the sink reads back from the log what the streams carried before the groups existed.
func (b *RedisConsumer) Start(ctx context.Context) error {
	return b.life.Start("redis consumer", func(run *lifecycle.Run) error {
		// Bounded: a Redis that drops packets must not hold up the start of a node that can run
		// without it.
		startCtx, cancel := context.WithTimeout(ctx, connectAtStartTimeout)
		pubsub, err := b.connect(startCtx)
		cancel()
		if err != nil {
			b.logger.Warn("redis: not reachable at start; the node runs alone, events wait in the outbox", "error", err)
		}
		run.Go(func(ctx context.Context) {
			caughtUp := pubsub != nil
			if pubsub == nil {
				if pubsub = b.reconnect(ctx); pubsub == nil {
					return // stopped before Redis answered
				}
			}
			if !run.Go(func(ctx context.Context) { <-ctx.Done(); pubsub.Close() }) {
				pubsub.Close()
				return
			}
			run.Go(func(context.Context) { b.receiveSignals(pubsub) })
			b.consume(ctx, caughtUp)
		})
		return nil
	})
}

// connect announces the node, makes its groups and subscribes to signals.
func (b *RedisConsumer) connect(ctx context.Context) (*redis.PubSub, error) {
	// The heartbeat first: another node's maintenance removes groups of nodes without one.
	if err := b.heartbeat(ctx); err != nil {
		return nil, err
	}
	if err := b.ensureGroups(ctx); err != nil {
		return nil, err
	}
	pubsub := b.client.Subscribe(ctx, b.keys.signalsChannel())
	if _, err := pubsub.Receive(ctx); err != nil {
		pubsub.Close()
		return nil, fmt.Errorf("subscribe to signals: %w", err)
	}
	return pubsub, nil
}

// reconnect retries connect with backoff until Redis answers, or returns nil once ctx ends.
func (b *RedisConsumer) reconnect(ctx context.Context) *redis.PubSub {
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	for try := 2; ; try++ { // the first was Start's
		backoff.wait(ctx)
		pubsub, err := b.connect(ctx)
		if ctx.Err() != nil {
			if pubsub != nil {
				pubsub.Close()
			}
			return nil
		}
		if err == nil {
			b.logger.Info("redis: connected; events flow between nodes again", "tries", try)
			return pubsub
		}
		b.logger.Warn("redis: still not reachable; events wait in the outbox", "try", try, "error", err)
	}
}

// Stop ends consuming and waits.
func (b *RedisConsumer) Stop(ctx context.Context) error { return b.life.Stop(ctx, nil) }

// receiveSignals hands signals to the sink until the subscription is closed.
func (b *RedisConsumer) receiveSignals(pubsub *redis.PubSub) {
	for msg := range pubsub.Channel() {
		var s Signal
		if err := json.Unmarshal([]byte(msg.Payload), &s); err != nil {
			b.logger.Warn("redis: bad signal", "error", err)
			continue
		}
		b.sink.DeliverSignal(s)
	}
}

// consume reads this node's pending entries first (those of a previous run, from the start of
// its pending list), then new ones. Unless caughtUp, it first has the sink read back from the log
// what the streams may have missed.
func (b *RedisConsumer) consume(ctx context.Context, caughtUp bool) {
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	from := repeat("0", len(b.keys.streams)) // pending phase: read the pending list after these ids
	var lastMaintenance time.Time
	for ctx.Err() == nil {
		if time.Since(lastMaintenance) > b.maintenanceInterval() {
			b.maintain(ctx)
			lastMaintenance = time.Now()
		}
		if !caughtUp {
			caughtUp = b.catchUp(ctx)
		}
		args := &redis.XReadGroupArgs{Group: b.group(), Consumer: b.cfg.NodeID, Count: 256, Block: b.cfg.Block}
		if from != nil {
			args.Streams = append(append(args.Streams, b.keys.streams...), from...)
			args.Block = -1 // the pending list is there or not: do not wait
		} else {
			args.Streams = append(append(args.Streams, b.keys.streams...), repeat(">", len(b.keys.streams))...)
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
					caughtUp = b.catchUp(ctx)
				}
			}
			b.logger.Warn("redis: read streams", "error", err)
			backoff.wait(ctx)
			continue
		}
		backoff.reset()
		n := b.handle(ctx, res)
		if from != nil {
			if n == 0 {
				from = nil // pending list done: on to new entries
				continue
			}
			for _, stream := range res {
				if len(stream.Messages) > 0 {
					from[slices.Index(b.keys.streams, stream.Stream)] = stream.Messages[len(stream.Messages)-1].ID
				}
			}
		}
	}
}

// catchUp asks the sink to read back from the log what Redis lost, and reports whether it did.
func (b *RedisConsumer) catchUp(ctx context.Context) bool {
	if err := b.sink.CatchUp(ctx); err != nil {
		if ctx.Err() == nil {
			b.logger.Warn("redis: read back from the log what Redis lost", "error", err)
		}
		return false
	}
	return true
}

func (b *RedisConsumer) maintenanceInterval() time.Duration {
	return max(b.cfg.ClaimIdle/3, time.Second)
}

// handle delivers read entries to the sink and acknowledges them; it returns how many it read.
// Entries that cannot be decoded, or whose delivery fails, stay pending: maintenance tries them
// again and, after MaxDeliveries, moves them to the dead-letter stream.
func (b *RedisConsumer) handle(ctx context.Context, res []redis.XStream) int {
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
		if err := b.sink.Deliver(ctx, batch); err != nil {
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
	return Envelope{
		ConversationID: id, Seq: seq, Payload: []byte(payload), CommittedAt: time.UnixMicro(micros),
		Trace: telemetry.ParseTraceParent(str("tc")),
	}, nil
}

// PendingEntries reports, per shard stream, how many entries this node has not acknowledged.
func (b *RedisConsumer) PendingEntries(ctx context.Context) (map[string]int64, error) {
	out := make(map[string]int64, len(b.keys.streams))
	for _, s := range b.keys.streams {
		p, err := b.client.XPending(ctx, s, b.group()).Result()
		if err != nil {
			return nil, err
		}
		out[s] = p.Count
	}
	return out, nil
}
