package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/server/servertest"
)

func TestBenchHistogramQuantiles(t *testing.T) {
	h := newHistogram()
	require.Equal(t, time.Duration(0), h.quantile(.5))
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * 100 * time.Microsecond) // 0.1 ms … 100 ms
	}
	h.record(20 * time.Second) // beyond the range: counted, and the max
	require.Equal(t, int64(1001), h.count())
	require.InDelta(t, 50*time.Millisecond, h.quantile(.50), float64(200*time.Microsecond))
	require.InDelta(t, 99*time.Millisecond, h.quantile(.99), float64(200*time.Microsecond))
	require.Equal(t, 20*time.Second, h.quantile(1))
	require.Equal(t, int64(1), h.over.Load())
	h.record(-time.Millisecond) // clock skew between nodes: clamped
	require.Equal(t, uint32(1), h.counts[0].Load())
}

func TestBenchParseEventMatchesFullDecode(t *testing.T) {
	conv := uuid.New()
	sentAt := time.Now().UnixNano()
	msg := api.Message{Id: uuid.New(), ConversationId: conv, Seq: 42, SenderId: "bench-x-u1", ClientMsgId: "c-1", Body: messageBody(sentAt, 64), CreatedAt: time.Now()}
	event := api.Event{ConversationId: conv, Seq: 42, Type: api.EventTypeMessageCreated, ActorId: "bench-x-u1", CreatedAt: time.Now(), Message: &msg}
	payload, err := json.Marshal(event)
	require.NoError(t, err)
	// The same event as PostgreSQL's jsonb prints it: keys by length, spaces after colons.
	jsonb := `{"seq": 42, "type": "message.created", "message": {"id": "` + msg.Id.String() + `", "seq": 42, "body": "` + msg.Body +
		`", "sender_id": "bench-x-u1", "created_at": "2026-11-27T10:00:00Z", "client_msg_id": "c-1", "conversation_id": "` + conv.String() +
		`"}, "actor_id": "bench-x-u1", "created_at": "2026-11-27T10:00:00Z", "conversation_id": "` + conv.String() + `"}`
	member := `{"conversation_id":"` + conv.String() + `","seq":3,"type":"member.added","actor_id":"a","created_at":"2026-11-27T10:00:00Z","member":{"user_id":"b","role":"member","joined_at":"2026-11-27T10:00:00Z","last_read_seq":0}}`

	for name, p := range map[string]string{"go": string(payload), "jsonb": jsonb, "member": member} {
		fast, ok := parseEvent([]byte(p))
		require.True(t, ok, name)
		slow, ok := parseEventSlow([]byte(p))
		require.True(t, ok, name)
		require.Equal(t, slow, fast, name)
		require.Equal(t, conv.String(), string(fast.conv), name)
	}
	ev, _ := parseEvent(payload)
	require.True(t, ev.message)
	require.Equal(t, int64(42), ev.seq)
	require.Equal(t, sentAt, ev.sentAt)
	ev, _ = parseEvent([]byte(member))
	require.False(t, ev.message)
	require.Equal(t, int64(3), ev.seq)

	require.Len(t, messageBody(sentAt, 64), 64)
	require.Equal(t, sentAt, sentAtFromBody([]byte(messageBody(sentAt, 10))))
}

