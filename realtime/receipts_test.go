package realtime

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// receiptLog is a Receipts that keeps what it is told.
type receiptLog struct {
	mu   sync.Mutex
	refs map[string][]EventRef
}

func (r *receiptLog) Received(userID string, events []EventRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refs[userID] = append(r.refs[userID], events...)
}

func (r *receiptLog) of(user string) []EventRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]EventRef(nil), r.refs[user]...)
}

// The writer reports the new messages it wrote, replayed and live, and nothing else.
func TestWriterReportsTheNewMessagesItWrote(t *testing.T) {
	t.Parallel()
	b := setupHub(t)
	receipts := &receiptLog{refs: map[string][]EventRef{}}
	b.hub.SetReceipts(receipts)
	conv := uuid.New()
	b.store.setMembers(conv, "alice", "bob")
	b.store.addEvent(conv, 1, eventPayload(t, conv, 1, api.EventTypeMessageCreated, ""))
	b.store.addEvent(conv, 2, eventPayload(t, conv, 2, api.EventTypeMemberAdded, "carol"))
	url := serveHub(t, b.hub)

	bob := dialResume(t, url, "bob", conv) // replays 1 and 2
	for _, want := range []string{"event", "event", "resumed"} {
		require.Equal(t, want, readFrameType(t, bob))
	}
	live := message(t, conv, 3)
	b.store.addEvent(conv, 3, live.Payload)
	b.deliver(t, memberEvent(t, conv, 2, api.EventTypeMemberAdded, "carol"), live)
	require.Equal(t, "event", readFrameType(t, bob))

	want := []EventRef{{ConversationID: conv, Seq: 1}, {ConversationID: conv, Seq: 3}}
	require.Eventually(t, func() bool { return len(receipts.of("bob")) == len(want) }, 5*time.Second, time.Millisecond)
	require.Equal(t, want, receipts.of("bob"), "message.created events only, each once")
	require.Empty(t, receipts.of("alice"), "alice has no socket")
}
