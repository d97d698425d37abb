package realtime

import (
	"testing"

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
	alice := dialResume(t, url, "alice", conv) // after ready
	afterReady := counterValue(t, b.hub.metrics.socketWrites)
	for range missed {
		require.Equal(t, "event", readFrameType(t, alice))
	}
	require.Equal(t, "resumed", readFrameType(t, alice))
	writes := counterValue(t, b.hub.metrics.socketWrites) - afterReady
	t.Logf("socket writes: %v for the handshake and ready, %v for %d events and resumed", afterReady-before, writes, missed)
	require.LessOrEqual(t, writes, 2.0)
	require.Positive(t, writes)
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
