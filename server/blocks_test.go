package server

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

func (b *testBundle) block(t *testing.T, user, blocked string) {
	t.Helper()
	resp, err := b.h.BlockUser(as(t, user), apiserver.BlockUserRequestObject{UserId: blocked})
	expect[apiserver.BlockUser204Response](t, resp, err)
}

func (b *testBundle) blocks(t *testing.T, user string) []string {
	t.Helper()
	resp, err := b.h.ListBlocks(as(t, user), apiserver.ListBlocksRequestObject{})
	var ids []string
	for _, bl := range expect[apiserver.ListBlocks200JSONResponse](t, resp, err).Items {
		ids = append(ids, bl.UserId)
	}
	return ids
}

func (b *testBundle) createDirect(t *testing.T, user, other string) (any, error) {
	t.Helper()
	return b.h.CreateConversation(as(t, user), apiserver.CreateConversationRequestObject{Body: &api.CreateConversationJSONRequestBody{
		Type: api.ConversationTypeDirect, MemberIds: []string{other},
	}})
}

func TestBlocksAreListedAndIdempotent(t *testing.T) {
	t.Parallel()
	var resp any
	var err error
	b := setup(t)
	require.Empty(t, b.blocks(t, "alice"))
	b.block(t, "alice", "bob")
	b.block(t, "alice", "carol")
	b.block(t, "alice", "bob")
	require.Equal(t, []string{"carol", "bob"}, b.blocks(t, "alice"), "newest first, once each")
	require.Empty(t, b.blocks(t, "bob"), "a block is the blocker's")

	resp, err = b.h.UnblockUser(as(t, "alice"), apiserver.UnblockUserRequestObject{UserId: "bob"})
	expect[apiserver.UnblockUser204Response](t, resp, err)
	resp, err = b.h.UnblockUser(as(t, "alice"), apiserver.UnblockUserRequestObject{UserId: "bob"})
	expect[apiserver.UnblockUser204Response](t, resp, err)
	require.Equal(t, []string{"carol"}, b.blocks(t, "alice"))

	resp, err = b.h.BlockUser(as(t, "alice"), apiserver.BlockUserRequestObject{UserId: "alice"})
	require.Equal(t, "cannot_block_self", expectProblem(t, resp, err, http.StatusBadRequest).Code)
}

func TestBlocksAreCapped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.pool.Exec(t.Context(), `INSERT INTO blocks (user_id, blocked_id) SELECT 'alice', 'user' || g FROM generate_series(1, $1::int) g`, maxBlocks)
	require.NoError(t, err)
	resp, err := b.h.BlockUser(as(t, "alice"), apiserver.BlockUserRequestObject{UserId: "bob"})
	require.Equal(t, "too_many_blocks", expectProblem(t, resp, err, http.StatusConflict).Code)
	b.block(t, "alice", "user7") // blocked already: still a success
	require.Len(t, b.blocks(t, "alice"), maxBlocks)
}

// Neither of two users who block one another (either way) can start a direct conversation or send
// in theirs; groups are not affected.
func TestBlockedUsersCannotTalkDirectly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.createDirect(t, "alice", "bob")
	direct := expect[apiserver.CreateConversation201JSONResponse](t, resp, err)
	group := b.createGroup(t, "alice", "bob")
	b.send(t, "bob", direct.Id, "hi")

	b.block(t, "alice", "bob")
	for _, sender := range []string{"alice", "bob"} {
		resp, err := b.sendWith(t, sender, direct.Id, "hello?", nil)
		require.Equal(t, "blocked", expectProblem(t, resp, err, http.StatusForbidden).Code, sender)
		resp, err = b.createDirect(t, sender, map[string]string{"alice": "bob", "bob": "alice"}[sender])
		require.Equal(t, "blocked", expectProblem(t, resp, err, http.StatusForbidden).Code, sender)
		b.send(t, sender, group.Id, "groups still work")
	}
	resp, err = b.createDirect(t, "bob", "carol")
	expect[apiserver.CreateConversation201JSONResponse](t, resp, err)

	resp, err = b.h.UnblockUser(as(t, "alice"), apiserver.UnblockUserRequestObject{UserId: "bob"})
	expect[apiserver.UnblockUser204Response](t, resp, err)
	b.send(t, "bob", direct.Id, "talking again")
}

func TestMuteIsTheCallersOwn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	require.False(t, b.summary(t, "bob", conv.Id).Muted)
	resp, err := b.h.UpdateSettings(as(t, "bob"), apiserver.UpdateSettingsRequestObject{ConversationId: conv.Id, Body: &api.MemberSettings{Muted: true}})
	require.True(t, expect[apiserver.UpdateSettings200JSONResponse](t, resp, err).Muted)
	require.True(t, b.summary(t, "bob", conv.Id).Muted)
	require.False(t, b.summary(t, "alice", conv.Id).Muted)
	// Muted still counts unread messages.
	b.send(t, "alice", conv.Id, "psst")
	require.EqualValues(t, 1, b.summary(t, "bob", conv.Id).UnreadCount)

	resp, err = b.h.UpdateSettings(as(t, "bob"), apiserver.UpdateSettingsRequestObject{ConversationId: conv.Id, Body: &api.MemberSettings{Muted: false}})
	require.False(t, expect[apiserver.UpdateSettings200JSONResponse](t, resp, err).Muted)
	require.False(t, b.summary(t, "bob", conv.Id).Muted)

	resp, err = b.h.UpdateSettings(as(t, "mallory"), apiserver.UpdateSettingsRequestObject{ConversationId: conv.Id, Body: &api.MemberSettings{Muted: true}})
	require.Equal(t, "conversation_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)
}
