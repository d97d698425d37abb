package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/internal/telemetry"
	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/web/demo"
)

// authFlags are how `serve` verifies tokens.
type authFlags struct {
	jwksURL, secret, issuer, audience string
	dev                               bool
}

func (a *authFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.jwksURL, "jwks-url", "", "URL of the identity provider's JWKS; tokens signed RS256, ES256 or EdDSA")
	fs.StringVar(&a.secret, "jwt-secret", "", "shared secret for HS256 tokens (development and tests)")
	fs.StringVar(&a.issuer, "jwt-issuer", "", "required token issuer (iss), when set")
	fs.StringVar(&a.audience, "jwt-audience", "", "required token audience (aud), when set")
	boolFlag(fs, &a.dev, "dev", false, "development mode: without --jwks-url or --jwt-secret, use the local secret that 'parley token' signs with; serve the demo chat page at /demo/")
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
	cfg := server.DefaultConfig()
	var (
		auth                           authFlags
		addr, origins, logLevel, logFm string
		webhookEvents                  string
	)
	auth.register(fs)
	fs.StringVar(&addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL URL; the database is created when missing")
	boolFlag(fs, &cfg.Migrate, "migrate", cfg.Migrate, "apply pending migrations at start")
	fs.StringVar(&cfg.Redis.URL, "redis-url", "", "Redis URL; when set, Redis Streams carry events between nodes (empty: one node, in-process)")
	fs.StringVar(&cfg.Redis.NodeID, "node-id", cfg.Redis.NodeID, "this node's name in Redis; keep it stable across restarts (default: the host name)")
	fs.StringVar(&cfg.Redis.Namespace, "redis-namespace", cfg.Redis.Namespace, "prefix of every Redis key and channel")
	fs.StringVar(&origins, "ws-origins", "", "browser origins allowed to open WebSockets besides the server's own host, comma separated (patterns like *.example.com)")
	fs.StringVar(&cfg.Webhook.URL, "webhook-url", "", "URL that receives every durable event and notification request as a signed POST (empty: no webhooks)")
	fs.StringVar(&cfg.Webhook.Secret, "webhook-secret", "", "key that signs webhooks, Standard Webhooks style: whsec_<base64>, or any other text as the key itself")
	fs.StringVar(&webhookEvents, "webhook-events", "", "webhook types to send, comma separated: event types such as message.created, and notification.requested (empty: all)")
	fs.StringVar(&cfg.ClientAddrHeader, "client-addr-header", "", "header a trusted proxy sets to the client address, e.g. X-Forwarded-For (empty: the TCP peer)")
	choiceFlag(fs, &logLevel, "log-level", "info", "a log level", "debug", "info", "warn", "error")
	choiceFlag(fs, &logFm, "log-format", "text", "a log format", "text", "json")
	for _, s := range server.Settings() {
		if s.Flag != "" {
			fs.Var(&settingFlag{cfg: &cfg, setting: s}, s.Flag, s.FlagUsage())
		}
	}

	return &ffcli.Command{
		Name:       "serve",
		ShortUsage: "parley serve [flags]",
		ShortHelp:  "Run the Parley server.",
		LongHelp: "Run the Parley server: wait for PostgreSQL (up to --startup-timeout), create the\n" +
			"database when missing and migrate it, then serve HTTP until SIGINT or SIGTERM, when\n" +
			"in-flight requests are drained before exit 0. Redis down at start does not stop it:\n" +
			"the node runs degraded (/readyz says so) and connects when Redis comes.\n\n" +
			"Each flag may also be set as PARLEY_<FLAG>: --database-url as PARLEY_DATABASE_URL,\n" +
			"--jwt-secret as PARLEY_JWT_SECRET, and so on.\n\n" +
			"Tracing (OpenTelemetry) is off unless OTEL_TRACES_EXPORTER (otlp, console or none),\n" +
			"OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, and\n" +
			"OTEL_SDK_DISABLED is not true. Then each request, query, Redis command and event\n" +
			"delivery is a span, exported over OTLP (OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf or\n" +
			"grpc) as service.name parley (OTEL_SERVICE_NAME), service.instance.id the node id;\n" +
			"the other standard OTEL_* variables (sampler, headers, batching) apply too.",
		FlagSet: fs,
		Exec: func(ctx context.Context, _ []string) error {
			logger, err := newLogger(stderr, logLevel, logFm)
			if err != nil {
				return err
			}
			if origins != "" {
				for _, o := range strings.Split(origins, ",") {
					cfg.Hub.OriginPatterns = append(cfg.Hub.OriginPatterns, strings.TrimSpace(o))
				}
			}
			if webhookEvents != "" {
				for _, t := range strings.Split(webhookEvents, ",") {
					cfg.Webhook.Events = append(cfg.Webhook.Events, strings.TrimSpace(t))
				}
			}
			if cfg.Auth, err = auth.config(); err != nil {
				return err
			}
			if auth.dev && len(cfg.Auth.Secret) > 0 {
				// The demo page signs in by asking the server for a token: only where tokens are
				// HS256 with a secret the server holds, and only on a development server.
				cfg.DemoFiles = demo.Files()
			}
			// Every setting is checked before anything connects: a bad one stops the start with
			// one line naming its flag and range, never a panic later.
			if err := cfg.Validate(); err != nil {
				return err
			}
			if auth.dev && auth.jwksURL == "" && auth.secret == "" {
				logger.Warn("development mode: tokens are verified with the local development secret; mint one with 'parley token <user>'")
			}
			// go-redis logs on its own (a pool that cannot dial): through this logger too.
			redis.SetLogger(server.RedisLog{Logger: logger})
			// Tracing from the OTEL_* environment; nil (off) when it names no exporter. The
			// server owns the provider from New on and flushes it when it closes.
			tracing, err := telemetry.NewTracerProvider(ctx, os.Getenv, stderr, cfg.Redis.NodeID)
			if err != nil {
				return fmt.Errorf("tracing: %w", err)
			}
			if tracing != nil { // not a nil pointer in a non-nil interface
				cfg.Tracing = tracing
				logger.Info("tracing on", "node", cfg.Redis.NodeID)
			}
			// New waits for PostgreSQL (--startup-timeout), creates the database when missing
			// and migrates it; it does not wait for Redis.
			srv, err := server.New(ctx, cfg, logger)
			if err != nil && ctx.Err() != nil {
				// SIGINT or SIGTERM while waiting for PostgreSQL or migrating: a clean stop.
				logger.Info("parley stopped before it started", "cause", err)
				return nil
			}
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			logger.Info("parley listening", "addr", ln.Addr().String())
			if cfg.DemoFiles != nil {
				logger.Info("demo chat page", "url", demoURL(ln.Addr()))
			}
			if err := srv.Serve(ctx, ln); err != nil {
				return err
			}
			logger.Info("parley stopped")
			return nil
		},
	}
}

