package server

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

// The unread counts of the conversation list come from counters kept as messages are sent, read
// and deleted (see migration 00002). After every step of random sequences of sends, replies,
// mentions, edits, deletes, reads, reactions and member changes, each member's counts equal a
// recount from the messages themselves.
func TestUnreadCountersMatchARecount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for run := range 6 {
		seed := uint64(run) + 1
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			u := &unreadModel{b: b, rng: rand.New(rand.NewPCG(seed, seed)), users: numbered("u", 6)}
			conv := b.createGroup(t, "u1", "u2", "u3", "u4")
			u.conv = conv.Id
			for step := range 80 {
				op := u.step(t)
				u.check(t, fmt.Sprintf("after step %d (%s)", step, op))
			}
		})
	}
}

type unreadModel struct {
	b     *testBundle
	rng   *rand.Rand
	conv  uuid.UUID
	users []string
}

func (u *unreadModel) members(t *testing.T) []api.Member {
	t.Helper()
	resp, err := u.b.h.ListMembers(as(t, "u1"), apiserver.ListMembersRequestObject{ConversationId: u.conv})
	return expect[apiserver.ListMembers200JSONResponse](t, resp, err).Items
}

func (u *unreadModel) pick(items []string) string { return items[u.rng.IntN(len(items))] }

// step does one random operation as a random member and says what it did.
func (u *unreadModel) step(t *testing.T) string {
	t.Helper()
	var names []string
	for _, m := range u.members(t) {
		names = append(names, m.UserId)
	}
	who := u.pick(names)
	page, err := u.b.h.ListMessages(as(t, who), apiserver.ListMessagesRequestObject{ConversationId: u.conv, Params: api.ListMessagesParams{Limit: ptr(200)}})
	messages := expect[apiserver.ListMessages200JSONResponse](t, page, err).Items
	conv, err := u.b.h.GetConversation(as(t, who), apiserver.GetConversationRequestObject{ConversationId: u.conv})
	last := expect[apiserver.GetConversation200JSONResponse](t, conv, err).LastSeq

	switch k := u.rng.IntN(10); {
	case k < 4 || len(messages) == 0:
		var replyTo *int64
		var roots []int64
		for _, m := range messages {
			if m.ReplyToSeq == nil && m.DeletedAt == nil {
				roots = append(roots, m.Seq)
			}
		}
		if len(roots) > 0 && u.rng.IntN(3) == 0 {
			replyTo = &roots[u.rng.IntN(len(roots))]
		}
		var mentions []string
		for range u.rng.IntN(3) {
			mentions = append(mentions, u.pick(names))
		}
		resp, err := u.b.sendWith(t, who, u.conv, "message", replyTo, mentions...)
		expect[apiserver.SendMessage201JSONResponse](t, resp, err)
		return fmt.Sprintf("%s sends, reply to %v, mentioning %v", who, replyTo, mentions)
	case k < 6:
		seq := u.rng.Int64N(last + 1)
		u.b.markRead(t, who, u.conv, seq)
		return fmt.Sprintf("%s reads to %d", who, seq)
	case k < 7:
		m := messages[u.rng.IntN(len(messages))]
		resp, err := u.b.h.DeleteMessage(as(t, m.SenderId), apiserver.DeleteMessageRequestObject{ConversationId: u.conv, Seq: m.Seq})
		if slices.Contains(names, m.SenderId) {
			expect[apiserver.DeleteMessage204Response](t, resp, err)
		}
		return fmt.Sprintf("%s deletes %d", m.SenderId, m.Seq)
	case k < 8:
		m := messages[u.rng.IntN(len(messages))]
		if m.DeletedAt == nil && slices.Contains(names, m.SenderId) {
			resp, err := u.b.h.EditMessage(as(t, m.SenderId), apiserver.EditMessageRequestObject{ConversationId: u.conv, Seq: m.Seq, Body: &api.EditMessageJSONRequestBody{Body: "edited"}})
			expect[apiserver.EditMessage200JSONResponse](t, resp, err)
		} else if m.DeletedAt == nil {
			u.b.mustReact(t, who, u.conv, m.Seq, "👍")
		}
		return fmt.Sprintf("edit or react to %d", m.Seq)
	default:
		user := u.pick(u.users)
		if user == "u1" {
			return "nothing"
		}
		if slices.Contains(names, user) {
			resp, err := u.b.h.RemoveMember(as(t, "u1"), apiserver.RemoveMemberRequestObject{ConversationId: u.conv, UserId: user})
			expect[apiserver.RemoveMember204Response](t, resp, err)
			return "u1 removes " + user
		}
		u.b.addMember(t, "u1", u.conv, user, api.AddMemberRequestRoleMember)
		return "u1 adds " + user
	}
}

// check compares every member's counts with a recount.
func (u *unreadModel) check(t *testing.T, when string) {
	t.Helper()
	for _, m := range u.members(t) {
		var unread, mentions int64
		err := u.b.pool.QueryRow(t.Context(), `
			SELECT count(*), count(*) FILTER (WHERE $2 = ANY(mentions))
			FROM messages
			WHERE conversation_id = $1 AND seq > $3 AND sender_id <> $2 AND deleted_at IS NULL`,
			u.conv, m.UserId, m.LastReadSeq).Scan(&unread, &mentions)
		require.NoError(t, err)
		s := u.b.summary(t, m.UserId, u.conv)
		require.Equal(t, unread, s.UnreadCount, "%s: unread of %s", when, m.UserId)
		require.Equal(t, mentions, s.UnreadMentionCount, "%s: mentions of %s", when, m.UserId)
	}
}
