package server

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

func (b *testBundle) react(t *testing.T, user string, conversationID uuid.UUID, seq int64, emoji string) (any, error) {
	t.Helper()
	return b.h.AddReaction(as(t, user), apiserver.AddReactionRequestObject{ConversationId: conversationID, Seq: seq, Emoji: emoji})
}

func (b *testBundle) unreact(t *testing.T, user string, conversationID uuid.UUID, seq int64, emoji string) (any, error) {
	t.Helper()
	return b.h.RemoveReaction(as(t, user), apiserver.RemoveReactionRequestObject{ConversationId: conversationID, Seq: seq, Emoji: emoji})
}

func (b *testBundle) mustReact(t *testing.T, user string, conversationID uuid.UUID, seq int64, emoji string) {
	t.Helper()
	resp, err := b.react(t, user, conversationID, seq, emoji)
	expect[apiserver.AddReaction204Response](t, resp, err)
}

func (b *testBundle) mustUnreact(t *testing.T, user string, conversationID uuid.UUID, seq int64, emoji string) {
	t.Helper()
	resp, err := b.unreact(t, user, conversationID, seq, emoji)
	expect[apiserver.RemoveReaction204Response](t, resp, err)
}

// messageAs is message seq of the conversation as user reads it in history.
func (b *testBundle) messageAs(t *testing.T, user string, conversationID uuid.UUID, seq int64) api.Message {
	t.Helper()
	resp, err := b.h.ListMessages(as(t, user), apiserver.ListMessagesRequestObject{ConversationId: conversationID, Params: api.ListMessagesParams{AfterSeq: ptr(seq - 1), Limit: ptr(1)}})
	page := expect[apiserver.ListMessages200JSONResponse](t, resp, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, seq, page.Items[0].Seq)
	return page.Items[0]
}

func TestReactionsAreCountedPerEmojiAndShownToTheirAuthor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob", "carol")
	msg := b.send(t, "alice", conv.Id, "ship it?")
	require.Empty(t, msg.Reactions)
	require.NotNil(t, msg.MyReactions)

	for _, r := range []struct{ user, emoji string }{{"bob", "👍"}, {"carol", "👍"}, {"carol", ":parrot:"}, {"bob", "👍🏽"}} {
		b.mustReact(t, r.user, conv.Id, msg.Seq, r.emoji)
	}
	// Reacting again with the same emoji changes nothing and records nothing.
	before := len(b.events(t, "alice", conv.Id))
	b.mustReact(t, "bob", conv.Id, msg.Seq, "👍")
	require.Len(t, b.events(t, "alice", conv.Id), before)

	seen := b.messageAs(t, "carol", conv.Id, msg.Seq)
	require.Equal(t, []api.ReactionCount{{Emoji: "👍", Count: 2}, {Emoji: ":parrot:", Count: 1}, {Emoji: "👍🏽", Count: 1}}, seen.Reactions, "first used first")
	require.Equal(t, []api.Emoji{"👍", ":parrot:"}, *seen.MyReactions)
	require.Empty(t, *b.messageAs(t, "alice", conv.Id, msg.Seq).MyReactions)

	b.mustUnreact(t, "carol", conv.Id, msg.Seq, "👍")
	b.mustUnreact(t, "carol", conv.Id, msg.Seq, "👍")
	seen = b.messageAs(t, "carol", conv.Id, msg.Seq)
	require.Equal(t, []api.ReactionCount{{Emoji: "👍", Count: 1}, {Emoji: ":parrot:", Count: 1}, {Emoji: "👍🏽", Count: 1}}, seen.Reactions)
	require.Equal(t, []api.Emoji{":parrot:"}, *seen.MyReactions)

	// Each real change is one durable event with its own seq; the message's own carries none.
	var changes []string
	for _, e := range b.events(t, "alice", conv.Id) {
		if e.Reaction != nil {
			require.Equal(t, msg.Seq, e.Reaction.MessageSeq)
			changes = append(changes, fmt.Sprintf("%d %s %s %s", e.Seq, e.Type, e.Reaction.UserId, e.Reaction.Emoji))
		}
	}
	require.Equal(t, []string{
		"2 reaction.added bob 👍", "3 reaction.added carol 👍", "4 reaction.added carol :parrot:",
		"5 reaction.added bob 👍🏽", "6 reaction.removed carol 👍",
	}, changes)
}

func TestReactionRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	msg := b.send(t, "alice", conv.Id, "hello")

	resp, err := b.react(t, "bob", conv.Id, msg.Seq, "ab")
	require.Equal(t, "invalid_emoji", expectProblem(t, resp, err, http.StatusBadRequest).Code)
	resp, err = b.unreact(t, "bob", conv.Id, msg.Seq, "👍👍")
	require.Equal(t, "invalid_emoji", expectProblem(t, resp, err, http.StatusBadRequest).Code)
	resp, err = b.react(t, "bob", conv.Id, 99, "👍")
	require.Equal(t, "message_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)
	resp, err = b.unreact(t, "bob", conv.Id, 99, "👍")
	require.Equal(t, "message_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)
	resp, err = b.react(t, "mallory", conv.Id, msg.Seq, "👍")
	require.Equal(t, "conversation_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)

	// At most 32 distinct emoji; a 33rd is refused, more of an existing one is not.
	for i := range maxEmojiPerMessage {
		b.mustReact(t, "bob", conv.Id, msg.Seq, fmt.Sprintf(":e%d:", i))
	}
	resp, err = b.react(t, "alice", conv.Id, msg.Seq, ":one_too_many:")
	require.Equal(t, "too_many_reactions", expectProblem(t, resp, err, http.StatusConflict).Code)
	b.mustReact(t, "alice", conv.Id, msg.Seq, ":e0:")
	require.Len(t, b.messageAs(t, "alice", conv.Id, msg.Seq).Reactions, maxEmojiPerMessage)

	// None on a tombstone, which keeps none of its reactions.
	resp, err = b.h.DeleteMessage(as(t, "alice"), apiserver.DeleteMessageRequestObject{ConversationId: conv.Id, Seq: msg.Seq})
	expect[apiserver.DeleteMessage204Response](t, resp, err)
	resp, err = b.react(t, "bob", conv.Id, msg.Seq, "👍")
	require.Equal(t, "message_deleted", expectProblem(t, resp, err, http.StatusConflict).Code)
	require.Empty(t, b.messageAs(t, "alice", conv.Id, msg.Seq).Reactions)
	b.mustUnreact(t, "bob", conv.Id, msg.Seq, ":e1:")
}

func TestReactorsArePagedOldestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	users := numbered("user", 7)
	conv := b.createGroup(t, "alice", users...)
	msg := b.send(t, "alice", conv.Id, "vote")
	for _, u := range users {
		b.mustReact(t, u, conv.Id, msg.Seq, "🎉")
	}
	b.mustReact(t, "alice", conv.Id, msg.Seq, "👍")

	var got []string
	var cursor *string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 4)
		resp, err := b.h.ListReactors(as(t, "alice"), apiserver.ListReactorsRequestObject{
			ConversationId: conv.Id, Seq: msg.Seq, Emoji: "🎉", Params: api.ListReactorsParams{Limit: ptr(3), Cursor: cursor},
		})
		page := expect[apiserver.ListReactors200JSONResponse](t, resp, err)
		for _, r := range page.Items {
			got = append(got, r.UserId)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, users, got)

	resp, err := b.h.ListReactors(as(t, "alice"), apiserver.ListReactorsRequestObject{ConversationId: conv.Id, Seq: msg.Seq, Emoji: "🎉", Params: api.ListReactorsParams{Cursor: ptr("bm90IGEgY3Vyc29y")}})
	require.Equal(t, "invalid_cursor", expectProblem(t, resp, err, http.StatusBadRequest).Code)
	resp, err = b.h.ListReactors(as(t, "alice"), apiserver.ListReactorsRequestObject{ConversationId: conv.Id, Seq: msg.Seq, Emoji: "no"})
	require.Equal(t, "invalid_emoji", expectProblem(t, resp, err, http.StatusBadRequest).Code)
	resp, err = b.h.ListReactors(as(t, "alice"), apiserver.ListReactorsRequestObject{ConversationId: conv.Id, Seq: 42, Emoji: "🎉"})
	require.Equal(t, "message_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)
	resp, err = b.h.ListReactors(as(t, "mallory"), apiserver.ListReactorsRequestObject{ConversationId: conv.Id, Seq: msg.Seq, Emoji: "🎉"})
	require.Equal(t, "conversation_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)
}

// An edit's message.updated carries the reactions as everyone sees them, never anyone's own.
func TestEditedMessageKeepsItsReactions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	msg := b.send(t, "alice", conv.Id, "helo")
	b.mustReact(t, "bob", conv.Id, msg.Seq, "👀")
	resp, err := b.h.EditMessage(as(t, "bob"), apiserver.EditMessageRequestObject{ConversationId: conv.Id, Seq: msg.Seq, Body: &api.EditMessageJSONRequestBody{Body: "x"}})
	expectProblem(t, resp, err, http.StatusForbidden)
	resp, err = b.h.EditMessage(as(t, "alice"), apiserver.EditMessageRequestObject{ConversationId: conv.Id, Seq: msg.Seq, Body: &api.EditMessageJSONRequestBody{Body: "hello"}})
	edited := expect[apiserver.EditMessage200JSONResponse](t, resp, err)
	require.Equal(t, []api.ReactionCount{{Emoji: "👀", Count: 1}}, edited.Reactions)
	require.Empty(t, *edited.MyReactions)
	events := b.events(t, "alice", conv.Id)
	updated := events[len(events)-1]
	require.Equal(t, api.EventTypeMessageUpdated, updated.Type)
	require.Equal(t, []api.ReactionCount{{Emoji: "👀", Count: 1}}, updated.Message.Reactions)
	require.Nil(t, updated.Message.MyReactions)
}
