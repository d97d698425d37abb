package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/db/migrations"
	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/server"
)

// authFlags are the token settings `serve` and `token` share.
type authFlags struct {
	jwksURL, secret, issuer, audience string
	dev                               bool
}

func (a *authFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.jwksURL, "jwks-url", "", "URL of the identity provider's JWKS; tokens signed RS256, ES256 or EdDSA")
	fs.StringVar(&a.secret, "jwt-secret", "", "shared secret for HS256 tokens (development and tests)")
	fs.StringVar(&a.issuer, "jwt-issuer", "", "required token issuer (iss), when set")
	fs.StringVar(&a.audience, "jwt-audience", "", "required token audience (aud), when set")
	fs.BoolVar(&a.dev, "dev", false, "development mode: without --jwks-url or --jwt-secret, use the local secret that 'parley token' signs with")
}

func (a *authFlags) config() (server.AuthConfig, error) {
	cfg := server.AuthConfig{JWKSURL: a.jwksURL, Secret: []byte(a.secret), Issuer: a.issuer, Audience: a.audience}
	if a.jwksURL != "" || a.secret != "" {
		return cfg, nil
	}
	if !a.dev {
		return cfg, errors.New("no token verification configured: set --jwks-url (PARLEY_JWKS_URL) or --jwt-secret (PARLEY_JWT_SECRET), or pass --dev on a development machine")
	}
	secret, err := devtoken.LocalSecret()
	if err != nil {
		return cfg, err
	}
	cfg.Secret = secret
	return cfg, nil
}

