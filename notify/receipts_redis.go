package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/internal/lifecycle"
	"github.com/parleyhq/parley/realtime"
)

// RedisReceipts is the ReceiptBook of nodes that share Redis: each node gathers its sockets'
// receipts and writes them every flush interval in one pipeline, a set per event
// (<namespace>:rcpt:{<conversation>}:<seq>) that expires on its own. A lifecycle service: Start
// runs the flusher, Stop writes what is gathered and ends it.
type RedisReceipts struct {
	client    *redis.Client
	namespace string
	keep      time.Duration
	every     time.Duration
	logger    *slog.Logger
	life      lifecycle.Base

	mu      sync.Mutex
	pending map[realtime.EventRef][]string
	size    int
	dropped int // receipts not kept because too many waited; logged by the flusher
}

// maxPendingReceipts bounds what a node gathers while Redis is away. Beyond it receipts are
// dropped: the cost is a notification for a message a socket did show.
const maxPendingReceipts = 1 << 20

// NewRedisReceipts returns a stopped book over client (which the caller owns), flushing every
// `every` and keeping receipts for keep.
func NewRedisReceipts(client *redis.Client, namespace string, keep, every time.Duration, logger *slog.Logger) *RedisReceipts {
	return &RedisReceipts{
		client: client, namespace: namespace, keep: keep, every: every, logger: logger,
		pending: make(map[realtime.EventRef][]string),
	}
}

// Start runs the flusher.
func (r *RedisReceipts) Start(context.Context) error {
	return r.life.Start("receipts", func(run *lifecycle.Run) error {
		run.Go(func(ctx context.Context) {
			lifecycle.Every(ctx, r.every, r.flush)
			// What was gathered since the last flush, within the stop's own bound.
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.every)
			defer cancel()
			r.flush(final)
		})
		return nil
	})
}

// Stop writes what is gathered and ends the flusher.
func (r *RedisReceipts) Stop(ctx context.Context) error { return r.life.Stop(ctx, nil) }

// Received gathers the receipts for the next flush.
func (r *RedisReceipts) Received(userID string, events []realtime.EventRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range events {
		r.keepLocked(e, userID)
	}
}

// keepLocked gathers one receipt, unless maxPendingReceipts wait already.
func (r *RedisReceipts) keepLocked(e realtime.EventRef, userID string) {
	if r.size >= maxPendingReceipts {
		r.dropped++
		return
	}
	r.pending[e] = append(r.pending[e], userID)
	r.size++
}

// ReceivedBy reads who received the event on any node, this one included: the decider waits a few
// flushes past a message's delay, so what this node gathered is in Redis by then.
func (r *RedisReceipts) ReceivedBy(ctx context.Context, event realtime.EventRef) (map[string]bool, error) {
	users, err := r.client.SMembers(ctx, r.key(event)).Result()
	if err != nil {
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	out := make(map[string]bool, len(users))
	for _, u := range users {
		out[u] = true
	}
	return out, nil
}

func (r *RedisReceipts) key(e realtime.EventRef) string {
	return r.namespace + ":rcpt:{" + e.ConversationID.String() + "}:" + strconv.FormatInt(e.Seq, 10)
}

// flush writes the gathered receipts in one pipeline. When Redis fails they are kept for the next
// flush (up to maxPendingReceipts).
func (r *RedisReceipts) flush(ctx context.Context) {
	r.mu.Lock()
	batch, dropped := r.pending, r.dropped
	r.pending, r.size, r.dropped = make(map[realtime.EventRef][]string), 0, 0
	r.mu.Unlock()
	if dropped > 0 {
		r.logger.WarnContext(ctx, "notify: receipts dropped while Redis was away", "receipts", dropped)
	}
	if len(batch) == 0 {
		return
	}
	pipe := r.client.Pipeline()
	for e, users := range batch {
		key := r.key(e)
		members := make([]any, len(users))
		for i, u := range users {
			members[i] = u
		}
		pipe.SAdd(ctx, key, members...)
		pipe.PExpire(ctx, key, r.keep)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		r.logger.WarnContext(ctx, "notify: write receipts", "error", err)
		r.mu.Lock()
		for e, users := range batch {
			for _, u := range users {
				r.keepLocked(e, u)
			}
		}
		r.mu.Unlock()
	}
}
