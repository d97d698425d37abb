package server

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/realtime"
)

// startRealtime builds the live path: the broker (in-process, or Redis Streams between nodes),
// the hub that holds the WebSockets, and the dispatcher that drains the outbox into the broker.
func (s *Server) startRealtime(ctx context.Context) error {
	metrics := realtime.NewMetrics(s.registry)
	var broker realtime.Broker
	local := realtime.NewLocalBroker()
	if s.cfg.Redis.URL != "" {
		rb, err := realtime.NewRedisBroker(ctx, s.cfg.Redis, metrics, s.logger)
		if err != nil {
			return err
		}
		s.redis = rb
		s.registry.MustRegister(realtime.NewPendingCollector(rb))
		broker = rb
	} else {
		broker = local
	}

	hub, err := realtime.NewHub(s.cfg.Hub, realtime.NewPGStore(s.pool), broker, metrics, s.logger)
	if err != nil {
		return err
	}
	s.hub = hub
	if s.redis != nil {
		if err := s.redis.Start(ctx, hub); err != nil {
			return err
		}
	} else {
		local.Attach(hub)
	}

	connConfig := s.pool.Config().ConnConfig.Copy()
	s.dispatcher = realtime.NewDispatcher(s.cfg.Dispatcher, s.pool, func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.ConnectConfig(ctx, connConfig)
	}, broker, metrics, s.logger)
	s.signals = broker
	return s.dispatcher.Start(ctx)
}
