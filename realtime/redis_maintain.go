package realtime

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func (b *RedisConsumer) ensureGroups(ctx context.Context) error {
	for _, s := range b.keys.streams {
		err := b.client.XGroupCreateMkStream(ctx, s, b.group(), "$").Err()
		if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("create consumer group on %s: %w", s, err)
		}
	}
	return nil
}

func (b *RedisConsumer) heartbeat(ctx context.Context) error {
	if err := b.client.Set(ctx, b.keys.nodeKey(b.cfg.NodeID), time.Now().UTC().Format(time.RFC3339), b.cfg.NodeGoneAfter).Err(); err != nil {
		return fmt.Errorf("node heartbeat: %w", err)
	}
	return nil
}

// maintain refreshes the node's heartbeat, retries or dead-letters entries left pending too long,
// and removes the groups of nodes that are gone.
func (b *RedisConsumer) maintain(ctx context.Context) {
	if err := b.heartbeat(ctx); err != nil {
		if ctx.Err() == nil {
			b.logger.Warn("redis: maintenance", "error", err)
		}
		return
	}
	for _, stream := range b.keys.streams {
		if err := b.retryPending(ctx, stream); err != nil && ctx.Err() == nil {
			b.logger.Warn("redis: retry pending", "stream", stream, "error", err)
		}
		if err := b.removeGoneGroups(ctx, stream); err != nil && ctx.Err() == nil {
			b.logger.Warn("redis: remove groups of gone nodes", "stream", stream, "error", err)
		}
	}
}

func (b *RedisConsumer) retryPending(ctx context.Context, stream string) error {
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
	b.handle(ctx, []redis.XStream{{Stream: stream, Messages: msgs}})
	return nil
}

func (b *RedisConsumer) deadLetter(ctx context.Context, stream, id string) error {
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
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: b.keys.deadLetterStream(), MaxLen: b.cfg.MaxLen, Approx: true, Values: values})
	pipe.XAck(ctx, stream, b.group(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	b.metrics.streamDeadLetter.Inc()
	b.logger.Error("redis: entry moved to the dead-letter stream", "stream", stream, "id", id, "dead_letter_stream", b.keys.deadLetterStream())
	return nil
}

// removeGoneGroups destroys the groups of nodes whose heartbeat has expired, so their pending
// entries do not pin stream memory forever.
func (b *RedisConsumer) removeGoneGroups(ctx context.Context, stream string) error {
	groups, err := b.client.XInfoGroups(ctx, stream).Result()
	if err != nil {
		return err
	}
	for _, g := range groups {
		node, ok := strings.CutPrefix(g.Name, groupPrefix)
		if !ok || node == b.cfg.NodeID {
			continue
		}
		alive, err := b.client.Exists(ctx, b.keys.nodeKey(node)).Result()
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
