package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/internal/telemetry"
)

// redisKeys names a deployment's keys and channels in Redis: one stream per shard (each with a
// hash tag of its own, so Redis Cluster can spread them), the dead-letter stream, the signals
// channel and the nodes' heartbeat keys.
type redisKeys struct {
	namespace string
	streams   []string
}

func newRedisKeys(cfg RedisConfig) redisKeys {
	k := redisKeys{namespace: cfg.Namespace}
	for i := range cfg.Shards {
		k.streams = append(k.streams, fmt.Sprintf("%s:events:{%d}", cfg.Namespace, i))
	}
	return k
}

func (k redisKeys) signalsChannel() string { return k.namespace + ":signals" }

func (k redisKeys) deadLetterStream() string { return k.namespace + ":events:dead" }

func (k redisKeys) nodeKey(node string) string { return k.namespace + ":node:" + node }

func (k redisKeys) streamFor(id uuid.UUID) string {
	h := fnv.New32a()
	h.Write(id[:])
	return k.streams[h.Sum32()%uint32(len(k.streams))]
}

// RedisPublisher is the producing half of the Redis broker: the dispatcher publishes events to
// the shard streams through it, and the hub sends signals to every node. It holds no goroutine.
type RedisPublisher struct {
	client *redis.Client
	keys   redisKeys
	maxLen int64
}

// NewRedisPublisher returns a publisher over client, which the caller owns.
func NewRedisPublisher(client *redis.Client, cfg RedisConfig) (*RedisPublisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("redis publisher: %w", err)
	}
	return &RedisPublisher{client: client, keys: newRedisKeys(cfg), maxLen: cfg.MaxLen}, nil
}

// Publish appends the batch to the shard streams in one round trip.
func (p *RedisPublisher) Publish(ctx context.Context, batch []Envelope) error {
	pipe := p.client.Pipeline()
	for _, env := range batch {
		values := []any{"c", env.ConversationID.String(), "s", env.Seq, "t", env.CommittedAt.UnixMicro(), "p", env.Payload}
		if env.Trace.IsValid() {
			// The trace the event's delivery on every node continues.
			values = append(values, "tc", telemetry.FormatTraceParent(env.Trace))
		}
		pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: p.keys.streamFor(env.ConversationID), MaxLen: p.maxLen, Approx: true,
			Values: values,
		})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("xadd: %w", err)
	}
	return nil
}

// Signal publishes an ephemeral signal to every node.
func (p *RedisPublisher) Signal(ctx context.Context, s Signal) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return p.client.Publish(ctx, p.keys.signalsChannel(), data).Err()
}
