package realtime

import (
	"fmt"
	"math"
	"path"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/internal/setting"
)

// HubSettings are the numeric and duration settings of HubConfig with their ranges. A zero
// TypingThrottle, TypingRate or MaxConnsPerUser is no limit; everything a ticker or timer runs on
// is above zero.
func HubSettings() []setting.Setting[HubConfig] {
	return append([]setting.Setting[HubConfig]{
		setting.Int("Hub.QueueSize", func(c *HubConfig) *int { return &c.QueueSize }, 8, 1<<16),
		setting.Duration("Hub.ReorderTimeout", func(c *HubConfig) *time.Duration { return &c.ReorderTimeout }, time.Millisecond, 10*time.Second),
		setting.Int("Hub.MaxHeld", func(c *HubConfig) *int { return &c.MaxHeld }, 1, 1_000_000),
		setting.Int("Hub.ResumeLimit", func(c *HubConfig) *int { return &c.ResumeLimit }, 1, 1_000_000),
		setting.Int("Hub.MaxConcurrentResumes", func(c *HubConfig) *int { return &c.MaxConcurrentResumes }, 1, 10_000),
		setting.Duration("Hub.ResumeSlotWait", func(c *HubConfig) *time.Duration { return &c.ResumeSlotWait }, 10*time.Millisecond, 5*time.Minute),
		setting.Duration("Hub.ResumeWait", func(c *HubConfig) *time.Duration { return &c.ResumeWait }, time.Millisecond, time.Minute),
		setting.Duration("Hub.HeartbeatInterval", func(c *HubConfig) *time.Duration { return &c.HeartbeatInterval }, time.Second, 10*time.Minute),
		setting.Duration("Hub.PongTimeout", func(c *HubConfig) *time.Duration { return &c.PongTimeout }, 100*time.Millisecond, 10*time.Minute),
		setting.Duration("Hub.WriteTimeout", func(c *HubConfig) *time.Duration { return &c.WriteTimeout }, 100*time.Millisecond, 10*time.Minute),
		setting.Int("Hub.MaxFrameBytes", func(c *HubConfig) *int64 { return &c.MaxFrameBytes }, 1<<10, 16<<20),
		setting.Duration("Hub.TypingThrottle", func(c *HubConfig) *time.Duration { return &c.TypingThrottle }, 0, time.Minute),
		typingRate(),
		typingBurst(),
		setting.Int("Hub.MaxConnsPerUser", func(c *HubConfig) *int { return &c.MaxConnsPerUser }, 0, 100_000),
		setting.Int("Hub.UnknownConversations", func(c *HubConfig) *int { return &c.UnknownConversations }, 1, 10_000_000),
	}, hubPresenceSettings()...)
}

// typingRate is TypingRate counted a minute, as people think of typing frames and as the flag
// takes it.
func typingRate() setting.Setting[HubConfig] {
	return setting.Setting[HubConfig]{
		Name: "Hub.TypingRate", Min: 0, Max: 6000, Unit: "a minute",
		Get: func(c *HubConfig) int64 { return perMinute(c.TypingRate) },
		Set: func(c *HubConfig, v int64) { c.TypingRate = rate.Limit(float64(v) / 60) },
	}
}

// typingBurst is at least 1 while TypingRate is above 0: see Validate.
func typingBurst() setting.Setting[HubConfig] {
	return setting.Int("Hub.TypingBurst", func(c *HubConfig) *int { return &c.TypingBurst }, 0, 1000)
}

// perMinute counts a rate a minute, rounded away from zero (so that only 0 reads as 0, no
// limit, and a negative rate stays negative); NaN reads as -1, out of any range.
func perMinute(r rate.Limit) int64 {
	m := float64(r) * 60
	if math.IsNaN(m) {
		return -1
	}
	m = max(min(m, 1<<53), -(1 << 53))
	if whole := math.Round(m); whole != 0 && math.Abs(m-whole) < 1e-6 {
		return int64(whole) // what the flag set, read back through float division
	}
	if m < 0 {
		return int64(math.Floor(m))
	}
	return int64(math.Ceil(m))
}

