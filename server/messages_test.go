package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

func TestSendMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")

	send := func(user, clientMsgID, body string) (apiserver.SendMessageResponseObject, error) {
		return b.h.SendMessage(as(t, user), apiserver.SendMessageRequestObject{ConversationId: conv.Id, Body: &api.SendMessageJSONRequestBody{ClientMsgId: clientMsgID, Body: body}})
	}
	resp, err := send("alice", "c-1", "héllo 👋")
	first := expect[apiserver.SendMessage201JSONResponse](t, resp, err)
	require.EqualValues(t, 1, first.Seq)
	require.Equal(t, "alice", first.SenderId)
	require.Equal(t, "héllo 👋", first.Body)
	require.Equal(t, conv.Id, first.ConversationId)
	require.Nil(t, first.EditedAt)

	resp, err = send("alice", "c-1", "a retry with another body")
	repeat := expect[apiserver.SendMessage200JSONResponse](t, resp, err)
	require.Equal(t, first.Id, repeat.Id)
	require.Equal(t, "héllo 👋", repeat.Body, "a retry returns the first message")

	resp, err = send("bob", "c-1", "same client id, other sender")
	require.EqualValues(t, 2, expect[apiserver.SendMessage201JSONResponse](t, resp, err).Seq)

	resp, err = send("alice", "c-2", strings.Repeat("é", 4000))
	require.EqualValues(t, 3, expect[apiserver.SendMessage201JSONResponse](t, resp, err).Seq)

	resp, err = send("mallory", "c-1", "let me in")
	expectProblem(t, resp, err, 404)

	events := b.events(t, "bob", conv.Id)
	require.Len(t, events, 3)
	for i, e := range events {
		require.EqualValues(t, i+1, e.Seq)
		require.Equal(t, api.EventTypeMessageCreated, e.Type)
		require.Equal(t, e.Seq, e.Message.Seq)
	}

	var outbox int
	require.NoError(t, b.pool.QueryRow(t.Context(), "SELECT count(*) FROM outbox WHERE conversation_id = $1", conv.Id).Scan(&outbox))
	require.Equal(t, 3, outbox, "every event has its outbox row")
}

func TestListMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	for _, body := range numbered("m", 10) {
		b.send(t, "alice", conv.Id, body)
	}
	list := func(params api.ListMessagesParams) (apiserver.ListMessagesResponseObject, error) {
		return b.h.ListMessages(as(t, "bob"), apiserver.ListMessagesRequestObject{ConversationId: conv.Id, Params: params})
	}

	resp, err := list(api.ListMessagesParams{})
	page := expect[apiserver.ListMessages200JSONResponse](t, resp, err)
	require.Equal(t, numbered("m", 10), bodies(page.Items))
	require.False(t, page.HasMore)

	resp, err = list(api.ListMessagesParams{Limit: ptr(4)})
	page = expect[apiserver.ListMessages200JSONResponse](t, resp, err)
	require.Equal(t, []int64{7, 8, 9, 10}, seqs(page.Items), "the latest page, ascending")
	require.True(t, page.HasMore)

	resp, err = list(api.ListMessagesParams{BeforeSeq: ptr[int64](7), Limit: ptr(4)})
	page = expect[apiserver.ListMessages200JSONResponse](t, resp, err)
	require.Equal(t, []int64{3, 4, 5, 6}, seqs(page.Items))
	require.True(t, page.HasMore)

	resp, err = list(api.ListMessagesParams{BeforeSeq: ptr[int64](3), Limit: ptr(4)})
	page = expect[apiserver.ListMessages200JSONResponse](t, resp, err)
	require.Equal(t, []int64{1, 2}, seqs(page.Items))
	require.False(t, page.HasMore)

	resp, err = list(api.ListMessagesParams{AfterSeq: ptr[int64](0), Limit: ptr(6)})
	page = expect[apiserver.ListMessages200JSONResponse](t, resp, err)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, seqs(page.Items))
	require.True(t, page.HasMore)

	resp, err = list(api.ListMessagesParams{AfterSeq: ptr[int64](6), Limit: ptr(6)})
	page = expect[apiserver.ListMessages200JSONResponse](t, resp, err)
	require.Equal(t, []int64{7, 8, 9, 10}, seqs(page.Items))
	require.False(t, page.HasMore)

	resp, err = list(api.ListMessagesParams{AfterSeq: ptr[int64](1), BeforeSeq: ptr[int64](5)})
	require.Equal(t, "conflicting_parameters", expectProblem(t, resp, err, 400).Code)

	resp, err = b.h.ListMessages(as(t, "mallory"), apiserver.ListMessagesRequestObject{ConversationId: conv.Id})
	expectProblem(t, resp, err, 404)
}

func TestEditMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	msg := b.send(t, "bob", conv.Id, "helo")
	edit := func(user string, seq int64, body string) (apiserver.EditMessageResponseObject, error) {
		return b.h.EditMessage(as(t, user), apiserver.EditMessageRequestObject{ConversationId: conv.Id, Seq: seq, Body: &api.EditMessageJSONRequestBody{Body: body}})
	}

	resp, err := edit("bob", msg.Seq, "hello")
	edited := expect[apiserver.EditMessage200JSONResponse](t, resp, err)
	require.Equal(t, "hello", edited.Body)
	require.NotNil(t, edited.EditedAt)
	require.Equal(t, msg.Seq, edited.Seq, "an edit keeps the message's seq")

	resp, err = edit("alice", msg.Seq, "owners cannot put words in mouths")
	require.Equal(t, "not_sender", expectProblem(t, resp, err, 403).Code)

	resp, err = edit("bob", 99, "nothing there")
	require.Equal(t, "message_not_found", expectProblem(t, resp, err, 404).Code)

	resp, err = edit("bob", 2, "seq 2 is the edit event, not a message")
	expectProblem(t, resp, err, 404)

	del, err := b.h.DeleteMessage(as(t, "bob"), apiserver.DeleteMessageRequestObject{ConversationId: conv.Id, Seq: msg.Seq})
	expect[apiserver.DeleteMessage204Response](t, del, err)
	resp, err = edit("bob", msg.Seq, "resurrect")
	require.Equal(t, "message_deleted", expectProblem(t, resp, err, 409).Code)

	events := b.events(t, "alice", conv.Id)
	require.Equal(t, []api.EventType{api.EventTypeMessageCreated, api.EventTypeMessageUpdated, api.EventTypeMessageDeleted}, eventTypes(events))
	require.Equal(t, "hello", events[1].Message.Body)
}

func TestDeleteMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob", "carol")
	b.addMember(t, "alice", conv.Id, "adam", api.AddMemberRequestRoleAdmin)
	byBob := b.send(t, "bob", conv.Id, "one")
	byCarol := b.send(t, "carol", conv.Id, "two")
	byAlice := b.send(t, "alice", conv.Id, "three")
	del := func(user string, seq int64) (apiserver.DeleteMessageResponseObject, error) {
		return b.h.DeleteMessage(as(t, user), apiserver.DeleteMessageRequestObject{ConversationId: conv.Id, Seq: seq})
	}

	resp, err := del("carol", byBob.Seq)
	require.Equal(t, "not_allowed", expectProblem(t, resp, err, 403).Code)
	resp, err = del("bob", byBob.Seq)
	expect[apiserver.DeleteMessage204Response](t, resp, err)
	resp, err = del("adam", byCarol.Seq)
	expect[apiserver.DeleteMessage204Response](t, resp, err)
	resp, err = del("alice", byAlice.Seq)
	expect[apiserver.DeleteMessage204Response](t, resp, err)

	before := len(b.events(t, "alice", conv.Id))
	resp, err = del("bob", byBob.Seq)
	expect[apiserver.DeleteMessage204Response](t, resp, err)
	require.Len(t, b.events(t, "alice", conv.Id), before, "deleting a tombstone again records nothing")

	resp, err = del("bob", 999)
	expectProblem(t, resp, err, 404)

	list, err := b.h.ListMessages(as(t, "carol"), apiserver.ListMessagesRequestObject{ConversationId: conv.Id})
	items := expect[apiserver.ListMessages200JSONResponse](t, list, err).Items
	require.Len(t, items, 3, "tombstones keep their place in history")
	for _, m := range items {
		require.Empty(t, m.Body)
		require.NotNil(t, m.DeletedAt)
	}
}

func eventTypes(events []api.Event) []api.EventType {
	out := make([]api.EventType, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}
