// Package server assembles Parley's HTTP service: the strict handlers of the generated API, the
// middleware in front of them (metrics, panics, auth, body limits, spec validation), the
// PostgreSQL pool and the metrics registry, with one owner that closes them all.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	apispec "github.com/parleyhq/parley/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/internal/lifecycle"
	"github.com/parleyhq/parley/internal/telemetry"
	"github.com/parleyhq/parley/realtime"
)

// Server owns the pool, the Redis client, the metrics registry and the node's services (the
// authenticator's key refresh, the hub, what carries events to it, the dispatcher). Build it with
// New, serve with Serve (or mount Handler), and Close it once.
type Server struct {
	cfg      Config
	logger   *slog.Logger
	pool     *pgxpool.Pool
	redis    *redis.Client // nil on one node without Redis
	registry *prometheus.Registry
	auth     *Authenticator
	hub      *realtime.Hub
	// services are started in this order by New and stopped in reverse by Close; started counts
	// those running.
	services []lifecycle.Service
	started  int
	handler  http.Handler
}

// New checks the configuration, connects to PostgreSQL (retrying for StartupTimeout while it
// does not answer), creates the database when missing and migrates it when configured, and
// assembles the HTTP handler. It does not wait for Redis: the node starts degraded and connects
// when Redis comes. On error everything created so far is closed.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		// The server owns the tracer provider from here, even when it goes no further.
		if cfg.Tracing != nil {
			_ = shutdownTracing(ctx, cfg.Tracing)
		}
		return nil, fmt.Errorf("configuration: %w", err)
	}
	// Log lines written with a request's (or a delivery's) context carry its trace id.
	logger = slog.New(telemetry.LogHandler(logger.Handler()))
	s := &Server{cfg: cfg, logger: logger, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	poolCfg.MaxConns = cfg.DBMaxConns
	// UUIDs through pgx's binary codec: without it, google/uuid goes through driver.Valuer's
	// text, built after pgx has tried and failed the other ways (an error allocated each time).
	poolCfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		return nil
	}
	if cfg.Tracing != nil {
		poolCfg.ConnConfig.Tracer = pgTracer(cfg.Tracing)
	}
	if err := s.openDatabase(ctx, poolCfg); err != nil {
		return nil, err
	}

	if cfg.Redis.URL != "" {
		opts, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("parse redis URL: %w", err)
		}
		s.redis = redis.NewClient(opts)
		if cfg.Tracing != nil {
			if err := traceRedis(s.redis, cfg.Tracing); err != nil {
				return nil, err
			}
		}
	}
	s.auth, err = NewAuthenticator(cfg.Auth, logger)
	if err != nil {
		return nil, err
	}

	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newPoolCollector(s.pool),
		realtime.NewBacklogCollector(s.pool),
	)
	live, err := s.newLiveParts()
	if err != nil {
		return nil, err
	}
	s.hub = live.hub
	deps := HandlerDeps{Pool: s.pool, Registry: s.registry, Logger: logger, Signals: live.hub, Presence: live.hub, Outbox: live.dispatcher, MaxMembers: cfg.MaxMembers}
	if s.redis != nil {
		deps.Redis = redisPinger{s.redis}
	}
	handlers, err := NewHandlers(deps)
	if err != nil {
		return nil, err
	}
	s.handler, err = s.routes(handlers, s.rateLimits())
	if err != nil {
		return nil, err
	}
	if cfg.DemoFiles != nil {
		s.handler = s.withDemo(s.handler, cfg.DemoFiles)
	}
	s.services = append([]lifecycle.Service{s.auth}, live.services...)
	for _, svc := range s.services {
		if err := svc.Start(ctx); err != nil {
			return nil, err
		}
		s.started++
	}
	return s, nil
}

// rateLimits holds the limits in Redis when the node has it, so they hold across nodes, and in
// memory otherwise.
func (s *Server) rateLimits() *rateLimits {
	local := newLocalLimiter(time.Now)
	var l limiter = local
	if s.redis != nil {
		l = newRedisLimiter(s.redis, s.cfg.Redis.Namespace, local, s.logger)
	}
	return newRateLimits(s.cfg.Limits, l, s.cfg.ClientAddrHeader, s.registry)
}

// routes puts the middleware in front of the generated router. Order matters: the request's
// operation is resolved once (from the embedded api/openapi.yaml) for everything after; the
// request's span is started (when tracing) and its debug log line written; metrics
// see every answer, panics become 500s, requests for no operation get 404 or 405, handshakes are
// rate limited by address, then authentication (401 before any other check), writes rate limited
// by user (429), body limits (413, 415), spec validation (400), WebSocket handshakes to the hub,
// and finally the strict handlers.
func (s *Server) routes(handlers *Handlers, limits *rateLimits) (http.Handler, error) {
	doc, err := apispec.Load()
	if err != nil {
		return nil, err
	}
	ops, err := newOperationRouter(doc)
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Use(ops.resolve)
	if s.cfg.Tracing != nil {
		r.Use(traceRequests(s.cfg.Tracing))
	}
	r.Use(newHTTPMetrics(s.registry, s.logger).middleware, recoverer(s.logger), refuseUnmatched, limits.handshakes,
		s.auth.Middleware(s.logger), limits.writes, bodyGuard(s.cfg.MaxBodyBytes), validateRequest, s.upgradeWebSocket)
	strict := apiserver.NewStrictHandlerWithOptions(handlers, nil, apiserver.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  requestErrorHandler,
		ResponseErrorHandlerFunc: responseErrorHandler(s.logger),
	})
	return apiserver.HandlerWithOptions(strict, apiserver.ChiServerOptions{BaseRouter: r, ErrorHandlerFunc: paramErrorHandler}), nil
}

// Handler is the whole HTTP API.
func (s *Server) Handler() http.Handler { return s.handler }

// Registry is this server's own metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Serve answers HTTP on ln until ctx is cancelled, then stops accepting, lets in-flight requests
// finish (up to ShutdownTimeout) and returns. It does not Close the server.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.logger.Info("shutting down: draining in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	// Shutdown leaves hijacked connections alone: the hub closes its WebSockets with 1001.
	err = errors.Join(err, s.hub.Stop(shutdownCtx))
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close stops the services in reverse order and closes what New created. Safe on a partly
// built server.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	for ; s.started > 0; s.started-- {
		if err := s.services[s.started-1].Stop(ctx); err != nil {
			s.logger.Error("stop service", "error", err)
		}
	}
	if s.redis != nil {
		_ = s.redis.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	// Last: the spans of everything closed above are flushed too.
	if s.cfg.Tracing != nil {
		if err := shutdownTracing(ctx, s.cfg.Tracing); err != nil {
			s.logger.Error("stop tracing", "error", err)
		}
	}
}
