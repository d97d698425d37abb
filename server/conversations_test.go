package server

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

func TestCreateConversation(t *testing.T) {
	t.Parallel()

	t.Run("GroupMakesCallerOwner", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conv := b.createGroup(t, "alice", "bob", "carol", "bob", "alice")
		require.Equal(t, api.ConversationTypeGroup, conv.Type)
		require.Equal(t, "alice", conv.CreatedBy)
		require.Equal(t, 3, conv.MemberCount, "repeats and the caller count once")
		require.Zero(t, conv.LastSeq)

		resp, err := b.h.ListMembers(as(t, "alice"), apiserver.ListMembersRequestObject{ConversationId: conv.Id})
		members := expect[apiserver.ListMembers200JSONResponse](t, resp, err).Items
		require.Len(t, members, 3)
		require.Equal(t, "alice", members[0].UserId)
		require.Equal(t, api.RoleOwner, members[0].Role)
		require.Equal(t, api.RoleMember, members[1].Role)
	})

	t.Run("DirectIsReturnedNotDuplicated", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		create := func(caller, other string) (apiserver.CreateConversationResponseObject, error) {
			return b.h.CreateConversation(as(t, caller), apiserver.CreateConversationRequestObject{Body: &api.CreateConversationJSONRequestBody{
				Type: api.ConversationTypeDirect, MemberIds: []string{other},
			}})
		}
		resp, err := create("alice", "bob")
		first := expect[apiserver.CreateConversation201JSONResponse](t, resp, err)
		require.Nil(t, first.Title)

		resp, err = create("bob", "alice")
		again := expect[apiserver.CreateConversation200JSONResponse](t, resp, err)
		require.Equal(t, first.Id, again.Id)

		resp, err = create("alice", "carol")
		other := expect[apiserver.CreateConversation201JSONResponse](t, resp, err)
		require.NotEqual(t, first.Id, other.Id)
	})

	t.Run("DirectRejectsBadMembersAndTitle", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for name, body := range map[string]api.CreateConversationJSONRequestBody{
			"OnlySelf":  {Type: api.ConversationTypeDirect, MemberIds: []string{"alice"}},
			"NoOne":     {Type: api.ConversationTypeDirect, MemberIds: []string{}},
			"TwoOthers": {Type: api.ConversationTypeDirect, MemberIds: []string{"bob", "carol"}},
			"Title":     {Type: api.ConversationTypeDirect, MemberIds: []string{"bob"}, Title: ptr("hi")},
			"Type":      {Type: "channel", MemberIds: []string{"bob"}},
		} {
			resp, err := b.h.CreateConversation(as(t, "alice"), apiserver.CreateConversationRequestObject{Body: &body})
			p := expectProblem(t, resp, err, 400)
			require.Equal(t, 400, p.Status, name)
			require.NotEmpty(t, p.Code, name)
		}
	})

	t.Run("NoCallerIsAnError", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.h.CreateConversation(t.Context(), apiserver.CreateConversationRequestObject{Body: &api.CreateConversationJSONRequestBody{Type: api.ConversationTypeGroup}})
		require.ErrorIs(t, err, errNoCaller)
	})
}

