package server

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleyhq/parley/internal/setting"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/realtime"
)

// Setting is one numeric or duration setting of Config with its range and, when `parley serve`
// has one for it, its flag. The command registers its flags from Settings, so a flag cannot be
// without a range, nor a range without its flag's name in the error that refuses it.
type Setting struct {
	setting.Setting[Config]
	// Flag is the flag's name without dashes; empty for a setting only a library user sets.
	Flag string
	// Usage is the flag's help without the range, which FlagUsage adds.
	Usage string
}

// FlagUsage is the flag's help with the values it takes.
func (s Setting) FlagUsage() string { return s.Usage + " (" + s.Range() + ")" }

// Settings is every numeric and duration setting of Config: the server's own, then the hub's,
// the dispatcher's and the Redis broker's.
func Settings() []Setting {
	all := ownSettings()
	for _, r := range rateSettings() {
		all = append(all, r.perMinute, r.burst)
	}
	all = append(all, within(realtime.HubSettings(), func(c *Config) *realtime.HubConfig { return &c.Hub })...)
	all = append(all, within(realtime.DispatcherSettings(), func(c *Config) *realtime.DispatcherConfig { return &c.Dispatcher })...)
	all = append(all, within(realtime.RedisSettings(), func(c *Config) *realtime.RedisConfig { return &c.Redis })...)
	all = append(all, within(notify.Settings(), func(c *Config) *notify.Config { return &c.Webhook })...)
	flags := flagDocs()
	rows := make([]Setting, len(all))
	for i, s := range all {
		rows[i] = Setting{Setting: s, Flag: flags[s.Name].flag, Usage: flags[s.Name].usage}
	}
	return rows
}

func ownSettings() []setting.Setting[Config] {
	return []setting.Setting[Config]{
		setting.Duration("StartupTimeout", func(c *Config) *time.Duration { return &c.StartupTimeout }, 0, time.Hour),
		setting.Int("MaxBodyBytes", func(c *Config) *int64 { return &c.MaxBodyBytes }, 1<<10, 64<<20),
		setting.Int("MaxHeaderBytes", func(c *Config) *int { return &c.MaxHeaderBytes }, 1<<10, 1<<20),
		setting.Duration("ReadHeaderTimeout", func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }, 100*time.Millisecond, 5*time.Minute),
		setting.Duration("ReadTimeout", func(c *Config) *time.Duration { return &c.ReadTimeout }, 100*time.Millisecond, time.Hour),
		setting.Duration("WriteTimeout", func(c *Config) *time.Duration { return &c.WriteTimeout }, 100*time.Millisecond, time.Hour),
		setting.Duration("IdleTimeout", func(c *Config) *time.Duration { return &c.IdleTimeout }, time.Second, time.Hour),
		setting.Duration("ShutdownTimeout", func(c *Config) *time.Duration { return &c.ShutdownTimeout }, 100*time.Millisecond, time.Hour),
		// Two at least: with the in-process broker, delivering a claimed outbox batch may read
		// from the store while the claim holds a connection.
		setting.Int("DBMaxConns", func(c *Config) *int32 { return &c.DBMaxConns }, 2, 10_000),
		setting.Int("MaxMembers", func(c *Config) *int { return &c.MaxMembers }, 0, 1_000_000),
	}
}

// rateSetting is one request limit of Limits: its rate, 0 for no limit, and its burst.
type rateSetting struct{ perMinute, burst setting.Setting[Config] }

func rateSettings() []rateSetting {
	limit := func(name string, r func(*Config) *Rate) rateSetting {
		return rateSetting{
			perMinute: setting.Int(name+".PerMinute", func(c *Config) *int { return &r(c).PerMinute }, 0, 1_000_000),
			burst:     setting.Int(name+".Burst", func(c *Config) *int { return &r(c).Burst }, 0, 100_000),
		}
	}
	return []rateSetting{
		limit("Limits.Sends", func(c *Config) *Rate { return &c.Limits.Sends }),
		limit("Limits.Writes", func(c *Config) *Rate { return &c.Limits.Writes }),
		limit("Limits.Handshakes", func(c *Config) *Rate { return &c.Limits.Handshakes }),
	}
}

