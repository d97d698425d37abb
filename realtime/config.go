package realtime

import (
	"time"

	"golang.org/x/time/rate"
)

// HubConfig holds the hub's limits; DefaultHubConfig fills them in.
type HubConfig struct {
	// QueueSize bounds each connection's send queue; overflowing it closes with 4001.
	QueueSize int
	// ReorderTimeout is how long an event ahead of a gap waits before the gap is read from
	// PostgreSQL; MaxHeld bounds what one conversation may hold meanwhile.
	ReorderTimeout time.Duration
	MaxHeld        int
	// ResumeLimit is the most events replayed per conversation; beyond it the client gets resync.
	ResumeLimit int
	// MaxConcurrentResumes caps replays running at once across the node.
	MaxConcurrentResumes int
	// ResumeSlotWait is how long a resume waits for one of those; a client that waits longer is
	// closed with 1013 and tries again.
	ResumeSlotWait time.Duration
	// ResumeWait is how long live events wait after ready for the client's resume frame.
	ResumeWait        time.Duration
	HeartbeatInterval time.Duration
	PongTimeout       time.Duration
	WriteTimeout      time.Duration
	MaxFrameBytes     int64
	TypingThrottle    time.Duration
	// TypingRate and TypingBurst limit the typing frames one connection may send; beyond them the
	// client gets an error frame rate_limited with retry_after_ms. A zero rate is no limit.
	TypingRate  rate.Limit
	TypingBurst int
	// MaxConnsPerUser caps one user's WebSockets on this node; the next one is closed with 4429.
	MaxConnsPerUser int
	// OriginPatterns are the browser origins allowed besides the server's own host (path.Match
	// patterns, e.g. "app.example.com" or "*.example.com").
	OriginPatterns []string
	// UnknownConversations bounds the cache of conversations known to have no member on this node.
	UnknownConversations int
	// Presence tunes who is online and what watching connections are told.
	Presence PresenceConfig
	// Tracer, when not nil, traces each traced event's delivery and its writes to the sockets.
	Tracer *Tracer
}

// DefaultHubConfig returns the default limits.
func DefaultHubConfig() HubConfig {
	return HubConfig{
		QueueSize:            256,
		ReorderTimeout:       100 * time.Millisecond,
		MaxHeld:              1024,
		ResumeLimit:          1000,
		MaxConcurrentResumes: 64,
		ResumeSlotWait:       10 * time.Second,
		ResumeWait:           time.Second,
		HeartbeatInterval:    25 * time.Second,
		PongTimeout:          10 * time.Second,
		WriteTimeout:         10 * time.Second,
		MaxFrameBytes:        64 << 10,
		TypingThrottle:       2 * time.Second,
		TypingRate:           5,
		TypingBurst:          10,
		MaxConnsPerUser:      20,
		UnknownConversations: 100_000,
		Presence:             DefaultPresenceConfig(),
	}
}

// DispatcherConfig tunes the outbox dispatcher.
type DispatcherConfig struct {
	// BatchSize is the most rows one pass claims.
	BatchSize int
	// PollInterval is the safety net when a notification is missed.
	PollInterval time.Duration
	// ReconnectDelay paces reconnecting the LISTEN connection.
	ReconnectDelay time.Duration
	// BreakerTimeout is how long publishing stays off after the breaker opens.
	BreakerTimeout time.Duration
	// Tracer, when not nil, continues the trace an outbox row carries with a publish span.
	Tracer *Tracer
}

// DefaultDispatcherConfig returns the defaults.
func DefaultDispatcherConfig() DispatcherConfig {
	return DispatcherConfig{BatchSize: 256, PollInterval: time.Second, ReconnectDelay: time.Second, BreakerTimeout: 2 * time.Second}
}

// RedisConfig configures the Redis Streams broker.
type RedisConfig struct {
	URL string
	// Namespace prefixes every key and channel, so several deployments (or tests) can share one
	// Redis.
	Namespace string
	// NodeID names this node's consumer group; keep it stable across restarts so a restarted
	// node re-reads what it had not acknowledged.
	NodeID string
	// Shards is the number of streams events are spread over, by conversation.
	Shards int
	// MaxLen trims each stream to about this many entries.
	MaxLen int64
	// MaxDeliveries moves an entry that keeps failing to the dead-letter stream.
	MaxDeliveries int64
	// ClaimIdle is how long an unacknowledged entry waits before it is tried again.
	ClaimIdle time.Duration
	// NodeGoneAfter removes the consumer groups of nodes silent for this long.
	NodeGoneAfter time.Duration
	// Block is how long one read waits for new entries.
	Block time.Duration
}

// DefaultRedisConfig returns the defaults for a URL and node.
func DefaultRedisConfig(url, nodeID string) RedisConfig {
	return RedisConfig{
		URL: url, Namespace: "parley", NodeID: nodeID, Shards: 16, MaxLen: 100_000, MaxDeliveries: 5,
		ClaimIdle: 15 * time.Second, NodeGoneAfter: 10 * time.Minute, Block: time.Second,
	}
}
