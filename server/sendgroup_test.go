package server

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
)

// Concurrent sends to several conversations, written in groups that span them (and lock their
// rows in one order, so four groups at once never deadlock), each get their answer and a seq of
// their own: every conversation's seqs run from 1 without gap or repeat, one event per message.
// (TestConcurrentSendsTakeSeqsOneToN is the same for one conversation.)
func TestConcurrentSendsToSeveralConversationsKeepTheirSeqs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const convs, perConv = 4, 40
	ids := make([]uuid.UUID, convs)
	for i := range ids {
		ids[i] = b.createGroup(t, "alice", "bob").Id
	}
	var wg sync.WaitGroup
	seqs := make([][]int64, convs)
	var mu sync.Mutex
	for i := range convs * perConv {
		wg.Go(func() {
			conv := ids[i%convs]
			resp, err := b.h.SendMessage(as(t, "bob"), apiserver.SendMessageRequestObject{ConversationId: conv,
				Body: &api.SendMessageJSONRequestBody{ClientMsgId: fmt.Sprint("c-", i), Body: "hi"}})
			require.NoError(t, err)
			msg, ok := resp.(apiserver.SendMessage201JSONResponse)
			require.True(t, ok, "%T", resp)
			mu.Lock()
			seqs[i%convs] = append(seqs[i%convs], msg.Seq)
			mu.Unlock()
		})
	}
	wg.Wait()
	for c, got := range seqs {
		require.ElementsMatch(t, oneTo(perConv), got, "conversation %d", c)
		events := b.events(t, "alice", ids[c])
		require.Len(t, events, perConv)
		for i, e := range events {
			require.EqualValues(t, i+1, e.Seq)
			require.EqualValues(t, e.Seq, e.Message.Seq)
		}
	}
}

func oneTo(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// One send of a group that fails (a repeated client_msg_id aborts the group's transaction) does
// not fail the others: they are stored once each, with their seqs; a sender who is not a member
// gets no row, and the others still go through.
func TestAFailedSendDoesNotFailItsGroup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob").Id
	b.send(t, "alice", conv, "first") // seq 1, client id used again below
	first := b.events(t, "alice", conv)[0].Message

	params := func(sender, clientMsgID string) db.MessageSendParams {
		payload := fmt.Appendf(nil, `{"conversation_id":%q,"seq":0,"type":"message.created","actor_id":%q,"created_at":"2026-12-02T00:00:00Z","message":{"seq":0}}`, conv, sender)
		return db.MessageSendParams{ConversationID: conv, CreatedAt: time.Now(), SenderID: sender, ID: uuid.Must(uuid.NewV7()),
			ClientMsgID: clientMsgID, Body: "x", Payload: payload}
	}
	group := []db.MessageSendParams{
		params("bob", "b-1"),
		params("alice", first.ClientMsgId), // sent before
		params("mallory", "m-1"),           // not a member
		params("bob", "b-2"),
	}
	seqs, errs := make([]int64, len(group)), make([]error, len(group))
	b.h.sends.write(t.Context(), group, seqs, errs)

	require.NoError(t, errs[0])
	var pgErr *pgconn.PgError
	require.ErrorAs(t, errs[1], &pgErr)
	require.Equal(t, "messages_client_msg_id_key", pgErr.ConstraintName)
	require.ErrorIs(t, errs[2], pgx.ErrNoRows)
	require.NoError(t, errs[3])
	require.Equal(t, []int64{2, 3}, []int64{seqs[0], seqs[3]})
	events := b.events(t, "alice", conv)
	require.Len(t, events, 3, "the failed send is not stored, the others once each")
	for i, e := range events {
		require.EqualValues(t, i+1, e.Seq)
	}
}

// A group stores each of its sends as if it were written alone: the same sends written as one
// group into one conversation and one by one into another give the same seqs and refusals, the
// same messages (replies counted on their root, mentions) and the same unread and mention counts
// for every member, the senders' own messages excluded.
func TestOneGroupStoresItsSendsAsIfEachWereAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	members := []string{"alice", "bob", "carol"}
	grouped, alone := b.createGroup(t, "alice", "bob", "carol").Id, b.createGroup(t, "alice", "bob", "carol").Id
	for _, conv := range []uuid.UUID{grouped, alone} {
		b.send(t, "alice", conv, "root") // seq 1
	}
	sends := func(conv uuid.UUID) []db.MessageSendParams {
		one := func(sender, body string, replyTo *int64, mentions ...string) db.MessageSendParams {
			payload := fmt.Appendf(nil, `{"conversation_id":%q,"seq":0,"type":"message.created","actor_id":%q,"created_at":"2026-12-02T00:00:00Z","message":{"seq":0}}`, conv, sender)
			return db.MessageSendParams{ConversationID: conv, CreatedAt: time.Now(), SenderID: sender, ID: uuid.Must(uuid.NewV7()),
				ClientMsgID: body, Body: body, Payload: payload, ReplyToSeq: replyTo, Mentions: mentions}
		}
		return []db.MessageSendParams{
			one("alice", "reply-1", ptr[int64](1), "bob"),
			one("bob", "reply-2", ptr[int64](1)),
			one("alice", "both", nil, "bob", "carol"),
			one("mallory", "not-a-member", nil),
			one("carol", "reply-3", ptr[int64](1), "alice"),
			one("alice", "plain", nil),
		}
	}
	group := sends(grouped)
	seqs, errs := make([]int64, len(group)), make([]error, len(group))
	b.h.sends.write(t.Context(), group, seqs, errs)
	for i, p := range sends(alone) {
		seq, err := b.h.sends.send(t.Context(), p)
		require.Equal(t, seq, seqs[i], "send %d", i)
		require.Equal(t, errors.Is(err, pgx.ErrNoRows), errors.Is(errs[i], pgx.ErrNoRows), "send %d refused alike", i)
		if !errors.Is(err, pgx.ErrNoRows) {
			require.NoError(t, err)
			require.NoError(t, errs[i])
		}
	}
	require.Equal(t, []int64{2, 3, 4, 0, 5, 6}, seqs)

	for _, user := range members {
		g, a := b.summary(t, user, grouped), b.summary(t, user, alone)
		require.Equal(t, a.UnreadCount, g.UnreadCount, "%s's unread count", user)
		require.Equal(t, a.UnreadMentionCount, g.UnreadMentionCount, "%s's unread mentions", user)
	}
	require.EqualValues(t, 5, b.summary(t, "bob", grouped).UnreadCount, "all but bob's own")
	require.EqualValues(t, 2, b.summary(t, "bob", grouped).UnreadMentionCount)
	for seq := int64(1); seq <= 6; seq++ {
		g, a := b.messageAs(t, "bob", grouped, seq), b.messageAs(t, "bob", alone, seq)
		require.Equal(t, a.Body, g.Body, "seq %d", seq)
		require.Equal(t, a.SenderId, g.SenderId, "seq %d", seq)
		require.Equal(t, a.ReplyToSeq, g.ReplyToSeq, "seq %d", seq)
		require.Equal(t, a.ReplyCount, g.ReplyCount, "seq %d", seq)
		require.Equal(t, a.Mentions, g.Mentions, "seq %d", seq)
	}
	require.EqualValues(t, 3, b.messageAs(t, "bob", grouped, 1).ReplyCount, "three replies in one group")
}
