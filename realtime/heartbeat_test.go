package realtime

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// The heartbeat keeps a client that answers pings and ends one that does not: a ping whose pong
// does not come within PongTimeout closes the connection.
func TestHeartbeatEndsOnlyTheClientThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	b := setupHub(t, func(cfg *HubConfig) {
		cfg.HeartbeatInterval = time.Second
		cfg.PongTimeout = 300 * time.Millisecond
	})
	conv := uuid.New()
	b.store.setMembers(conv, "alice", "bob")
	url := serveHub(t, b.hub)

	alice := dialResume(t, url, "alice", conv)
	require.Equal(t, "resumed", readFrameType(t, alice))
	// alice reads on, and so answers pings; bob reads nothing more.
	aliceEnded := make(chan error, 1)
	go func() {
		for {
			if _, _, err := alice.Read(t.Context()); err != nil {
				aliceEnded <- err
				return
			}
		}
	}()
	bob := dialResume(t, url, "bob", conv)
	require.Equal(t, "resumed", readFrameType(t, bob))

	require.Eventually(t, func() bool { return gaugeValue(t, b.hub.metrics.connections) == 1 }, 10*time.Second, 10*time.Millisecond,
		"bob's unanswered ping ends his connection")
	// alice answered the same heartbeat, and answers the next one too.
	nextHeartbeat := time.NewTimer(1500 * time.Millisecond)
	defer nextHeartbeat.Stop()
	select {
	case err := <-aliceEnded:
		t.Fatalf("alice's connection ended: %v", err)
	case <-nextHeartbeat.C:
	}
	require.Equal(t, 1.0, gaugeValue(t, b.hub.metrics.connections))
}