func within[C any](settings []setting.Setting[C], part func(*Config) *C) []setting.Setting[Config] {
	lifted := make([]setting.Setting[Config], len(settings))
	for i, s := range settings {
		lifted[i] = setting.Within(s, part)
	}
	return lifted
}

// flagDoc is the flag of `parley serve` that sets a setting, and the flag's help. Settings that
// are not numbers have their flags registered by the command itself; they are here for their
// names in errors.
type flagDoc struct{ flag, usage string }

// flagDocs maps settings, by their names in Config, to their flags.
func flagDocs() map[string]flagDoc {
	return map[string]flagDoc{
		"StartupTimeout":                {"startup-timeout", "how long start-up retries PostgreSQL while it does not answer, 0 for one try"},
		"MaxBodyBytes":                  {"max-body-bytes", "largest request body accepted; a larger one gets 413"},
		"MaxHeaderBytes":                {"max-header-bytes", "largest request header block accepted; a larger one gets 431"},
		"ReadHeaderTimeout":             {"read-header-timeout", "time allowed to read request headers"},
		"ReadTimeout":                   {"read-timeout", "time allowed to read a whole request"},
		"WriteTimeout":                  {"write-timeout", "time allowed to write a response"},
		"IdleTimeout":                   {"idle-timeout", "how long an idle keep-alive connection stays open"},
		"ShutdownTimeout":               {"shutdown-timeout", "how long shutdown waits for in-flight requests"},
		"DBMaxConns":                    {"db-max-conns", "PostgreSQL connections in the pool"},
		"MaxMembers":                    {"max-members", "members one conversation may have, 0 for no limit"},
		"Limits.Sends.PerMinute":        {"limit-sends-per-minute", "messages one user may send a minute, on average, 0 for no limit"},
		"Limits.Sends.Burst":            {"limit-sends-burst", "messages one user may send at once after a quiet spell; at least 1 under a limit"},
		"Limits.Writes.PerMinute":       {"limit-writes-per-minute", "other writes (POST, PUT, PATCH, DELETE) one user may make a minute, 0 for no limit"},
		"Limits.Writes.Burst":           {"limit-writes-burst", "other writes one user may make at once; at least 1 under a limit"},
		"Limits.Handshakes.PerMinute":   {"limit-handshakes-per-minute", "WebSocket handshakes one client address may make a minute, 0 for no limit"},
		"Limits.Handshakes.Burst":       {"limit-handshakes-burst", "WebSocket handshakes one client address may make at once; at least 1 under a limit"},
		"Hub.QueueSize":                 {"ws-queue-size", "frames queued per WebSocket before it is closed as a slow consumer, with 4001"},
		"Hub.MaxFrameBytes":             {"ws-max-frame-bytes", "largest frame a client may send; a larger one closes with 1009"},
		"Hub.ResumeLimit":               {"resume-limit", "events replayed per conversation on resume; beyond it the client gets resync"},
		"Hub.MaxConcurrentResumes":      {"max-concurrent-resumes", "resume replays running at once on a node; others wait their turn"},
		"Hub.HeartbeatInterval":         {"heartbeat", "WebSocket ping interval"},
		"Hub.TypingRate":                {"limit-typing-per-minute", "typing frames one connection may send a minute, 0 for no limit"},
		"Hub.TypingBurst":               {"limit-typing-burst", "typing frames one connection may send at once; at least 1 under a limit"},
		"Hub.MaxConnsPerUser":           {"max-conns-per-user", "WebSockets one user may hold on a node, the next closed with 4429; 0 for no limit"},
		"Hub.Presence.Grace":            {"presence-grace", "how long a user stays online after their last WebSocket on a node closes; a reconnect within it shows nothing"},
		"Hub.Presence.LeaseTTL":         {"presence-lease-ttl", "how long a node's presence lease lasts unrenewed; once it lapses the other nodes take its users offline"},
		"Hub.Presence.MaxSubscriptions": {"presence-max-subscriptions", "users one WebSocket may watch with presence.subscribe"},
		"Redis.Shards":                  {"shards", "Redis streams events are spread over, by conversation; the same on every node"},
		"Redis.NodeGoneAfter":           {"node-gone-after", "remove the stream groups of nodes silent this long"},
		"Webhook.NotifyDelay":           {"notify-delay", "how long a recipient's WebSockets have to receive a new message before a notification.requested webhook is sent for them"},
		"Webhook.Timeout":               {"webhook-timeout", "time allowed for one webhook POST"},
		"Webhook.RetryFor":              {"webhook-retry-for", "how long a failing webhook is retried before it is dead-lettered"},
		"Webhook.Concurrency":           {"webhook-concurrency", "conversations a node sends webhooks for at once"},

		"DatabaseURL":        {flag: "database-url"},
		"Auth.JWKSURL":       {flag: "jwks-url"},
		"ClientAddrHeader":   {flag: "client-addr-header"},
		"Hub.OriginPatterns": {flag: "ws-origins"},
		"Redis.URL":          {flag: "redis-url"},
		"Redis.Namespace":    {flag: "redis-namespace"},
		"Redis.NodeID":       {flag: "node-id"},
		"Webhook.URL":        {flag: "webhook-url"},
		"Webhook.Secret":     {flag: "webhook-secret"},
		"Webhook.Events":     {flag: "webhook-events"},
	}
}

