package server

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

// sendWith sends a message with a reply target and mentions and returns what the handler answered.
func (b *testBundle) sendWith(t *testing.T, user string, conversationID uuid.UUID, body string, replyTo *int64, mentions ...string) (any, error) {
	t.Helper()
	req := &api.SendMessageJSONRequestBody{ClientMsgId: uuid.NewString(), Body: body, ReplyToSeq: replyTo}
	if mentions != nil {
		req.Mentions = &mentions
	}
	return b.h.SendMessage(as(t, user), apiserver.SendMessageRequestObject{ConversationId: conversationID, Body: req})
}

func (b *testBundle) reply(t *testing.T, user string, conversationID uuid.UUID, root int64, body string) api.Message {
	t.Helper()
	resp, err := b.sendWith(t, user, conversationID, body, &root)
	return api.Message(expect[apiserver.SendMessage201JSONResponse](t, resp, err))
}

func TestThreadsHoldRepliesOneLevelDeep(t *testing.T) {
	t.Parallel()
	var resp any
	var err error
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	root := b.send(t, "alice", conv.Id, "plan for friday?")
	first := b.reply(t, "bob", conv.Id, root.Seq, "pizza")
	other := b.send(t, "alice", conv.Id, "unrelated")
	second := b.reply(t, "alice", conv.Id, root.Seq, "fine by me")
	require.Equal(t, root.Seq, *first.ReplyToSeq)

	got := b.messageAs(t, "bob", conv.Id, root.Seq)
	require.Equal(t, 2, got.ReplyCount)
	require.Equal(t, second.CreatedAt, *got.LastReplyAt)
	require.Zero(t, b.messageAs(t, "bob", conv.Id, first.Seq).ReplyCount)

	replies := func(user string, params api.ListRepliesParams) api.MessagePage {
		resp, err := b.h.ListReplies(as(t, user), apiserver.ListRepliesRequestObject{ConversationId: conv.Id, Seq: root.Seq, Params: params})
		return api.MessagePage(expect[apiserver.ListReplies200JSONResponse](t, resp, err))
	}
	page := replies("bob", api.ListRepliesParams{})
	require.Equal(t, []string{"pizza", "fine by me"}, bodies(page.Items))
	require.False(t, page.HasMore)
	page = replies("bob", api.ListRepliesParams{Limit: ptr(1)})
	require.Equal(t, []string{"pizza"}, bodies(page.Items))
	require.True(t, page.HasMore)
	page = replies("bob", api.ListRepliesParams{AfterSeq: &first.Seq})
	require.Equal(t, []string{"fine by me"}, bodies(page.Items))

	// History without replies, either way it is paged.
	resp, err = b.h.ListMessages(as(t, "bob"), apiserver.ListMessagesRequestObject{ConversationId: conv.Id, Params: api.ListMessagesParams{RootsOnly: ptr(true)}})
	require.Equal(t, []int64{root.Seq, other.Seq}, seqs(expect[apiserver.ListMessages200JSONResponse](t, resp, err).Items))
	resp, err = b.h.ListMessages(as(t, "bob"), apiserver.ListMessagesRequestObject{ConversationId: conv.Id, Params: api.ListMessagesParams{RootsOnly: ptr(true), AfterSeq: ptr(int64(0))}})
	require.Equal(t, []int64{root.Seq, other.Seq}, seqs(expect[apiserver.ListMessages200JSONResponse](t, resp, err).Items))
	resp, err = b.h.ListMessages(as(t, "bob"), apiserver.ListMessagesRequestObject{ConversationId: conv.Id})
	require.Len(t, expect[apiserver.ListMessages200JSONResponse](t, resp, err).Items, 4)

	// A deleted reply leaves the count; the thread shows its tombstone.
	resp, err = b.h.DeleteMessage(as(t, "bob"), apiserver.DeleteMessageRequestObject{ConversationId: conv.Id, Seq: first.Seq})
	expect[apiserver.DeleteMessage204Response](t, resp, err)
	require.Equal(t, 1, b.messageAs(t, "alice", conv.Id, root.Seq).ReplyCount)
	require.Len(t, replies("alice", api.ListRepliesParams{}).Items, 2)

	// The only event of a reply is its message.created, which names its root.
	created := 0
	for _, e := range b.events(t, "alice", conv.Id) {
		if e.Type == api.EventTypeMessageCreated && e.Message.ReplyToSeq != nil {
			require.Equal(t, root.Seq, *e.Message.ReplyToSeq)
			created++
		}
	}
	require.Equal(t, 2, created)
}

