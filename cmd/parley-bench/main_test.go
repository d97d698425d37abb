package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runBench runs the load tool as its command line would, and returns what it printed.
func runBench(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

// These tests change the environment, so they do not run in parallel.

func TestBenchRefusesWhatItCannotRun(t *testing.T) {
	t.Setenv("PARLEY_JWT_SECRET", "a-secret-from-the-environment-32b")
	for args, want := range map[string]string{
		"--duration 11m":             "at most 10m",
		"--mode storm":               "want idle, fanout, sends, resume, soak, search, list, reactions, webhooks or presence",
		"--conns 10 --convs 20":      "at most --conns",
		"--mode idle --conns 0":      "at least one connection",
		"--url ftp://x":              "want http(s)://host:port",
		"--mode fanout --rate 0":     "needs a send rate",
		"--run-id has/slash":         "--run-id",
		"--body-bytes 5000":          "at most 4000",
		"--mode resume --missed 0":   "at least 1",
		"--mode search --conns 5":    "makes no WebSocket connections",
		"--mode list --unread -1":    "at least 0",
		"--mode search --readers 0":  "--readers",
		"--mode reactions --convs 2": "one conversation",
	} {
		_, err := runBench(t, strings.Fields(args)...)
		require.ErrorContains(t, err, want, args)
	}
	t.Setenv("PARLEY_JWT_SECRET", "")
	_, err := runBench(t)
	require.ErrorContains(t, err, "--jwt-secret")

	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	_, err = runBench(t, "--dev", "--mode", "storm")
	require.ErrorContains(t, err, "want idle, fanout", "--dev signs with the local development secret")

	out, _ := runBench(t, "--help")
	for _, flag := range []string{"-url", "-jwt-secret", "-mode", "-conns", "-convs", "-rate", "-senders", "-duration", "-warmup", "-missed", "-seed", "-unread", "-readers", "PARLEY_", "idle", "fanout", "sends", "resume", "search", "list", "reactions"} {
		require.Contains(t, out, flag)
	}
}

// startBenchServer serves a whole server for the load tool, with the per-user and per-address
// limits off as BENCHMARKS.md runs it, and returns its URL.
func startBenchServer(t *testing.T, secret string) string {
	t.Helper()
	return servertest.Start(t, secret, func(cfg *server.Config) {
		cfg.Limits = server.Limits{}
		cfg.Hub.MaxConnsPerUser = 0
	})
}

// TestBenchAgainstServer runs the fan-out and resume modes, small, against a real server.
func TestBenchAgainstServer(t *testing.T) {
	const secret = "bench-test-secret-bench-test-secret"
	url := startBenchServer(t, secret)

	bench := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args = append([]string{"--url", url, "--jwt-secret", secret}, args...)
		err := run(context.Background(), args, &stdout, &stderr)
		require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		return stdout.String()
	}

	out := bench("--mode", "fanout", "--conns", "20", "--convs", "4", "--rate", "40", "--duration", "1s", "--warmup", "200ms")
	require.Contains(t, out, "delivery check")
	require.Regexp(t, `delivery check\s+ok`, out)
	require.Regexp(t, `send→deliver latency p99\s+\d`, out)
	require.Regexp(t, `server CPU per delivered frame\s+\d`, out)
	require.Regexp(t, `server socket writes per delivered frame\s+\d`, out)
	require.Regexp(t, `server writer wake-ups per delivered frame\s+\d`, out)
	require.Regexp(t, `server allocations per delivered frame\s+\d`, out)
	require.Regexp(t, `server bytes allocated per delivered frame\s+\d+ B`, out)

	out = bench("--mode", "resume", "--conns", "10", "--convs", "2", "--missed", "5")
	require.Regexp(t, `events replayed\s+50 \(expected 50\)`, out)
	require.Regexp(t, `resume total \(first reconnect → last resumed\)\s+\d`, out)
	require.Regexp(t, `delivery check\s+ok`, out)

	out = bench("--mode", "idle", "--conns", "10", "--duration", "100ms", "--warmup", "0s")
	require.Regexp(t, `server RSS per idle connection\s+-?\d`, out)

	out = bench("--mode", "sends", "--senders", "4", "--convs", "3", "--duration", "500ms", "--warmup", "100ms")
	require.Regexp(t, `durable sends\s+[1-9]\d* \(`, out)
}

// TestBenchChatFeatures runs the search, list and reactions modes, small, against a real server.
func TestBenchChatFeatures(t *testing.T) {
	const secret = "bench-test-secret-bench-test-secret"
	url := startBenchServer(t, secret)

	bench := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args = append([]string{"--url", url, "--jwt-secret", secret}, args...)
		err := run(context.Background(), args, &stdout, &stderr)
		require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		return stdout.String()
	}

	// 55 conversations, the reader in 50 of them; then the same run id again, which finds them
	// seeded and sends nothing.
	search := []string{"--mode", "search", "--run-id", "t-search", "--convs", "55", "--seed", "220", "--readers", "2", "--duration", "300ms", "--warmup", "0s"}
	out := bench(search...)
	require.Regexp(t, `seeded\s+220 messages`, out)
	require.Regexp(t, `messages held\s+220 \(200 in the reader's conversations\)`, out)
	require.Regexp(t, `search latency p95\s+\d`, out)
	require.Regexp(t, `searches in window\s+[1-9]\d* \(\d+/s\), errors 0`, out)
	require.Regexp(t, `hits outside the reader's conversations\s+0`, out)
	out = bench(search...)
	require.Regexp(t, `conversations\s+55 \(55 found`, out)
	require.Regexp(t, `seeded\s+nothing to send`, out)

	// The same conversations unread, then read.
	list := []string{"--mode", "list", "--run-id", "t-list", "--convs", "3", "--unread", "4", "--readers", "2", "--duration", "300ms", "--warmup", "0s"}
	out = bench(list...)
	require.Regexp(t, `reader's conversations\s+3, each with 4–4 unread messages from another member \(12 messages in all\)`, out)
	require.Regexp(t, `list latency p99\s+\d`, out)
	require.Regexp(t, `pages with wrong conversations or unread counts\s+0`, out)
	out = bench(append(list, "--mark-read")...)
	require.Regexp(t, `reader's conversations\s+3, each with 0–0 unread messages from another member \(12 messages in all\)`, out)
	require.Regexp(t, `pages with wrong conversations or unread counts\s+0`, out)

	out = bench("--mode", "reactions", "--conns", "12", "--rate", "100")
	require.Regexp(t, `reactions stored\s+12 in the message's counts`, out)
	require.Regexp(t, `reaction.added received\s+144 \(want 144`, out)
	require.Regexp(t, `connections without every reaction.added once\s+0`, out)
	require.Regexp(t, `reaction PUT→deliver latency p99\s+\d`, out)
	require.Regexp(t, `delivery check\s+ok`, out)
}
