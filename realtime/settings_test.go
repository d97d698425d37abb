package realtime

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/internal/setting"
)

func TestDefaultConfigsAreValid(t *testing.T) {
	t.Parallel()
	require.NoError(t, DefaultHubConfig().Validate())
	require.NoError(t, DefaultDispatcherConfig().Validate())
	require.NoError(t, DefaultRedisConfig("redis://127.0.0.1:6379/0", "node-a").Validate())
	require.NoError(t, DefaultRedisConfig("", "node-a").Validate(), "no URL: a server without Redis")
}

// What used to panic or misbehave later (a ticker of zero, a divide by zero, every connection
// closed as a slow consumer) is refused when the configuration is checked.
func TestValidateRefusesWhatWouldFailLater(t *testing.T) {
	t.Parallel()
	hub := func(change func(*HubConfig)) error {
		cfg := DefaultHubConfig()
		change(&cfg)
		return cfg.Validate()
	}
	require.EqualError(t, hub(func(c *HubConfig) { c.HeartbeatInterval = 0 }),
		"Hub.HeartbeatInterval must be between 1s and 10m0s (got 0s)")
	require.EqualError(t, hub(func(c *HubConfig) { c.QueueSize = 0 }),
		"Hub.QueueSize must be between 8 and 65536 (got 0)")
	require.EqualError(t, hub(func(c *HubConfig) { c.MaxConnsPerUser = -1 }),
		"Hub.MaxConnsPerUser must be between 0 and 100000 (got -1)")
	require.EqualError(t, hub(func(c *HubConfig) { c.MaxConcurrentResumes = 0 }),
		"Hub.MaxConcurrentResumes must be between 1 and 10000 (got 0)")
	require.EqualError(t, hub(func(c *HubConfig) { c.UnknownConversations = 0 }),
		"Hub.UnknownConversations must be between 1 and 10000000 (got 0)")
	require.EqualError(t, hub(func(c *HubConfig) { c.TypingRate = -0.5 }),
		"Hub.TypingRate must be between 0 and 6000 a minute (got -30)")
	require.EqualError(t, hub(func(c *HubConfig) { c.TypingRate = rate.Limit(math.NaN()) }),
		"Hub.TypingRate must be between 0 and 6000 a minute (got -1)")
	require.EqualError(t, hub(func(c *HubConfig) { c.TypingBurst = 0 }),
		"Hub.TypingBurst must be at least 1 while its rate is above 0 (got 0)")
	require.EqualError(t, hub(func(c *HubConfig) { c.OriginPatterns = []string{"app.example.com", "[a-"} }),
		`Hub.OriginPatterns has "[a-", which is not a host pattern such as *.example.com`)
	require.NoError(t, hub(func(c *HubConfig) { c.TypingRate, c.TypingBurst, c.TypingThrottle = 0, 0, 0 }),
		"zero is no limit")

	dispatcher := DefaultDispatcherConfig()
	dispatcher.PollInterval = 0
	require.EqualError(t, dispatcher.Validate(), "Dispatcher.PollInterval must be between 10ms and 1h0m0s (got 0s)")
	dispatcher = DefaultDispatcherConfig()
	dispatcher.BatchSize = -5
	require.EqualError(t, dispatcher.Validate(), "Dispatcher.BatchSize must be between 1 and 10000 (got -5)")

	redis := func(change func(*RedisConfig)) error {
		cfg := DefaultRedisConfig("redis://127.0.0.1:6379/0", "node-a")
		change(&cfg)
		return cfg.Validate()
	}
	require.EqualError(t, redis(func(c *RedisConfig) { c.Shards = 0 }), "Redis.Shards must be between 1 and 1024 (got 0)")
	require.EqualError(t, redis(func(c *RedisConfig) { c.Block = time.Microsecond }),
		"Redis.Block must be between 10ms and 1m0s (got 1µs)")
	require.EqualError(t, redis(func(c *RedisConfig) { c.NodeGoneAfter = 0 }),
		"Redis.NodeGoneAfter must be between 5s and 168h0m0s (got 0s)")
	require.ErrorContains(t, redis(func(c *RedisConfig) { c.URL = "ftp://127.0.0.1" }), "Redis.URL is not a Redis URL")
	require.ErrorContains(t, redis(func(c *RedisConfig) { c.Namespace = "a{b}" }), "Redis.Namespace must not contain '{'")
	require.ErrorContains(t, redis(func(c *RedisConfig) { c.NodeID = "" }), "Redis.NodeID must be 1 to 128 characters")
	require.ErrorContains(t, redis(func(c *RedisConfig) { c.NodeID = "node a" }), "Redis.NodeID must not contain ' '")
}

// Each setting takes its bounds and refuses one beyond either.
func TestSettingsTakeTheirBoundsOnly(t *testing.T) {
	t.Parallel()
	checkBounds(t, DefaultHubConfig(), HubSettings(), HubConfig.Validate, func(c *HubConfig) { c.TypingRate = 0 })
	checkBounds(t, DefaultDispatcherConfig(), DispatcherSettings(), DispatcherConfig.Validate, nil)
	checkBounds(t, DefaultRedisConfig("", "node-a"), RedisSettings(), RedisConfig.Validate, nil)
}

// checkBounds sets each setting to its bounds and beyond them on base, made ready by relax so
// that no other rule (a burst under a rate) refuses a bound.
func checkBounds[C any](t *testing.T, base C, settings []setting.Setting[C], validate func(C) error, relax func(*C)) {
	t.Helper()
	if relax != nil {
		relax(&base)
	}
	for _, s := range settings {
		for _, v := range []int64{s.Min, s.Max} {
			cfg := base
			s.Set(&cfg, v)
			require.NoError(t, validate(cfg), "%s = %s", s.Name, s.Format(v))
		}
		for _, v := range []int64{s.Min - 1, s.Max + 1} {
			cfg := base
			s.Set(&cfg, v)
			var refused *setting.Error
			require.ErrorAs(t, validate(cfg), &refused, "%s = %s", s.Name, s.Format(v))
			require.Equal(t, s.Name, refused.Name)
		}
	}
}

// A numeric field added to a configuration without a range fails here, not in production.
func TestEveryNumericFieldHasASetting(t *testing.T) {
	t.Parallel()
	requireSettings(t, "Hub", reflect.TypeFor[HubConfig](), HubSettings())
	requireSettings(t, "Dispatcher", reflect.TypeFor[DispatcherConfig](), DispatcherSettings())
	requireSettings(t, "Redis", reflect.TypeFor[RedisConfig](), RedisSettings())
}

func requireSettings[C any](t *testing.T, prefix string, config reflect.Type, settings []setting.Setting[C]) {
	t.Helper()
	names := map[string]bool{}
	for _, s := range settings {
		names[s.Name] = true
	}
	for f := range config.Fields() {
		switch f.Type.Kind() {
		case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
			require.True(t, names[prefix+"."+f.Name], "%s.%s has no range in %sSettings", prefix, f.Name, prefix)
		}
	}
}

// A typing rate reads back as the whole number a minute the flag set, and no rate but 0 reads as
// 0, which is no limit.
func TestTypingRateReadsAMinute(t *testing.T) {
	t.Parallel()
	for r, want := range map[rate.Limit]int64{0: 0, 0.5: 30, 6001.0 / 60: 6001, 1e-9: 1, -1e-9: -1, -0.5: -30} {
		require.Equal(t, want, perMinute(r), "rate %v", float64(r))
	}
	require.Greater(t, perMinute(rate.Inf), int64(6000), "no number of a minute: out of range")
}
