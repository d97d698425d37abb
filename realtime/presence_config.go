package realtime

import (
	"time"

	"github.com/parleyhq/parley/internal/setting"
)

// PresenceConfig tunes presence: who is online, and what connections watching them are told.
type PresenceConfig struct {
	// Grace is how long a user stays online on a node after their last connection there closes:
	// a reconnect within it shows nothing.
	Grace time.Duration
	// LeaseTTL is how long a node's lease in Redis lasts without renewal: once it lapses, every
	// node takes that node's users as gone from it.
	LeaseTTL time.Duration
	// LeaseRenew is how often a node renews its lease (at least three times a LeaseTTL, whatever
	// this says, so a short TTL in tests needs no matching renewal).
	LeaseRenew time.Duration
	// Coalesce is the window over which a connection's presence changes are gathered into one
	// frame; a change undone within it is not sent.
	Coalesce time.Duration
	// MaxSubscriptions caps the users one connection watches.
	MaxSubscriptions int
	// ResyncInterval is how often a node reads every live node's users from Redis again, the
	// safety net under pub/sub.
	ResyncInterval time.Duration
}

// DefaultPresenceConfig returns the defaults.
func DefaultPresenceConfig() PresenceConfig {
	return PresenceConfig{
		Grace: 10 * time.Second, LeaseTTL: 45 * time.Second, LeaseRenew: 15 * time.Second,
		Coalesce: time.Second, MaxSubscriptions: 500, ResyncInterval: time.Minute,
	}
}

// PresenceSettings are the settings of PresenceConfig with their ranges. They hold each on its
// own (no rule ties LeaseRenew to LeaseTTL: renewalInterval does), so every value in range runs.
func PresenceSettings() []setting.Setting[PresenceConfig] {
	return []setting.Setting[PresenceConfig]{
		setting.Duration("Presence.Grace", func(c *PresenceConfig) *time.Duration { return &c.Grace }, 0, 10*time.Minute),
		setting.Duration("Presence.LeaseTTL", func(c *PresenceConfig) *time.Duration { return &c.LeaseTTL }, 30*time.Millisecond, 10*time.Minute),
		setting.Duration("Presence.LeaseRenew", func(c *PresenceConfig) *time.Duration { return &c.LeaseRenew }, 10*time.Millisecond, 10*time.Minute),
		setting.Duration("Presence.Coalesce", func(c *PresenceConfig) *time.Duration { return &c.Coalesce }, 0, time.Minute),
		setting.Int("Presence.MaxSubscriptions", func(c *PresenceConfig) *int { return &c.MaxSubscriptions }, 1, 100_000),
		setting.Duration("Presence.ResyncInterval", func(c *PresenceConfig) *time.Duration { return &c.ResyncInterval }, 10*time.Millisecond, time.Hour),
	}
}

// Validate refuses a configuration presence cannot run with.
func (c PresenceConfig) Validate() error { return setting.CheckAll(&c, PresenceSettings()) }

// renewalInterval is how often the lease is renewed: LeaseRenew, or a third of LeaseTTL when that
// is shorter, so a lease never lapses on a node that is alive.
func (c PresenceConfig) renewalInterval() time.Duration { return min(c.LeaseRenew, c.LeaseTTL/3) }

// lapseCheckInterval is how often a node looks for lapsed leases: three times a renewal, so a dead
// node is seen gone at most LeaseTTL plus a third of a renewal after its last one.
func (c PresenceConfig) lapseCheckInterval() time.Duration {
	return max(c.renewalInterval()/3, time.Millisecond)
}

// hubPresenceSettings are PresenceSettings as settings of HubConfig, named Hub.Presence.*.
func hubPresenceSettings() []setting.Setting[HubConfig] {
	var out []setting.Setting[HubConfig]
	for _, s := range PresenceSettings() {
		lifted := setting.Within(s, func(c *HubConfig) *PresenceConfig { return &c.Presence })
		lifted.Name = "Hub." + s.Name
		out = append(out, lifted)
	}
	return out
}
