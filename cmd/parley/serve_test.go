package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// serveCancelled runs `parley serve` with args under a context cancelled already: a start whose
// settings pass stops at its first connection, to an unreachable database, without making it,
// and says "parley stopped before it started" with no error.
func serveCancelled(t *testing.T, args ...string) (output string, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	args = append([]string{"serve", "--jwt-secret", "a-secret-for-the-settings-tests", "--addr", "127.0.0.1:0",
		"--database-url", "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"}, args...)
	err = run(ctx, args, &out, &out)
	return out.String(), err
}

// noLimits turns every rate off, so that a burst of 0 is allowed: a burst counts only under a rate.
func noLimits() []string {
	return []string{"--limit-sends-per-minute", "0", "--limit-writes-per-minute", "0",
		"--limit-handshakes-per-minute", "0", "--limit-typing-per-minute", "0"}
}

// Every numeric and duration flag of `parley serve` has a range, says it in its help, and a value
// beyond it stops the start with one line naming the flag and the range. A flag registered
// without a range fails here.
func TestServeRefusesEveryNumericFlagOutOfRange(t *testing.T) {
	t.Parallel()
	fs := serveCommand(io.Discard).FlagSet
	checked := 0
	fs.VisitAll(func(f *flag.Flag) {
		sf, ok := f.Value.(*settingFlag)
		if !ok {
			switch f.Value.(flag.Getter).Get().(type) {
			case string, bool:
			default:
				t.Errorf("--%s is a number without a range: add it to server.Settings", f.Name)
			}
			return
		}
		checked++
		s := sf.setting
		t.Run(f.Name, func(t *testing.T) {
			require.Contains(t, f.Usage, "("+s.Range()+")", "the help says the range")
			for _, bad := range []int64{s.Min - 1, s.Max + 1} {
				out, err := serveCancelled(t, "--"+f.Name, s.Format(bad))
				require.Error(t, err)
				require.Empty(t, out, "nothing printed besides the error: no usage")
				require.NotContains(t, err.Error(), "\n")
				want := "--" + f.Name + " must be between " + s.Format(s.Min) + " and " + s.Format(s.Max)
				require.True(t, strings.HasPrefix(err.Error(), want), "got %q, want %q…", err, want)
				require.Contains(t, err.Error(), "(got "+s.Format(bad)+")")
			}
			for _, good := range []string{s.Format(s.Min), s.Format(s.Max), f.DefValue} {
				out, err := serveCancelled(t, append(noLimits(), "--"+f.Name, good)...)
				require.NoError(t, err, "--%s %s passes", f.Name, good)
				require.Contains(t, out, "parley stopped before it started", "--%s %s passes; the start goes on to connect", f.Name, good)
			}
		})
	})
	require.Greater(t, checked, 20)
}

// Settings that are not numbers are checked as early, in one line naming the flag.
func TestServeRefusesMalformedSettings(t *testing.T) {
	t.Parallel()
	for flagName, value := range map[string]string{
		"database-url":       "postgres://%zz",
		"redis-url":          "ftp://127.0.0.1",
		"jwks-url":           "keys.example.com/jwks",
		"ws-origins":         "app.example.com,[a-",
		"client-addr-header": "X Forwarded For",
		"redis-namespace":    "parley{a}",
		"node-id":            "",
		"limit-sends-burst":  "0",
	} {
		out, err := serveCancelled(t, "--"+flagName, value)
		require.Error(t, err, flagName)
		require.Empty(t, out)
		require.True(t, strings.HasPrefix(err.Error(), "--"+flagName+" "), "got %q", err)
		require.NotContains(t, err.Error(), "\n")
	}
	// A syntax error names the flag too, and what it takes.
	out, err := serveCancelled(t, "--heartbeat", "25")
	require.EqualError(t, err, `--heartbeat: "25" is not a duration (want one such as 250ms, 30s or 5m)`)
	require.Empty(t, out)
}

// A setting from the environment is checked like one from the command line.
func TestServeChecksSettingsFromTheEnvironment(t *testing.T) {
	t.Setenv("PARLEY_HEARTBEAT", "0s")
	_, err := serveCancelled(t)
	require.EqualError(t, err, "--heartbeat must be between 1s and 10m0s (got 0s)")
}

// Tracing is set from the OTEL_* environment: an exporter Parley does not know stops the start,
// naming the variable.
func TestServeRefusesAnUnknownTraceExporter(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	_, err := serveCancelled(t)
	require.ErrorContains(t, err, `tracing: OTEL_TRACES_EXPORTER "zipkin": want otlp, console or none`)
}

// With an OTLP endpoint set, serve turns tracing on; stopped before it started, it still shuts
// the exporter down (goleak in TestMain finds its goroutines otherwise).
func TestServeTurnsTracingOnFromTheEnvironment(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	out, err := serveCancelled(t)
	require.NoError(t, err, out)
	require.Contains(t, out, "tracing on")
}
