package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSoakParsesItsFigures(t *testing.T) {
	text := `# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 6.291456e+07
# TYPE go_goroutines gauge
go_goroutines 431
# TYPE process_open_fds gauge
process_open_fds 227
# TYPE parley_outbox_backlog gauge
parley_outbox_backlog 3
`
	s, err := parseMetrics(strings.NewReader(text))
	require.NoError(t, err)
	require.Equal(t, float64(60<<20), s.rss)
	require.Equal(t, float64(431), s.goroutines)
	require.Equal(t, float64(227), s.openFDs)
	require.True(t, s.hasBacklog)
	require.Equal(t, float64(3), s.backlog)

	header := soakHeader(false)
	row := soakRow("", 95*time.Second, s, 4750, 0, 47500, "last")
	require.Equal(t, "  elapsed   RSS MiB  goroutines    fds  backlog       sent  errors   delivered", header)
	require.Equal(t, "    1m35s      60.0         431    227        3       4750       0       47500  last", row)
	// the columns line up: every header word ends where its figure does
	for _, word := range []string{"elapsed", "MiB", "goroutines", "fds", "backlog", "sent", "errors", "delivered"} {
		end := strings.Index(header, word) + len(word)
		require.NotEqual(t, ' ', row[end-1], word)
		require.Equal(t, byte(' '), row[end], word)
	}
	s.hasBacklog = false // PostgreSQL unreachable at the scrape
	require.Contains(t, soakRow("server 2", time.Second, s, 0, 0, 0, ""), "server 2        1s      60.0         431    227        -")
	require.True(t, strings.HasPrefix(soakHeader(true), "server     elapsed"))
}

func TestSoakVerdict(t *testing.T) {
	first := serverSample{rss: 100 << 20, goroutines: 400, openFDs: 220, backlog: 2, hasBacklog: true}
	require.Empty(t, soakGrowth(first, first, 50))

	// within the bounds: RSS up to 20% + 16 MiB, counts up to max(32, 5%), backlog one second of sends
	last := first
	last.rss, last.goroutines, last.openFDs, last.backlog = 136<<20, 432, 252, 102
	require.Empty(t, soakGrowth(first, last, 50))
	require.Empty(t, soakGrowth(first, serverSample{rss: 50 << 20}, 50), "shrinking is flat, a missing backlog is not judged")

	last.rss, last.goroutines, last.openFDs, last.backlog = 137<<20, 433, 253, 103
	growth := soakGrowth(first, last, 50)
	require.Equal(t, []string{
		"RSS 100.0 MiB → 137.0 MiB (flat up to 136.0 MiB)",
		"goroutines 400 → 433 (flat up to 432)",
		"open fds 220 → 253 (flat up to 252)",
		"outbox backlog 2 → 103 (flat up to 102)",
	}, growth)
	// the count bound scales with a large server, the backlog bound with the send rate
	big := serverSample{goroutines: 10000, backlog: 0, hasBacklog: true}
	require.Empty(t, soakGrowth(big, serverSample{goroutines: 10500, backlog: 500, hasBacklog: true}, 500))
	require.Len(t, soakGrowth(big, serverSample{goroutines: 10501, backlog: 501, hasBacklog: true}, 500), 2)
}

func TestSoakPhase(t *testing.T) {
	// 15 s warm-up, 30 s measured, a sample every 10 s: 0 and 10 warm up, 20 is first, 50 last
	var measured, final []int
	for n := range 7 {
		m, f := soakPhase(n, 10*time.Second, 15*time.Second, 30*time.Second)
		if m {
			measured = append(measured, n)
		}
		if f {
			final = append(final, n)
		}
	}
	require.Equal(t, []int{2, 3, 4, 5, 6}, measured)
	require.Equal(t, []int{5, 6}, final)
	// no warm-up: the sample as the senders start is the first, and cannot also be the last
	m, f := soakPhase(0, time.Second, 0, time.Second)
	require.True(t, m)
	require.False(t, f)
}

func TestSoakDefaultsAndBounds(t *testing.T) {
	cfg := benchConfig{mode: "soak", conns: -1, rate: -1, duration: 30 * time.Second, warmup: 5 * time.Second,
		drain: time.Second, interval: 5 * time.Second, dialConcurrency: 1, bodyBytes: 64}
	require.NoError(t, cfg.fillDefaults())
	require.Equal(t, 200, cfg.conns)
	require.Equal(t, 20, cfg.convs)
	require.Equal(t, 50.0, cfg.rate)
	require.Equal(t, 2*time.Minute, cfg.duration)
	require.Equal(t, 15*time.Second, cfg.warmup)

	cfg = benchConfig{mode: "soak", conns: 10, rate: 5, duration: time.Hour, durationSet: true, warmupSet: true,
		interval: time.Minute, dialConcurrency: 1, bodyBytes: 64}
	require.NoError(t, cfg.fillDefaults())
	require.Equal(t, time.Hour, cfg.duration, "soak may run longer than the other modes")
	require.Equal(t, time.Duration(0), cfg.warmup)

	t.Setenv("PARLEY_JWT_SECRET", "a-secret-from-the-environment-32b")
	for args, want := range map[string]string{
		"--mode soak --duration 3h":                "at most 2h0m0s",
		"--mode soak --duration 1m --interval 2m":  "--interval 2m0s",
		"--mode soak --interval 0s":                "--interval 0s",
		"--mode soak --rate 0":                     "soak needs a send rate",
		"--mode soak --conns 10 --convs 11":        "at most --conns",
		"--mode fanout --duration 1h":              "at most 10m0s",
		"--mode soak --duration 10s --warmup -1s":  "--warmup",
		"--mode soak --duration 10s --interval 1h": "at most --duration",
	} {
		_, err := runBench(t, strings.Fields(args)...)
		require.ErrorContains(t, err, want, args)
	}
	out, _ := runBench(t, "--help")
	for _, s := range []string{"soak", "-interval", "flat"} {
		require.Contains(t, out, s)
	}
}

// TestSoakAgainstServer runs a short soak against a real server: the table, the summary and the
// delivery check.
func TestSoakAgainstServer(t *testing.T) {
	const secret = "soak-test-secret-soak-test-secret"
	url := startBenchServer(t, secret)

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--url", url, "--jwt-secret", secret,
		"--mode", "soak", "--conns", "10", "--convs", "2", "--rate", "20",
		"--warmup", "200ms", "--duration", "600ms", "--interval", "200ms"}, &stdout, &stderr)
	out := stdout.String()
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out, stderr.String())
	require.Contains(t, out, soakHeader(false))
	require.Regexp(t, `\n +0s +\d+\.\d +\d+ +\d+ +\d+ +\d+ +0 +\d+  warm-up\n`, out)
	require.Regexp(t, `  first\n`, out)
	require.Regexp(t, `  last\n`, out)
	require.Regexp(t, `  drained\n`, out)
	require.Regexp(t, `server RSS first → last\s+\d+\.\d MiB → \d+\.\d MiB`, out)
	require.Regexp(t, `server goroutines first → last\s+\d+ → \d+`, out)
	require.Regexp(t, `server outbox backlog first → last\s+\d+ → \d+ \(after drain \d+\)`, out)
	require.Regexp(t, `messages sent\s+[1-9]\d* `, out)
	require.Regexp(t, `events received first → last\s+[1-9]\d*\n`, out)
	require.Regexp(t, `server socket writes per delivered frame\s+\d`, out)
	require.Regexp(t, `delivery check\s+ok`, out)
	require.Regexp(t, `\nverdict\s+(flat|growing: .+)\n$`, out)
}
