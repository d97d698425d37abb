package server

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

func memberIDs(t *testing.T, b *testBundle, user string, conversationID uuid.UUID) map[string]api.Role {
	t.Helper()
	resp, err := b.h.ListMembers(as(t, user), apiserver.ListMembersRequestObject{ConversationId: conversationID})
	out := map[string]api.Role{}
	for _, m := range expect[apiserver.ListMembers200JSONResponse](t, resp, err).Items {
		out[m.UserId] = m.Role
	}
	return out
}

func TestAddMember(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")

	role := api.AddMemberRequestRoleAdmin
	resp, err := b.h.AddMember(as(t, "alice"), apiserver.AddMemberRequestObject{ConversationId: conv.Id, Body: &api.AddMemberJSONRequestBody{UserId: "carol", Role: &role}})
	added := expect[apiserver.AddMember201JSONResponse](t, resp, err)
	require.Equal(t, "carol", added.UserId)
	require.Equal(t, api.RoleAdmin, added.Role)
	require.Zero(t, added.LastReadSeq)

	resp, err = b.h.AddMember(as(t, "carol"), apiserver.AddMemberRequestObject{ConversationId: conv.Id, Body: &api.AddMemberJSONRequestBody{UserId: "dave"}})
	require.Equal(t, api.RoleMember, expect[apiserver.AddMember201JSONResponse](t, resp, err).Role, "role defaults to member")

	resp, err = b.h.AddMember(as(t, "alice"), apiserver.AddMemberRequestObject{ConversationId: conv.Id, Body: &api.AddMemberJSONRequestBody{UserId: "bob"}})
	require.Equal(t, "already_member", expectProblem(t, resp, err, 409).Code)

	resp, err = b.h.AddMember(as(t, "bob"), apiserver.AddMemberRequestObject{ConversationId: conv.Id, Body: &api.AddMemberJSONRequestBody{UserId: "erin"}})
	require.Equal(t, "not_admin", expectProblem(t, resp, err, 403).Code)

	resp, err = b.h.AddMember(as(t, "mallory"), apiserver.AddMemberRequestObject{ConversationId: conv.Id, Body: &api.AddMemberJSONRequestBody{UserId: "mallory"}})
	expectProblem(t, resp, err, 404)

	got, err := b.h.GetConversation(as(t, "dave"), apiserver.GetConversationRequestObject{ConversationId: conv.Id})
	c := expect[apiserver.GetConversation200JSONResponse](t, got, err)
	require.Equal(t, 4, c.MemberCount)
	require.EqualValues(t, 2, c.LastSeq, "each addition is an event")

	events := b.events(t, "dave", conv.Id)
	require.Len(t, events, 2)
	require.Equal(t, api.EventTypeMemberAdded, events[1].Type)
	require.Equal(t, "dave", events[1].Member.UserId)
	require.Equal(t, "carol", events[1].ActorId)
}

func TestAddMemberToDirectIsForbidden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.h.CreateConversation(as(t, "alice"), apiserver.CreateConversationRequestObject{Body: &api.CreateConversationJSONRequestBody{Type: api.ConversationTypeDirect, MemberIds: []string{"bob"}}})
	direct := expect[apiserver.CreateConversation201JSONResponse](t, resp, err)
	add, err := b.h.AddMember(as(t, "alice"), apiserver.AddMemberRequestObject{ConversationId: direct.Id, Body: &api.AddMemberJSONRequestBody{UserId: "carol"}})
	require.Equal(t, "direct_conversation", expectProblem(t, add, err, 403).Code)
	remove, err := b.h.RemoveMember(as(t, "alice"), apiserver.RemoveMemberRequestObject{ConversationId: direct.Id, UserId: "bob"})
	require.Equal(t, "direct_conversation", expectProblem(t, remove, err, 403).Code)
}

