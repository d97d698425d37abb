package server

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

func createGroupVia(t *testing.T, client *api.ClientWithResponses, members ...string) uuid.UUID {
	t.Helper()
	title := "live"
	resp, err := client.CreateConversationWithResponse(t.Context(), api.CreateConversationJSONRequestBody{Type: api.ConversationTypeGroup, Title: &title, MemberIds: members})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return resp.JSON201.Id
}

func sendVia(t *testing.T, client *api.ClientWithResponses, conv uuid.UUID, body string) api.Message {
	t.Helper()
	resp, err := client.SendMessageWithResponse(t.Context(), conv, api.SendMessageJSONRequestBody{ClientMsgId: uuid.NewString(), Body: body})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return *resp.JSON201
}

func TestWebSocketDeliversEventsInOrder(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	conv := createGroupVia(t, alice, "bob")

	bob := dialWS(t, base, tokenFor(t, "bob"))
	bob.ready(nil)

	sent := sendVia(t, alice, conv, "hello bob")
	ev := bob.nextEvent(5 * time.Second)
	require.Equal(t, api.EventTypeMessageCreated, ev.Type)
	require.Equal(t, conv, ev.ConversationId)
	require.Equal(t, sent.Seq, ev.Seq)
	require.Equal(t, "hello bob", ev.Message.Body)

	const n = 100
	for i := range n {
		sendVia(t, alice, conv, "rapid "+strconv.Itoa(i))
	}
	for i := range n {
		ev := bob.nextEvent(5 * time.Second)
		require.EqualValues(t, sent.Seq+int64(i)+1, ev.Seq, "in order, without gap or duplicate")
		require.Equal(t, "rapid "+strconv.Itoa(i), ev.Message.Body)
	}
	bob.noFrameOf("event")
}