// Validate refuses a configuration Parley cannot run with: the first setting out of range, named
// by its flag (--heartbeat) where `parley serve` has one and by its place in Config
// (Dispatcher.PollInterval) otherwise, with the values it may take. New calls it; so does
// `parley serve`, before it connects to anything.
func (c Config) Validate() error {
	err := c.check()
	var refused *setting.Error
	if errors.As(err, &refused) {
		if flag := flagDocs()[refused.Name].flag; flag != "" {
			return &setting.Error{Name: "--" + flag, Reason: refused.Reason}
		}
	}
	return err
}

func (c Config) check() error {
	for _, s := range Settings() {
		if err := s.Check(&c); err != nil {
			return err
		}
	}
	for _, r := range rateSettings() {
		if err := setting.CheckBurst(&c, r.perMinute, r.burst); err != nil {
			return err
		}
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		return err
	}
	if err := c.Auth.check(); err != nil {
		return err
	}
	if h := c.ClientAddrHeader; h != "" && strings.IndexFunc(h, notTokenChar) >= 0 {
		return &setting.Error{Name: "ClientAddrHeader", Reason: fmt.Sprintf("is not a header name (got %q)", h)}
	}
	if err := c.Hub.Validate(); err != nil {
		return err
	}
	if err := c.Dispatcher.Validate(); err != nil {
		return err
	}
	if err := c.Redis.Validate(); err != nil {
		return err
	}
	return c.Webhook.Validate()
}

func (a AuthConfig) check() error {
	if a.JWKSURL == "" {
		if len(a.Secret) == 0 {
			return &setting.Error{Name: "Auth", Reason: "needs a JWKS URL or a secret to verify tokens with"}
		}
		return nil
	}
	u, err := url.Parse(a.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return &setting.Error{Name: "Auth.JWKSURL", Reason: fmt.Sprintf("must be an http or https URL (got %q)", a.JWKSURL)}
	}
	return nil
}

// checkDatabaseURL refuses a database URL pgx cannot use, saying why without echoing it: it may
// hold a password, which pgx's own message redacts only as well as it can parse the URL.
func checkDatabaseURL(dsn string) error {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return &setting.Error{Name: "DatabaseURL", Reason: fmt.Sprintf("must be a postgres:// or postgresql:// URL, or key=value settings (got a %s: URL)", u.Scheme)}
	}
	if _, err := pgxpool.ParseConfig(dsn); err != nil {
		reason := err.Error()
		if _, after, found := strings.Cut(reason, "`: "); found { // after "cannot parse `<url>`: "
			reason = after
		}
		return &setting.Error{Name: "DatabaseURL", Reason: "is not a PostgreSQL URL: " + reason}
	}
	return nil
}

// notTokenChar reports a rune that may not appear in a header name (RFC 9110's token).
func notTokenChar(r rune) bool {
	return r > '~' || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}