func TestRemoveMember(t *testing.T) {
	t.Parallel()

	t.Run("LeaveAndRemoveByRole", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conv := b.createGroup(t, "alice", "bob", "carol")
		b.addMember(t, "alice", conv.Id, "adam", api.AddMemberRequestRoleAdmin)
		b.addMember(t, "alice", conv.Id, "anna", api.AddMemberRequestRoleAdmin)
		remove := func(by, user string) (apiserver.RemoveMemberResponseObject, error) {
			return b.h.RemoveMember(as(t, by), apiserver.RemoveMemberRequestObject{ConversationId: conv.Id, UserId: user})
		}

		resp, err := remove("bob", "carol")
		require.Equal(t, "not_admin", expectProblem(t, resp, err, 403).Code)
		resp, err = remove("adam", "anna")
		require.Equal(t, "not_allowed", expectProblem(t, resp, err, 403).Code, "an admin cannot remove another admin")
		resp, err = remove("adam", "alice")
		expectProblem(t, resp, err, 403)
		resp, err = remove("adam", "zed")
		require.Equal(t, "member_not_found", expectProblem(t, resp, err, 404).Code)

		resp, err = remove("adam", "carol")
		expect[apiserver.RemoveMember204Response](t, resp, err)
		resp, err = remove("bob", "bob")
		expect[apiserver.RemoveMember204Response](t, resp, err)
		resp, err = remove("alice", "anna")
		expect[apiserver.RemoveMember204Response](t, resp, err)

		require.Equal(t, map[string]api.Role{"alice": api.RoleOwner, "adam": api.RoleAdmin}, memberIDs(t, b, "alice", conv.Id))
		got, err := b.h.GetConversation(as(t, "bob"), apiserver.GetConversationRequestObject{ConversationId: conv.Id})
		expectProblem(t, got, err, 404)

		events := b.events(t, "alice", conv.Id)
		last := events[len(events)-1]
		require.Equal(t, api.EventTypeMemberRemoved, last.Type)
		require.Equal(t, "anna", last.Member.UserId)
	})

	t.Run("OwnerLeavingHandsOverToAdminFirst", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conv := b.createGroup(t, "alice", "bob")
		b.addMember(t, "alice", conv.Id, "carol", api.AddMemberRequestRoleAdmin)
		resp, err := b.h.RemoveMember(as(t, "alice"), apiserver.RemoveMemberRequestObject{ConversationId: conv.Id, UserId: "alice"})
		expect[apiserver.RemoveMember204Response](t, resp, err)
		require.Equal(t, map[string]api.Role{"bob": api.RoleMember, "carol": api.RoleOwner}, memberIDs(t, b, "bob", conv.Id))
	})

	t.Run("OwnerLeavingWithoutAdminsHandsOverToEldestMember", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conv := b.createGroup(t, "alice", "bob")
		b.addMember(t, "alice", conv.Id, "carol", api.AddMemberRequestRoleMember)
		resp, err := b.h.RemoveMember(as(t, "alice"), apiserver.RemoveMemberRequestObject{ConversationId: conv.Id, UserId: "alice"})
		expect[apiserver.RemoveMember204Response](t, resp, err)
		require.Equal(t, map[string]api.Role{"bob": api.RoleOwner, "carol": api.RoleMember}, memberIDs(t, b, "bob", conv.Id))
	})
}

func TestConversationMembersAreCapped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.h.maxMembers = 3
	conv := b.createGroup(t, "alice", "bob", "carol")

	resp, err := b.h.AddMember(as(t, "alice"), apiserver.AddMemberRequestObject{ConversationId: conv.Id, Body: &api.AddMemberJSONRequestBody{UserId: "dave"}})
	full := expectProblem(t, resp, err, 409)
	require.Equal(t, "conversation_full", full.Code)

	created, err := b.h.CreateConversation(as(t, "alice"), apiserver.CreateConversationRequestObject{Body: &api.CreateConversationJSONRequestBody{
		Type: api.ConversationTypeGroup, MemberIds: []string{"bob", "carol", "dave"},
	}})
	tooMany := expectProblem(t, created, err, 400)
	require.Equal(t, "too_many_members", tooMany.Code)

	// Once someone leaves there is room again.
	left, err := b.h.RemoveMember(as(t, "carol"), apiserver.RemoveMemberRequestObject{ConversationId: conv.Id, UserId: "carol"})
	expect[apiserver.RemoveMember204Response](t, left, err)
	b.addMember(t, "alice", conv.Id, "dave", api.AddMemberRequestRoleMember)
}