func TestBenchParseMetrics(t *testing.T) {
	text := `# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.048576e+08
# TYPE parley_ws_connections gauge
parley_ws_connections 2000
# TYPE parley_ws_frames_sent_total counter
parley_ws_frames_sent_total{kind="control"} 4000
parley_ws_frames_sent_total{kind="event"} 123456
# TYPE parley_ws_frames_dropped_total counter
parley_ws_frames_dropped_total{reason="duplicate"} 3
# TYPE parley_commit_to_socket_seconds histogram
parley_commit_to_socket_seconds_bucket{le="0.001"} 10
parley_commit_to_socket_seconds_bucket{le="0.01"} 90
parley_commit_to_socket_seconds_bucket{le="0.1"} 99
parley_commit_to_socket_seconds_bucket{le="+Inf"} 100
parley_commit_to_socket_seconds_sum 1
parley_commit_to_socket_seconds_count 100
`
	s, err := parseMetrics(strings.NewReader(text))
	require.NoError(t, err)
	require.Equal(t, 12.5, s.cpuSeconds)
	require.Equal(t, float64(100<<20), s.rss)
	require.Equal(t, float64(2000), s.wsConns)
	require.Equal(t, float64(123456), s.eventFrames)
	require.False(t, s.hasBacklog)
	require.Equal(t, "duplicate 3", counterDelta(nil, s.dropped))
	p50, n := bucketQuantile(nil, s.commitToSocket, .5)
	require.Equal(t, 0.01, p50)
	require.Equal(t, float64(100), n)
	p99, _ := bucketQuantile(nil, s.commitToSocket, .99)
	require.Equal(t, 0.1, p99)
	before := []histBucket{{0.001, 10}, {0.01, 90}, {0.1, 90}, {math.Inf(1), 90}}
	p50, n = bucketQuantile(before, s.commitToSocket, .5) // the 10 observed since: 9 ≤ 100 ms, 1 above
	require.Equal(t, 0.1, p50)
	require.Equal(t, float64(10), n)
}

func TestBenchRefusesWhatItCannotRun(t *testing.T) {
	t.Setenv("PARLEY_JWT_SECRET", "a-secret-from-the-environment-32b")
	for args, want := range map[string]string{
		"--duration 11m":           "at most 10m",
		"--mode storm":             "want idle, fanout, sends, resume or soak",
		"--conns 10 --convs 20":    "at most --conns",
		"--mode idle --conns 0":    "at least one connection",
		"--url ftp://x":            "want http(s)://host:port",
		"--mode fanout --rate 0":   "needs a send rate",
		"--run-id has/slash":       "--run-id",
		"--body-bytes 5000":        "at most 4000",
		"--mode resume --missed 0": "at least 1",
	} {
		_, err := runParley(t, append([]string{"bench"}, strings.Fields(args)...)...)
		require.ErrorContains(t, err, want, args)
	}
	t.Setenv("PARLEY_JWT_SECRET", "")
	_, err := runParley(t, "bench")
	require.ErrorContains(t, err, "--jwt-secret")

	out, _ := runParley(t, "bench", "--help")
	for _, flag := range []string{"-url", "-jwt-secret", "-mode", "-conns", "-convs", "-rate", "-senders", "-duration", "-warmup", "-missed", "PARLEY_", "idle", "fanout", "sends", "resume"} {
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
		args = append([]string{"bench", "--url", url, "--jwt-secret", secret}, args...)
		err := run(context.Background(), args, &stdout, &stderr)
		require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		return stdout.String()
	}

	out := bench("--mode", "fanout", "--conns", "20", "--convs", "4", "--rate", "40", "--duration", "1s", "--warmup", "200ms")
	require.Contains(t, out, "delivery check")
	require.Regexp(t, `delivery check\s+ok`, out)
	require.Regexp(t, `send→deliver latency p99\s+\d`, out)
	require.Regexp(t, `server CPU per delivered frame\s+\d`, out)

	out = bench("--mode", "resume", "--conns", "10", "--convs", "2", "--missed", "5")
	require.Regexp(t, `events replayed\s+50 \(expected 50\)`, out)
	require.Regexp(t, `resume total \(first reconnect → last resumed\)\s+\d`, out)
	require.Regexp(t, `delivery check\s+ok`, out)

	out = bench("--mode", "idle", "--conns", "10", "--duration", "100ms", "--warmup", "0s")
	require.Regexp(t, `server RSS per idle connection\s+-?\d`, out)

	out = bench("--mode", "sends", "--senders", "4", "--convs", "3", "--duration", "500ms", "--warmup", "100ms")
	require.Regexp(t, `durable sends\s+[1-9]\d* \(`, out)
}