// settingFlag is the flag of one numeric or duration setting. It takes any number or duration and
// leaves the range to Config.Validate, whose refusal is one line naming the flag.
type settingFlag struct {
	cfg     *server.Config
	setting server.Setting
	err     error // why it refused its last text, for run to report with the flag's name
}

func (f *settingFlag) String() string {
	if f.cfg == nil { // the zero value the flag package makes to tell defaults apart
		return ""
	}
	return f.setting.Format(f.setting.Get(f.cfg))
}

func (f *settingFlag) Set(text string) error {
	v, err := f.setting.Parse(text)
	switch {
	case err == nil:
		f.setting.Set(f.cfg, v)
		f.err = nil
	case f.setting.Duration:
		f.err = fmt.Errorf("%q is not a duration (want one such as 250ms, 30s or 5m)", text)
	default:
		f.err = fmt.Errorf("%q is not a whole number", text)
	}
	return f.err
}

func (f *settingFlag) refused() error { return f.err }

// Get makes the flag a flag.Getter, as the flag package's own are.
func (f *settingFlag) Get() any { return f.setting.Get(f.cfg) }

// demoURL is where a browser on this machine finds the demo page of a server listening on addr.
func demoURL(addr net.Addr) string {
	host := "127.0.0.1"
	if tcp, ok := addr.(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() {
		host = tcp.IP.String()
	}
	_, port, _ := net.SplitHostPort(addr.String())
	return "http://" + net.JoinHostPort(host, port) + "/demo/"
}
