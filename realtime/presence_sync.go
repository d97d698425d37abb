package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/internal/lifecycle"
)

// PresenceSync shares presence between nodes through Redis, a lifecycle service. Each node keeps
// in Redis its lease (one ZADD a renewal, however many users it holds) and the set of its users,
// changed and announced on pub/sub only when one of them goes online or offline here; every node
// keeps the others' users in memory from those announcements, reads them all again after any
// reconnect and every ResyncInterval, and takes a node whose lease lapsed as gone without its
// help. So Redis works in proportion to transitions and nodes, never to watchers.
//
// Redis down: presence runs on what this node last knew (its own users stay exact), the failures
// are logged and counted, and once Redis answers the node writes its users again and resyncs.
type PresenceSync struct {
	cfg     PresenceConfig
	node    string
	keys    presenceKeys
	client  *redis.Client
	tracker *PresenceTracker
	clock   clockwork.Clock
	metrics *presenceMetrics
	logger  *slog.Logger
	life    lifecycle.Base
	// reap is the script that removes a lapsed node (see reapSource).
	reap *redis.Script
	// resyncNow asks the loop to read every node's users again: pub/sub (re)subscribed, or a
	// node rejoined.
	resyncNow chan struct{}
}

// presenceOpTimeout bounds one round trip of the sync, so a Redis that drops packets cannot hold
// it up.
const presenceOpTimeout = 5 * time.Second

// NewPresenceSync returns a stopped sync between tracker (the hub's) and the other nodes over
// client, which the caller owns.
func NewPresenceSync(client *redis.Client, cfg RedisConfig, tracker *PresenceTracker, logger *slog.Logger) (*PresenceSync, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("presence sync: %w", err)
	}
	return &PresenceSync{
		cfg: tracker.cfg, node: cfg.NodeID, keys: newPresenceKeys(cfg.Namespace), client: client,
		tracker: tracker, clock: tracker.clock, metrics: tracker.metrics, logger: logger,
		resyncNow: make(chan struct{}, 1), reap: redis.NewScript(reapSource),
	}, nil
}

// Start subscribes and runs the sync in the background; it does not wait for Redis.
func (s *PresenceSync) Start(context.Context) error {
	return s.life.Start("presence sync", func(run *lifecycle.Run) error {
		s.tracker.attachSync(s.lastSeen)
		// Its own connection: a subscribed connection can do nothing else. go-redis reconnects
		// it and subscribes again by itself; receive resyncs on each subscription.
		pubsub := s.client.Subscribe(run.Context(), s.keys.channel)
		if !run.Go(func(ctx context.Context) { <-ctx.Done(); pubsub.Close() }) {
			pubsub.Close()
			return nil
		}
		run.Go(func(ctx context.Context) { s.receive(ctx, pubsub) })
		run.Go(s.loop)
		return nil
	})
}

// Stop ends the sync, leaving this node's lease to lapse Grace from now (see leave), and waits.
func (s *PresenceSync) Stop(ctx context.Context) error {
	err := s.life.Stop(ctx, nil)
	s.tracker.detachSync()
	return err
}

func (s *PresenceSync) requestResync() {
	select {
	case s.resyncNow <- struct{}{}:
	default:
	}
}

// loop is the only writer of this node's presence to Redis: its transitions, in order, and its
// lease; it also looks for lapsed leases and resyncs.
func (s *PresenceSync) loop(ctx context.Context) {
	beat := s.clock.NewTicker(s.cfg.renewalInterval())
	defer beat.Stop()
	check := s.clock.NewTicker(s.cfg.lapseCheckInterval())
	defer check.Stop()
	resync := s.clock.NewTicker(s.cfg.ResyncInterval)
	defer resync.Stop()
	retry := newBackoff(100*time.Millisecond, 5*time.Second)
	joined := false
	for ctx.Err() == nil {
		if !joined {
			if err := s.join(ctx); err != nil {
				s.failed(ctx, "join", err)
				retry.wait(ctx)
				continue
			}
			joined = true
			retry.reset()
			s.resync(ctx)
		}
		select {
		case <-ctx.Done():
		case <-s.tracker.wake:
			joined = s.flush(ctx)
		case <-beat.Chan():
			joined = s.renew(ctx)
		case <-check.Chan():
			joined = s.checkLapsed(ctx)
		case <-resync.Chan():
			s.resync(ctx)
		case <-s.resyncNow:
			s.resync(ctx)
		}
	}
	if joined {
		s.leave()
	}
}

// failed logs and counts a failed Redis command, unless the sync is stopping.
func (s *PresenceSync) failed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	s.metrics.redisErrors.WithLabelValues(op).Inc()
	s.logger.Warn("presence: redis", "op", op, "error", err)
}

// receive applies the other nodes' announcements until the subscription is closed.
func (s *PresenceSync) receive(ctx context.Context, pubsub *redis.PubSub) {
	retry := newBackoff(100*time.Millisecond, 5*time.Second)
	for {
		msg, err := pubsub.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			s.failed(ctx, "subscribe", err)
			retry.wait(ctx)
			continue
		}
		retry.reset()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// Subscribed, the first time or again after a reconnect: what was announced
				// meanwhile is lost, so read everything.
				s.requestResync()
			}
		case *redis.Message:
			s.announced(m.Payload)
		}
	}
}

// announced applies one node's announcement.
func (s *PresenceSync) announced(payload string) {
	a, err := decodeAnnouncement(payload)
	if err != nil {
		s.logger.Warn("presence: bad announcement", "error", err)
		return
	}
	if a.Node == s.node {
		return
	}
	if a.Reset {
		s.requestResync()
		return
	}
	for _, ch := range a.Changes {
		s.tracker.applyRemote(remoteChange{user: ch.User, node: a.Node, online: ch.Online, at: time.UnixMilli(ch.At)})
	}
}
