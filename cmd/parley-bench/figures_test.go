package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
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
	reaction := `{"seq": 44, "type": "reaction.added", "actor_id": "bench-x-u7", "reaction": {"emoji": "👍", "user_id": "bench-x-u7", "message_seq": 42}, "created_at": "2026-11-27T10:00:00Z", "conversation_id": "` + conv.String() + `"}`

	for name, p := range map[string]string{"go": string(payload), "jsonb": jsonb, "member": member, "reaction": reaction} {
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
	require.Nil(t, ev.reactor)
	ev, _ = parseEvent([]byte(reaction))
	require.False(t, ev.message)
	require.Equal(t, int64(44), ev.seq, "the event's seq, not the reacted message's")
	require.Equal(t, "bench-x-u7", string(ev.reactor))

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

func TestBenchPerFrameFigures(t *testing.T) {
	sample := func(text string) serverSample {
		t.Helper()
		s, err := parseMetrics(strings.NewReader(text))
		require.NoError(t, err)
		return s
	}
	counters := func(writes, wakeups, mallocs, bytes float64) string {
		return fmt.Sprintf(`# TYPE parley_ws_socket_writes_total counter
parley_ws_socket_writes_total %g
# TYPE parley_ws_writer_wakeups_total counter
parley_ws_writer_wakeups_total %g
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total %g
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total %g
`, writes, wakeups, mallocs, bytes)
	}
	// Two servers: the growth is summed over both and divided by the frames the bench received.
	before := []serverSample{sample(counters(100, 90, 1e6, 1e8)), sample(counters(0, 0, 5e5, 5e7))}
	after := []serverSample{sample(counters(700, 590, 1.03e6, 1.01e8)), sample(counters(280, 210, 5.2e5, 5.1e7))}
	require.Equal(t, [][2]string{
		{"server socket writes per delivered frame", "0.98"},                           // (600+280)/900
		{"server writer wake-ups per delivered frame", "0.79"},                         // (500+210)/900
		{"server allocations per delivered frame", "55.6 (go_memstats_mallocs_total)"}, // 50,000/900
		{"server bytes allocated per delivered frame", "2222 B (go_memstats_alloc_bytes_total)"},
	}, perFrameFigures(before, after, 900))

	// The runtime/metrics names win over go_memstats when a server exposes both.
	runtime := `# TYPE go_gc_heap_allocs_objects_total counter
go_gc_heap_allocs_objects_total %g
# TYPE go_gc_heap_allocs_bytes_total counter
go_gc_heap_allocs_bytes_total %g
`
	before = []serverSample{sample(counters(0, 0, 0, 0) + fmt.Sprintf(runtime, 1000.0, 64000.0))}
	after = []serverSample{sample(counters(10, 10, 9e9, 9e9) + fmt.Sprintf(runtime, 1400.0, 96000.0))}
	figures := perFrameFigures(before, after, 8)
	require.Equal(t, "50.0 (go_gc_heap_allocs_objects_total)", figures[2][1])
	require.Equal(t, "4000 B (go_gc_heap_allocs_bytes_total)", figures[3][1])

	// An older server without the writer counters: n/a, not 0, also when only one of two
	// servers lacks them.
	old := `# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total %g
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total %g
`
	before = []serverSample{sample(counters(0, 0, 0, 0)), sample(fmt.Sprintf(old, 0.0, 0.0))}
	after = []serverSample{sample(counters(10, 10, 100, 1000)), sample(fmt.Sprintf(old, 100.0, 1000.0))}
	require.Equal(t, [][2]string{
		{"server socket writes per delivered frame", "n/a"},
		{"server writer wake-ups per delivered frame", "n/a"},
		{"server allocations per delivered frame", "20.0 (go_memstats_mallocs_total)"},
		{"server bytes allocated per delivered frame", "200 B (go_memstats_alloc_bytes_total)"},
	}, perFrameFigures(before, after, 10))
	require.Equal(t, "n/a", perFrameFigures([]serverSample{sample("")}, []serverSample{sample("")}, 10)[2][1])
}
