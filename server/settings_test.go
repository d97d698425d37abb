package server

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/internal/setting"
)

// validConfig is the defaults with a secret, as a server is configured at the least.
func validConfig() Config {
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Secret: []byte(testSecret)}
	return cfg
}

func TestDefaultConfigWithAuthIsValid(t *testing.T) {
	t.Parallel()
	require.NoError(t, validConfig().Validate())
	cfg := validConfig()
	cfg.Limits = Limits{} // no limits at all, as tests of delivery run
	require.NoError(t, cfg.Validate())
}

// Validate names a refused setting by its flag where `parley serve` has one, by its place in
// Config otherwise, and says the values it may take.
func TestValidateNamesTheFlagAndTheRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Hub.HeartbeatInterval = 0 }, "--heartbeat must be between 1s and 10m0s (got 0s)"},
		{func(c *Config) { c.Hub.QueueSize = 0 }, "--ws-queue-size must be between 8 and 65536 (got 0)"},
		{func(c *Config) { c.Redis.Shards = 0 }, "--shards must be between 1 and 1024 (got 0)"},
		{func(c *Config) { c.Dispatcher.PollInterval = 0 }, "Dispatcher.PollInterval must be between 10ms and 1h0m0s (got 0s)"},
		{func(c *Config) { c.Hub.ReorderTimeout = -time.Second }, "Hub.ReorderTimeout must be between 1ms and 10s (got -1s)"},
		{func(c *Config) { c.Limits.Sends.PerMinute = -1 }, "--limit-sends-per-minute must be between 0 and 1000000 (got -1)"},
		{func(c *Config) { c.Limits.Handshakes.Burst = -1 }, "--limit-handshakes-burst must be between 0 and 100000 (got -1)"},
		{func(c *Config) { c.Limits.Writes.Burst = 0 }, "--limit-writes-burst must be at least 1 while its rate is above 0 (got 0)"},
		{func(c *Config) { c.Hub.TypingBurst = 0 }, "--limit-typing-burst must be at least 1 while its rate is above 0 (got 0)"},
		{func(c *Config) { c.Hub.TypingRate = -1 }, "--limit-typing-per-minute must be between 0 and 6000 a minute (got -60)"},
		{func(c *Config) { c.MaxMembers = -1 }, "--max-members must be between 0 and 1000000 (got -1)"},
		{func(c *Config) { c.Hub.MaxConnsPerUser = -1 }, "--max-conns-per-user must be between 0 and 100000 (got -1)"},
		{func(c *Config) { c.Hub.MaxConcurrentResumes = 0 }, "--max-concurrent-resumes must be between 1 and 10000 (got 0)"},
		{func(c *Config) { c.DBMaxConns = 0 }, "--db-max-conns must be between 2 and 10000 (got 0)"},
		{func(c *Config) { c.ShutdownTimeout = 0 }, "--shutdown-timeout must be between 100ms and 1h0m0s (got 0s)"},
		{func(c *Config) { c.DatabaseURL = "postgres://%zz" }, "--database-url is not a PostgreSQL URL"},
		{func(c *Config) { c.DatabaseURL = "postgres://parley:s3cret@db:99999/parley" }, "--database-url is not a PostgreSQL URL: invalid port"},
		{func(c *Config) { c.DatabaseURL = "mysql://parley:s3cret@db:3306/parley" }, "--database-url must be a postgres:// or postgresql:// URL, or key=value settings (got a mysql: URL)"},
		{func(c *Config) { c.DatabaseURL = "mysql:parley:s3cret@db/parley" }, "--database-url must be a postgres:// or postgresql:// URL, or key=value settings (got a mysql: URL)"},
		{func(c *Config) { c.Redis.URL = "ftp://127.0.0.1" }, "--redis-url is not a Redis URL"},
		{func(c *Config) { c.Redis.Namespace = "" }, "--redis-namespace must be 1 to 128 characters (got 0)"},
		{func(c *Config) { c.Redis.NodeID = "node\ta" }, `--node-id must not contain '\t'`},
		{func(c *Config) { c.Hub.OriginPatterns = []string{""} }, `--ws-origins has ""`},
		{func(c *Config) { c.ClientAddrHeader = "X Forwarded" }, `--client-addr-header is not a header name (got "X Forwarded")`},
		{func(c *Config) { c.Auth.JWKSURL = "keys.example.com/jwks" }, "--jwks-url must be an http or https URL"},
		{func(c *Config) { c.Auth = AuthConfig{} }, "Auth needs a JWKS URL or a secret to verify tokens with"},
	} {
		cfg := validConfig()
		tc.change(&cfg)
		err := cfg.Validate()
		require.Error(t, err, tc.want)
		require.True(t, strings.HasPrefix(err.Error(), tc.want), "got %q, want %q", err, tc.want)
		require.NotContains(t, err.Error(), "\n")
		require.NotContains(t, err.Error(), "s3cret", "a password in a refused URL is never echoed")
		require.NotContains(t, err.Error(), "parley@", "a refused URL is never echoed")
	}
}

// Every setting takes its bounds and refuses a value beyond either, named as above.
func TestValidateEverySettingAtAndBeyondItsBounds(t *testing.T) {
	t.Parallel()
	base := validConfig()
	// Rates of 0 (no limit), so that a burst's lower bound of 0 is allowed.
	base.Limits.Sends.PerMinute, base.Limits.Writes.PerMinute, base.Limits.Handshakes.PerMinute = 0, 0, 0
	base.Hub.TypingRate = 0
	for _, s := range Settings() {
		name := s.Name
		if s.Flag != "" {
			name = "--" + s.Flag
		}
		for _, v := range []int64{s.Min, s.Max} {
			cfg := base
			s.Set(&cfg, v)
			require.NoError(t, cfg.Validate(), "%s %s", name, s.Format(v))
		}
		for _, v := range []int64{s.Min - 1, s.Max + 1} {
			cfg := base
			s.Set(&cfg, v)
			var refused *setting.Error
			require.ErrorAs(t, cfg.Validate(), &refused, "%s %s", name, s.Format(v))
			require.Equal(t, name, refused.Name)
			require.Contains(t, refused.Reason, "between "+s.Format(s.Min)+" and "+s.Format(s.Max))
		}
	}
}

// A numeric field added to Config without a range fails here, not in production; and every
// flag documented names a setting.
func TestEveryNumericFieldHasASetting(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, s := range Settings() {
		names[s.Name] = true
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for f := range typ.Fields() {
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(prefix+f.Name+".", f.Type)
			case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
				require.True(t, names[prefix+f.Name], "%s%s has no range in Settings", prefix, f.Name)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())

	for name, doc := range flagDocs() {
		if doc.usage != "" {
			require.True(t, names[name], "flag --%s documents %s, which is no setting", doc.flag, name)
		}
	}
}

// A library user of New gets the same check, before anything connects: the database here is
// unreachable, and the refusal is about the setting.
func TestNewRefusesAnInvalidConfigBeforeConnecting(t *testing.T) {
	t.Parallel()
	cfg := validConfig()
	cfg.DatabaseURL = "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"
	cfg.Hub.HeartbeatInterval = 0
	_, err := New(context.Background(), cfg, discardLogger())
	require.ErrorContains(t, err, "--heartbeat must be between 1s and 10m0s (got 0s)")
	require.NotContains(t, err.Error(), "connect")
}
