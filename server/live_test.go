package server

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

// Every change that writes an event wakes the outbox once its transaction has committed; a read
// receipt is signalled to the members' connections and writes no event.
func TestChangesWakeTheOutboxAndReadsSignal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	_, wakes := b.live.recorded()
	require.Zero(t, wakes, "a new conversation has no event yet")
	msg := b.send(t, "alice", conv.Id, "hello")
	_, wakes = b.live.recorded()
	require.Equal(t, 1, wakes, "sending")

	resp, err := b.h.MarkRead(as(t, "bob"), apiserver.MarkReadRequestObject{ConversationId: conv.Id, Body: &api.MarkReadJSONRequestBody{Seq: msg.Seq}})
	expect[apiserver.MarkRead200JSONResponse](t, resp, err)
	signals, wakes := b.live.recorded()
	require.Equal(t, 1, wakes, "a read writes no event")
	require.Len(t, signals, 1)
	var frame api.ReadFrame
	require.NoError(t, json.Unmarshal(signals[0].Frame, &frame))
	require.Equal(t, api.ReadFrame{Type: api.ReadFrameTypeRead, ConversationId: conv.Id, UserId: "bob", Seq: msg.Seq}, frame)
}