func TestListConversations(t *testing.T) {
	t.Parallel()

	t.Run("MostRecentActivityFirstWithUnreadAndLastMessage", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		older := b.createGroup(t, "alice", "bob")
		newer := b.createGroup(t, "alice", "bob")
		b.send(t, "bob", older.Id, "one")
		b.send(t, "bob", older.Id, "two")
		b.send(t, "alice", older.Id, "mine")
		deleted := b.send(t, "bob", newer.Id, "gone")
		resp, err := b.h.DeleteMessage(as(t, "bob"), apiserver.DeleteMessageRequestObject{ConversationId: newer.Id, Seq: deleted.Seq})
		expect[apiserver.DeleteMessage204Response](t, resp, err)

		list, err := b.h.ListConversations(as(t, "alice"), apiserver.ListConversationsRequestObject{})
		items := expect[apiserver.ListConversations200JSONResponse](t, list, err).Items
		require.Len(t, items, 2)
		require.Equal(t, newer.Id, items[0].Id, "the conversation with the latest message comes first")
		require.Equal(t, older.Id, items[1].Id)

		require.EqualValues(t, 2, items[1].UnreadCount, "own messages are not unread")
		require.NotNil(t, items[1].LastMessage)
		require.Equal(t, "mine", items[1].LastMessage.Body)
		require.Zero(t, items[0].UnreadCount, "deleted messages are not unread")
		require.Nil(t, items[0].LastMessage, "a deleted message is not the last message")

		read, err := b.h.MarkRead(as(t, "alice"), apiserver.MarkReadRequestObject{ConversationId: older.Id, Body: &api.MarkReadJSONRequestBody{Seq: 1}})
		expect[apiserver.MarkRead200JSONResponse](t, read, err)
		list, err = b.h.ListConversations(as(t, "alice"), apiserver.ListConversationsRequestObject{})
		items = expect[apiserver.ListConversations200JSONResponse](t, list, err).Items
		require.EqualValues(t, 1, items[1].UnreadCount)
		require.EqualValues(t, 1, items[1].LastReadSeq)
	})

	t.Run("PagesWithCursorWithoutRepeatsOrGaps", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var created []uuid.UUID
		for range 7 {
			created = append(created, b.createGroup(t, "alice").Id)
		}
		b.createGroup(t, "mallory") // not alice's
		var seen []uuid.UUID
		limit := 3
		var cursor *string
		for {
			resp, err := b.h.ListConversations(as(t, "alice"), apiserver.ListConversationsRequestObject{Params: api.ListConversationsParams{Limit: &limit, Cursor: cursor}})
			page := expect[apiserver.ListConversations200JSONResponse](t, resp, err)
			require.LessOrEqual(t, len(page.Items), limit)
			for _, c := range page.Items {
				seen = append(seen, c.Id)
			}
			if page.NextCursor == nil {
				break
			}
			cursor = page.NextCursor
		}
		require.Len(t, seen, len(created))
		for i := range created {
			require.Equal(t, created[len(created)-1-i], seen[i], "newest first")
		}
	})

	t.Run("RejectsForgedCursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, cursor := range []string{"!!!", "bm90LWEtY3Vyc29y", encodeConversationCursor(timeZero(), uuid.Nil)[:5]} {
			resp, err := b.h.ListConversations(as(t, "alice"), apiserver.ListConversationsRequestObject{Params: api.ListConversationsParams{Cursor: &cursor}})
			p := expectProblem(t, resp, err, 400)
			require.Equal(t, "invalid_cursor", p.Code)
		}
	})
}

func TestGetConversation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	b.send(t, "bob", conv.Id, "hi")

	resp, err := b.h.GetConversation(as(t, "bob"), apiserver.GetConversationRequestObject{ConversationId: conv.Id})
	got := expect[apiserver.GetConversation200JSONResponse](t, resp, err)
	require.Equal(t, conv.Id, got.Id)
	require.EqualValues(t, 1, got.LastSeq)
	require.Equal(t, 2, got.MemberCount)

	resp, err = b.h.GetConversation(as(t, "alice"), apiserver.GetConversationRequestObject{ConversationId: uuid.New()})
	p := expectProblem(t, resp, err, 404)
	require.Equal(t, "conversation_not_found", p.Code)
}

func TestUpdateConversation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	rename := func(user string, id uuid.UUID, title string) (apiserver.UpdateConversationResponseObject, error) {
		return b.h.UpdateConversation(as(t, user), apiserver.UpdateConversationRequestObject{ConversationId: id, Body: &api.UpdateConversationJSONRequestBody{Title: title}})
	}

	resp, err := rename("alice", conv.Id, "Renamed")
	got := expect[apiserver.UpdateConversation200JSONResponse](t, resp, err)
	require.Equal(t, "Renamed", *got.Title)
	require.EqualValues(t, 1, got.LastSeq)
	require.True(t, got.UpdatedAt.After(conv.UpdatedAt) || got.UpdatedAt.Equal(conv.UpdatedAt))

	events := b.events(t, "bob", conv.Id)
	require.Len(t, events, 1)
	require.Equal(t, api.EventTypeConversationUpdated, events[0].Type)
	require.Equal(t, "Renamed", *events[0].Conversation.Title)
	require.Equal(t, "alice", events[0].ActorId)

	resp, err = rename("bob", conv.Id, "Mine now")
	require.Equal(t, "not_admin", expectProblem(t, resp, err, 403).Code)

	b.addMember(t, "alice", conv.Id, "carol", api.AddMemberRequestRoleAdmin)
	resp, err = rename("carol", conv.Id, "By admin")
	expect[apiserver.UpdateConversation200JSONResponse](t, resp, err)

	direct, err := b.h.CreateConversation(as(t, "alice"), apiserver.CreateConversationRequestObject{Body: &api.CreateConversationJSONRequestBody{Type: api.ConversationTypeDirect, MemberIds: []string{"bob"}}})
	directID := expect[apiserver.CreateConversation201JSONResponse](t, direct, err).Id
	resp, err = rename("alice", directID, "Title")
	require.Equal(t, "direct_conversation", expectProblem(t, resp, err, 403).Code)

	resp, err = rename("mallory", conv.Id, "Hijack")
	expectProblem(t, resp, err, 404)
}
