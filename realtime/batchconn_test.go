package realtime

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// A replay leaves the server in one socket write, not one per event: the writer batches what it
// sends between two waits.
func TestReplayLeavesInOneSocketWrite(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	b.store.setMembers(conv, "alice")
	const missed = 50
	for seq := int64(1); seq <= missed; seq++ {
		b.store.addEvent(conv, seq, eventPayload(t, conv, seq, api.EventTypeMessageCreated, ""))
	}
	url := serveHub(t, b.hub)

	before := counterValue(t, b.hub.metrics.socketWrites)
	alice := dialResume(t, url, "alice", conv)
	for range missed {
		require.Equal(t, "event", readFrameType(t, alice))
	}
	require.Equal(t, "resumed", readFrameType(t, alice))
	// ready (written before the resume frame arrives), then the replay with resumed.
	writes := counterValue(t, b.hub.metrics.socketWrites) - before
	t.Logf("socket writes: %v for ready, %d events and resumed", writes, missed)
	require.LessOrEqual(t, writes, 2.0)
}

// A client that stops reading cannot hold its connection: once a write to its socket has waited
// WriteTimeout, the connection ends.
func TestAWriteThatCannotCompleteEndsTheConnection(t *testing.T) {
	t.Parallel()
	b := setupHub(t, func(cfg *HubConfig) { cfg.WriteTimeout = 200 * time.Millisecond })
	conv := uuid.New()
	b.store.setMembers(conv, "alice")
	body := strings.Repeat("x", 32<<10)
	const events = 400 // 13 MB: more than the sockets' buffers hold
	for seq := int64(1); seq <= events; seq++ {
		b.store.addEvent(conv, seq, fmt.Appendf(nil, `{"conversation_id":%q,"seq":%d,"type":"message.created","body":%q}`, conv, seq, body))
	}
	url := serveHub(t, b.hub)

	dialResume(t, url, "alice", conv) // then reads nothing more
	require.Eventually(t, func() bool { return gaugeValue(t, b.hub.metrics.connections) == 0 }, 10*time.Second, 10*time.Millisecond,
		"the stuck write gives up and the connection ends")
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, g.Write(&m))
	return m.GetGauge().GetValue()
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

// Frames Parley frames itself arrive whole at a standard client at every payload length class
// of RFC 6455 (7-bit, 16-bit and 64-bit lengths, on both sides of each bound), in order.
func TestFramesOfEveryLengthArriveWhole(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	conv := uuid.New()
	b.store.setMembers(conv, "alice")
	// An event frame adds its envelope to the payload: sizes are chosen for the whole frame.
	envelope := len(eventFrameBytes(nil))
	sizes := []int{0, 125, 126, 127, 65535, 65536, 70000}
	want := make([]string, len(sizes))
	for i, size := range sizes {
		payload := fmt.Sprintf(`{"conversation_id":%q,"seq":%d,"type":"message.created","pad":""}`, conv, i+1)
		pad := max(size-envelope-len(payload), 0)
		payload = strings.Replace(payload, `"pad":""`, `"pad":"`+strings.Repeat("p", pad)+`"`, 1)
		b.store.addEvent(conv, int64(i+1), []byte(payload))
		want[i] = string(eventFrameBytes([]byte(payload)))
	}
	url := serveHub(t, b.hub)

	alice := dialResume(t, url, "alice", conv)
	alice.SetReadLimit(1 << 20)
	for i := range sizes {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		typ, data, err := alice.Read(ctx)
		cancel()
		require.NoError(t, err)
		require.Equal(t, websocket.MessageText, typ)
		require.Equal(t, want[i], string(data), "frame %d", i+1)
	}
	require.Equal(t, "resumed", readFrameType(t, alice))
}