// Validate refuses a configuration the hub cannot run with, naming the first setting out of range.
func (c HubConfig) Validate() error {
	if err := setting.CheckAll(&c, HubSettings()); err != nil {
		return err
	}
	if err := setting.CheckBurst(&c, typingRate(), typingBurst()); err != nil {
		return err
	}
	for _, pattern := range c.OriginPatterns {
		if _, err := path.Match(pattern, ""); err != nil || strings.TrimSpace(pattern) == "" {
			return &setting.Error{Name: "Hub.OriginPatterns", Reason: fmt.Sprintf("has %q, which is not a host pattern such as *.example.com", pattern)}
		}
	}
	return nil
}

// DispatcherSettings are the settings of DispatcherConfig with their ranges.
func DispatcherSettings() []setting.Setting[DispatcherConfig] {
	return []setting.Setting[DispatcherConfig]{
		setting.Int("Dispatcher.BatchSize", func(c *DispatcherConfig) *int { return &c.BatchSize }, 1, 10_000),
		setting.Duration("Dispatcher.PollInterval", func(c *DispatcherConfig) *time.Duration { return &c.PollInterval }, 10*time.Millisecond, time.Hour),
		setting.Duration("Dispatcher.ReconnectDelay", func(c *DispatcherConfig) *time.Duration { return &c.ReconnectDelay }, 10*time.Millisecond, time.Minute),
		setting.Duration("Dispatcher.BreakerTimeout", func(c *DispatcherConfig) *time.Duration { return &c.BreakerTimeout }, 10*time.Millisecond, 10*time.Minute),
	}
}

// Validate refuses a configuration the dispatcher cannot run with.
func (c DispatcherConfig) Validate() error {
	return setting.CheckAll(&c, DispatcherSettings())
}

// RedisSettings are the numeric and duration settings of RedisConfig with their ranges. Block is
// at least 10 ms because go-redis sends whole milliseconds and a block of 0 waits forever; a
// node's heartbeat key without expiry (NodeGoneAfter 0) would never let its group go.
func RedisSettings() []setting.Setting[RedisConfig] {
	return []setting.Setting[RedisConfig]{
		setting.Int("Redis.Shards", func(c *RedisConfig) *int { return &c.Shards }, 1, 1024),
		setting.Int("Redis.MaxLen", func(c *RedisConfig) *int64 { return &c.MaxLen }, 1000, 1_000_000_000),
		setting.Int("Redis.MaxDeliveries", func(c *RedisConfig) *int64 { return &c.MaxDeliveries }, 1, 1000),
		setting.Duration("Redis.ClaimIdle", func(c *RedisConfig) *time.Duration { return &c.ClaimIdle }, 100*time.Millisecond, time.Hour),
		setting.Duration("Redis.NodeGoneAfter", func(c *RedisConfig) *time.Duration { return &c.NodeGoneAfter }, 5*time.Second, 7*24*time.Hour),
		setting.Duration("Redis.Block", func(c *RedisConfig) *time.Duration { return &c.Block }, 10*time.Millisecond, time.Minute),
	}
}

// Validate refuses a configuration the Redis broker cannot run with. An empty URL passes: it is
// how a server says it runs without Redis.
func (c RedisConfig) Validate() error {
	if err := setting.CheckAll(&c, RedisSettings()); err != nil {
		return err
	}
	if c.URL != "" {
		if _, err := redis.ParseURL(c.URL); err != nil {
			return &setting.Error{Name: "Redis.URL", Reason: fmt.Sprintf("is not a Redis URL: %v", err)}
		}
	}
	// A brace would move the hash tag of every stream key, so shards would no longer spread.
	if err := checkName(c.Namespace, "{}"); err != nil {
		return &setting.Error{Name: "Redis.Namespace", Reason: err.Error()}
	}
	if err := checkName(c.NodeID, ""); err != nil {
		return &setting.Error{Name: "Redis.NodeID", Reason: err.Error()}
	}
	return nil
}

// checkName accepts 1 to 128 printable characters other than spaces and those of refused.
func checkName(name, refused string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("must be 1 to 128 characters (got %d)", len(name))
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(refused, r) {
			return fmt.Errorf("must not contain %q (got %q)", r, name)
		}
	}
	return nil
}