func serveCommand(stderr io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("parley serve", flag.ContinueOnError)
	defaults := server.DefaultConfig()
	var (
		auth                  authFlags
		addr, logLevel, logFm string
		cfg                   = defaults
	)
	auth.register(fs)
	fs.StringVar(&addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&cfg.DatabaseURL, "database-url", defaults.DatabaseURL, "PostgreSQL URL; the database is created when missing")
	fs.BoolVar(&cfg.Migrate, "migrate", defaults.Migrate, "apply pending migrations at start")
	fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", defaults.MaxHeaderBytes, "largest request header block accepted")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", defaults.MaxBodyBytes, "largest request body accepted (413 above)")
	fs.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", defaults.ReadHeaderTimeout, "time allowed to read request headers")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", defaults.ReadTimeout, "time allowed to read a whole request")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", defaults.WriteTimeout, "time allowed to write a response")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", defaults.IdleTimeout, "how long an idle keep-alive connection stays open")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", defaults.ShutdownTimeout, "how long shutdown waits for in-flight requests")
	var maxConns int
	fs.IntVar(&maxConns, "db-max-conns", int(defaults.DBMaxConns), "PostgreSQL connections in the pool")
	fs.StringVar(&cfg.Redis.URL, "redis-url", "", "Redis URL; when set, Redis Streams carry events between nodes (empty: one node, in-process)")
	fs.StringVar(&cfg.Redis.NodeID, "node-id", defaults.Redis.NodeID, "this node's name in Redis; keep it stable across restarts (default: the host name)")
	fs.IntVar(&cfg.Redis.Shards, "shards", defaults.Redis.Shards, "Redis streams events are spread over, by conversation; the same on every node")
	fs.StringVar(&cfg.Redis.Namespace, "redis-namespace", defaults.Redis.Namespace, "prefix of every Redis key and channel")
	fs.DurationVar(&cfg.Redis.NodeGoneAfter, "node-gone-after", defaults.Redis.NodeGoneAfter, "remove the stream groups of nodes silent this long")
	var origins string
	fs.StringVar(&origins, "ws-origins", "", "browser origins allowed to open WebSockets besides the server's own host, comma separated (patterns like *.example.com)")
	fs.IntVar(&cfg.Hub.QueueSize, "ws-queue-size", defaults.Hub.QueueSize, "frames queued per WebSocket before it is closed as a slow consumer (4001)")
	fs.Int64Var(&cfg.Hub.MaxFrameBytes, "ws-max-frame-bytes", defaults.Hub.MaxFrameBytes, "largest frame a client may send (larger: close 1009)")
	fs.IntVar(&cfg.Hub.ResumeLimit, "resume-limit", defaults.Hub.ResumeLimit, "events replayed per conversation on resume; beyond it the client gets resync")
	fs.DurationVar(&cfg.Hub.HeartbeatInterval, "heartbeat", defaults.Hub.HeartbeatInterval, "WebSocket ping interval")
	fs.IntVar(&cfg.Limits.Sends.PerMinute, "limit-sends-per-minute", defaults.Limits.Sends.PerMinute, "messages one user may send a minute, on average (0: no limit)")
	fs.IntVar(&cfg.Limits.Sends.Burst, "limit-sends-burst", defaults.Limits.Sends.Burst, "messages one user may send at once after a quiet spell")
	fs.IntVar(&cfg.Limits.Writes.PerMinute, "limit-writes-per-minute", defaults.Limits.Writes.PerMinute, "other writes (POST, PUT, PATCH, DELETE) one user may make a minute (0: no limit)")
	fs.IntVar(&cfg.Limits.Writes.Burst, "limit-writes-burst", defaults.Limits.Writes.Burst, "other writes one user may make at once")
	fs.IntVar(&cfg.Limits.Handshakes.PerMinute, "limit-handshakes-per-minute", defaults.Limits.Handshakes.PerMinute, "WebSocket handshakes one client address may make a minute (0: no limit)")
	fs.IntVar(&cfg.Limits.Handshakes.Burst, "limit-handshakes-burst", defaults.Limits.Handshakes.Burst, "WebSocket handshakes one client address may make at once")
	typingPerMinute := int(float64(defaults.Hub.TypingRate) * 60)
	fs.IntVar(&typingPerMinute, "limit-typing-per-minute", typingPerMinute, "typing frames one connection may send a minute (0: no limit)")
	fs.IntVar(&cfg.Hub.TypingBurst, "limit-typing-burst", defaults.Hub.TypingBurst, "typing frames one connection may send at once")
	fs.StringVar(&cfg.ClientAddrHeader, "client-addr-header", "", "header a trusted proxy sets to the client address, e.g. X-Forwarded-For (empty: the TCP peer)")
	fs.IntVar(&cfg.Hub.MaxConnsPerUser, "max-conns-per-user", defaults.Hub.MaxConnsPerUser, "WebSockets one user may hold on a node; the next is closed with 4429 (0: no limit)")
	fs.IntVar(&cfg.MaxMembers, "max-members", defaults.MaxMembers, "members one conversation may have (0: no limit)")
	fs.IntVar(&cfg.Hub.MaxConcurrentResumes, "max-concurrent-resumes", defaults.Hub.MaxConcurrentResumes, "resume replays running at once on a node (at least 1); others wait their turn")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&logFm, "log-format", "text", "text or json")

	return &ffcli.Command{
		Name:       "serve",
		ShortUsage: "parley serve [flags]",
		ShortHelp:  "Run the Parley server.",
		LongHelp: "Run the Parley server: migrate the database (creating it when missing), then serve\n" +
			"HTTP until SIGINT or SIGTERM, when in-flight requests are drained before exit.\n\n" +
			"Each flag may also be set as PARLEY_<FLAG>: --database-url as PARLEY_DATABASE_URL,\n" +
			"--jwt-secret as PARLEY_JWT_SECRET, and so on.",
		FlagSet: fs,
		Options: []ff.Option{ff.WithEnvVarPrefix("PARLEY")},
		Exec: func(ctx context.Context, _ []string) error {
			logger, err := newLogger(stderr, logLevel, logFm)
			if err != nil {
				return err
			}
			cfg.DBMaxConns = int32(maxConns)
			cfg.Hub.TypingRate = rate.Limit(float64(typingPerMinute) / 60)
			if origins != "" {
				cfg.Hub.OriginPatterns = strings.Split(origins, ",")
			}
			if cfg.Auth, err = auth.config(); err != nil {
				return err
			}
			if auth.dev && auth.jwksURL == "" && auth.secret == "" {
				logger.Warn("development mode: tokens are verified with the local development secret; mint one with 'parley token <user>'")
			}
			created, err := migrations.EnsureDatabase(ctx, cfg.DatabaseURL)
			if err != nil {
				return err
			}
			if created {
				logger.Info("created database")
			}
			srv, err := server.New(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			logger.Info("parley listening", "addr", ln.Addr().String())
			if err := srv.Serve(ctx, ln); err != nil {
				return err
			}
			logger.Info("parley stopped")
			return nil
		},
	}
}
