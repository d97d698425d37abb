package server

import (
	"io/fs"
	"os"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/realtime"
)

// Config is everything a Server needs; DefaultConfig fills in the limits.
type Config struct {
	DatabaseURL string
	Auth        AuthConfig
	// Migrate creates the database when missing and applies pending migrations at start.
	Migrate bool
	// StartupTimeout is how long New retries PostgreSQL while it does not answer; 0 tries once.
	StartupTimeout time.Duration

	MaxBodyBytes      int64
	MaxHeaderBytes    int
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	DBMaxConns        int32
	// Limits are the request rates allowed, per user or client address; across nodes when
	// Redis is configured.
	Limits Limits
	// ClientAddrHeader is the header a trusted proxy in front of Parley sets to the client's
	// address (X-Forwarded-For, say); empty limits handshakes by the TCP peer.
	ClientAddrHeader string
	// DemoFiles, when set, is the demo chat page, served at /demo/ with a token endpoint that
	// signs in as anyone: `serve --dev` only.
	DemoFiles fs.FS
	// MaxMembers caps the members of one conversation.
	MaxMembers int

	// Redis configures the bus between nodes: with Redis.URL set, Redis Streams carry events
	// between nodes; empty is one node with the in-process broker.
	Redis      realtime.RedisConfig
	Hub        realtime.HubConfig
	Dispatcher realtime.DispatcherConfig
	// Webhook configures webhooks and notification requests; without a URL there are none.
	Webhook notify.Config
	// Tracing, when not nil, traces requests, queries, Redis commands and each event's way to
	// the sockets (telemetry.NewTracerProvider builds it from the OTEL_* environment). The
	// server shuts it down, flushing it, last in Close. nil is tracing off, at no cost.
	Tracing trace.TracerProvider
}

// DefaultDatabaseURL is a local PostgreSQL, as on a developer's machine.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/parley?sslmode=disable"

// DefaultConfig returns the defaults of every limit.
func DefaultConfig() Config {
	return Config{
		DatabaseURL:       DefaultDatabaseURL,
		Migrate:           true,
		StartupTimeout:    time.Minute,
		MaxBodyBytes:      64 << 10,
		MaxHeaderBytes:    16 << 10,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   15 * time.Second,
		DBMaxConns:        20,
		Limits:            DefaultLimits(),
		MaxMembers:        1000,
		Redis:             realtime.DefaultRedisConfig("", defaultNodeID()),
		Hub:               realtime.DefaultHubConfig(),
		Dispatcher:        realtime.DefaultDispatcherConfig(),
		Webhook:           notify.DefaultConfig(),
	}
}

// defaultNodeID is the host name: stable across restarts of the same machine or pod.
func defaultNodeID() string {
	if host, err := os.Hostname(); err == nil && host != "" {
		return host
	}
	return "parley"
}
