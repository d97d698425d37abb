package server

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/internal/lifecycle"
	"github.com/parleyhq/parley/realtime"
)

// liveParts is the live path of a node: the hub that holds the WebSockets, what carries events
// to it (the Redis consumer between nodes, or the local broker) and the dispatcher that drains the
// outbox into the bus. Services are in the order they start.
type liveParts struct {
	hub        *realtime.Hub
	dispatcher *realtime.Dispatcher
	services   []lifecycle.Service
}

// newLiveParts builds the live path, started by nothing yet: with a Redis client, Redis Streams
// carry events and signals between nodes; without, everything stays in this process.
func (s *Server) newLiveParts() (liveParts, error) {
	metrics := realtime.NewMetrics(s.registry)
	store := realtime.NewPGStore(s.pool)
	// nil when tracing is off: the live path then does nothing for it per event or frame.
	tracer := realtime.NewTracer(s.cfg.Tracing, s.cfg.Redis.NodeID)
	hubCfg, dispatcherCfg := s.cfg.Hub, s.cfg.Dispatcher
	hubCfg.Tracer, dispatcherCfg.Tracer = tracer, tracer
	var (
		signals        realtime.SignalBus
		redisPublisher *realtime.RedisPublisher
		err            error
	)
	if s.redis != nil {
		if redisPublisher, err = realtime.NewRedisPublisher(s.redis, s.cfg.Redis); err != nil {
			return liveParts{}, err
		}
		signals = redisPublisher
	}
	hub, err := realtime.NewHub(hubCfg, store, signals, metrics, s.logger)
	if err != nil {
		return liveParts{}, err
	}
	var publisher realtime.Publisher
	var carrier lifecycle.Service
	if s.redis != nil {
		consumer, err := realtime.NewRedisConsumer(s.redis, s.cfg.Redis, hub, metrics, s.logger)
		if err != nil {
			return liveParts{}, err
		}
		s.registry.MustRegister(realtime.NewPendingCollector(consumer))
		publisher, carrier = redisPublisher, consumer
	} else {
		local := realtime.NewLocalBroker(hub, s.logger)
		publisher, carrier = local, local
	}
	webhooks, err := s.newWebhookParts(hub)
	if err != nil {
		return liveParts{}, err
	}
	services := []lifecycle.Service{hub}
	if s.redis != nil {
		// Shares the hub's presence with the other nodes. It starts after the hub, whose users it
		// writes, and stops before it: the node's lease then lapses a grace later, and the other
		// nodes take its users offline without it.
		presence, err := realtime.NewPresenceSync(s.redis, s.cfg.Redis, hub.PresenceTracker(), s.logger)
		if err != nil {
			return liveParts{}, err
		}
		services = append(services, presence)
	}
	connConfig := s.pool.Config().ConnConfig.Copy()
	dispatcher, err := realtime.NewDispatcher(dispatcherCfg, s.pool, func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.ConnectConfig(ctx, connConfig)
	}, publisher, webhooks.handOff, metrics, s.logger)
	if err != nil {
		return liveParts{}, err
	}
	return liveParts{
		hub: hub, dispatcher: dispatcher,
		services: append(append(services, carrier, dispatcher), webhooks.services...),
	}, nil
}

// redisPinger is the readiness check of a node's Redis.
type redisPinger struct{ client *redis.Client }

func (p redisPinger) Ping(ctx context.Context) error { return p.client.Ping(ctx).Err() }
