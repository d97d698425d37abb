// Package notify sends webhooks: every durable event an operator asks for, signed the Standard
// Webhooks way, at least once and in seq order per conversation; and, for each new message, a
// notification.requested for each recipient whose WebSockets did not receive it in time.
//
// The work is durable in PostgreSQL (db/migrations/00003_webhooks.sql): the dispatcher hands each
// published event over in the transaction that deletes its outbox row, so nothing is skipped by a
// restart or a node's death. The work is spread over Shards by conversation; each shard is sent
// by the one node holding its lease (Leases), so each webhook is sent by one node at a time.
package notify

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/internal/setting"
)

// Shards is how many parts the webhook work is spread over, by conversation; the migration
// makes one lease per shard.
const Shards = 16

// ShardOf is the shard of a conversation's webhooks and notification jobs.
func ShardOf(conversationID uuid.UUID) int16 {
	h := fnv.New32a()
	h.Write(conversationID[:])
	return int16(h.Sum32() % Shards)
}

// NotificationRequested is the type of the webhook that asks for a push notification.
const NotificationRequested = "notification.requested"

// Config configures webhooks and notifications; DefaultConfig fills it in. Without a URL the
// node sends nothing and the dispatcher hands nothing over.
type Config struct {
	// URL receives the webhooks (POST); empty turns webhooks off.
	URL string
	// Secret signs them: "whsec_<base64>" is that key, anything else is the key's bytes.
	Secret string
	// Events are the types sent: event types and notification.requested; empty is all of them.
	Events []string
	// NodeID names this node's leases; the server passes its node id.
	NodeID string
	// NotifyDelay is how long a recipient's WebSockets have to receive a new message before a
	// notification is requested for them.
	NotifyDelay time.Duration
	// Timeout bounds one POST.
	Timeout time.Duration
	// BackoffMin is the first wait after a failed POST; each failure doubles it, up to
	// BackoffMax (which wins when it is the smaller), with jitter.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// RetryFor is how long a webhook is retried before it is dead-lettered.
	RetryFor time.Duration
	// Concurrency is how many ordering keys (conversations) a node sends to at once.
	Concurrency int
	// PollInterval is how often a node looks for work when it was not woken.
	PollInterval time.Duration
	// LeaseTTL is how long a shard's lease lasts unrenewed: a dead node's shards move after it.
	LeaseTTL time.Duration
}

// DefaultConfig returns the defaults, webhooks off.
func DefaultConfig() Config {
	return Config{
		NotifyDelay:  10 * time.Second,
		Timeout:      10 * time.Second,
		BackoffMin:   time.Second,
		BackoffMax:   10 * time.Minute,
		RetryFor:     24 * time.Hour,
		Concurrency:  32,
		PollInterval: 500 * time.Millisecond,
		LeaseTTL:     15 * time.Second,
	}
}

// Enabled says whether webhooks are configured.
func (c Config) Enabled() bool { return c.URL != "" }

// Wants says whether webhooks of type typ are sent.
func (c Config) Wants(typ string) bool {
	return c.Enabled() && (len(c.Events) == 0 || slices.Contains(c.Events, typ))
}

// Settings are the numeric and duration settings of Config with their ranges.
func Settings() []setting.Setting[Config] {
	return []setting.Setting[Config]{
		setting.Duration("Webhook.NotifyDelay", func(c *Config) *time.Duration { return &c.NotifyDelay }, 10*time.Millisecond, time.Hour),
		setting.Duration("Webhook.Timeout", func(c *Config) *time.Duration { return &c.Timeout }, 10*time.Millisecond, 5*time.Minute),
		setting.Duration("Webhook.BackoffMin", func(c *Config) *time.Duration { return &c.BackoffMin }, time.Millisecond, time.Hour),
		setting.Duration("Webhook.BackoffMax", func(c *Config) *time.Duration { return &c.BackoffMax }, time.Millisecond, 24*time.Hour),
		setting.Duration("Webhook.RetryFor", func(c *Config) *time.Duration { return &c.RetryFor }, time.Millisecond, 30*24*time.Hour),
		setting.Int("Webhook.Concurrency", func(c *Config) *int { return &c.Concurrency }, 1, 1024),
		setting.Duration("Webhook.PollInterval", func(c *Config) *time.Duration { return &c.PollInterval }, 10*time.Millisecond, time.Minute),
		setting.Duration("Webhook.LeaseTTL", func(c *Config) *time.Duration { return &c.LeaseTTL }, 100*time.Millisecond, 10*time.Minute),
	}
}

// Validate refuses a configuration webhooks cannot run with, naming the first bad setting.
func (c Config) Validate() error {
	if err := setting.CheckAll(&c, Settings()); err != nil {
		return err
	}
	if c.URL == "" {
		return nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &setting.Error{Name: "Webhook.URL", Reason: fmt.Sprintf("is not an http or https URL (got %q)", c.URL)}
	}
	if c.Secret == "" {
		return &setting.Error{Name: "Webhook.Secret", Reason: "must be set when Webhook.URL is (webhooks are always signed)"}
	}
	if _, err := newSigner(c.Secret); err != nil {
		return &setting.Error{Name: "Webhook.Secret", Reason: err.Error()}
	}
	for _, t := range c.Events {
		if t != NotificationRequested && !api.EventType(t).Valid() {
			return &setting.Error{Name: "Webhook.Events", Reason: fmt.Sprintf("has %q, which is neither an event type nor %s", t, NotificationRequested)}
		}
	}
	return nil
}