func TestRepliesRefused(t *testing.T) {
	t.Parallel()
	var resp any
	var err error
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	root := b.send(t, "alice", conv.Id, "root")
	reply := b.reply(t, "bob", conv.Id, root.Seq, "reply")
	gone := b.send(t, "alice", conv.Id, "soon deleted")
	resp, err = b.h.DeleteMessage(as(t, "alice"), apiserver.DeleteMessageRequestObject{ConversationId: conv.Id, Seq: gone.Seq})
	expect[apiserver.DeleteMessage204Response](t, resp, err)
	elsewhere := b.createGroup(t, "alice", "bob")

	for name, target := range map[string]int64{"a reply": reply.Seq, "a tombstone": gone.Seq, "an unknown seq": 99} {
		resp, err := b.sendWith(t, "bob", conv.Id, "x", &target)
		require.Equal(t, "invalid_reply_target", expectProblem(t, resp, err, http.StatusBadRequest).Code, name)
	}
	resp, err = b.sendWith(t, "bob", elsewhere.Id, "x", &root.Seq)
	require.Equal(t, "invalid_reply_target", expectProblem(t, resp, err, http.StatusBadRequest).Code, "a root of another conversation")
	resp, err = b.sendWith(t, "mallory", conv.Id, "x", &root.Seq)
	require.Equal(t, "conversation_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)
	// Refused sends took no seq: the next one is the next.
	require.Equal(t, gone.Seq+2, b.send(t, "alice", conv.Id, "next").Seq, "seq after the deletion's event")

	resp, err = b.h.ListReplies(as(t, "alice"), apiserver.ListRepliesRequestObject{ConversationId: conv.Id, Seq: 99})
	require.Equal(t, "message_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)
	resp, err = b.h.ListReplies(as(t, "mallory"), apiserver.ListRepliesRequestObject{ConversationId: conv.Id, Seq: root.Seq})
	require.Equal(t, "conversation_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)
	resp, err = b.h.ListReplies(as(t, "alice"), apiserver.ListRepliesRequestObject{ConversationId: conv.Id, Seq: reply.Seq})
	require.Empty(t, expect[apiserver.ListReplies200JSONResponse](t, resp, err).Items, "a reply has no thread of its own")
}

func TestMentionsCountForTheMentionedUntilRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob", "carol")
	resp, err := b.sendWith(t, "alice", conv.Id, "@bob @carol look", nil, "bob", "carol", "bob", "alice")
	first := expect[apiserver.SendMessage201JSONResponse](t, resp, err)
	require.Equal(t, []string{"bob", "carol", "alice"}, first.Mentions, "repeats count once")
	resp, err = b.sendWith(t, "carol", conv.Id, "@bob again", nil, "bob")
	second := expect[apiserver.SendMessage201JSONResponse](t, resp, err)
	b.send(t, "alice", conv.Id, "no mention")

	require.Equal(t, []string{"bob"}, b.messageAs(t, "alice", conv.Id, second.Seq).Mentions)
	require.EqualValues(t, 2, b.summary(t, "bob", conv.Id).UnreadMentionCount)
	require.EqualValues(t, 1, b.summary(t, "carol", conv.Id).UnreadMentionCount)
	require.EqualValues(t, 0, b.summary(t, "alice", conv.Id).UnreadMentionCount, "mentioning oneself is not unread")

	b.markRead(t, "bob", conv.Id, first.Seq)
	require.EqualValues(t, 1, b.summary(t, "bob", conv.Id).UnreadMentionCount)
	// A deleted message mentions no one.
	resp, err = b.h.DeleteMessage(as(t, "carol"), apiserver.DeleteMessageRequestObject{ConversationId: conv.Id, Seq: second.Seq})
	expect[apiserver.DeleteMessage204Response](t, resp, err)
	require.EqualValues(t, 0, b.summary(t, "bob", conv.Id).UnreadMentionCount)
	require.Empty(t, b.messageAs(t, "bob", conv.Id, second.Seq).Mentions)

	resp, err = b.sendWith(t, "alice", conv.Id, "@dave?", nil, "dave")
	require.Equal(t, "invalid_mention", expectProblem(t, resp, err, http.StatusBadRequest).Code, "not a member")
	many := numbered("user", maxMentions+1)
	resp, err = b.sendWith(t, "alice", conv.Id, "everyone", nil, many...)
	require.Equal(t, "invalid_mention", expectProblem(t, resp, err, http.StatusBadRequest).Code, "too many")
}

func (b *testBundle) summary(t *testing.T, user string, conversationID uuid.UUID) api.ConversationSummary {
	t.Helper()
	resp, err := b.h.ListConversations(as(t, user), apiserver.ListConversationsRequestObject{Params: api.ListConversationsParams{Limit: ptr(200)}})
	for _, c := range expect[apiserver.ListConversations200JSONResponse](t, resp, err).Items {
		if c.Id == conversationID {
			return c
		}
	}
	require.FailNow(t, "conversation not listed", "%s for %s", conversationID, user)
	return api.ConversationSummary{}
}

func (b *testBundle) markRead(t *testing.T, user string, conversationID uuid.UUID, seq int64) {
	t.Helper()
	resp, err := b.h.MarkRead(as(t, user), apiserver.MarkReadRequestObject{ConversationId: conversationID, Body: &api.MarkReadJSONRequestBody{Seq: seq}})
	expect[apiserver.MarkRead200JSONResponse](t, resp, err)
}
