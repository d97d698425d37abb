package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

func TestMarkRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	for range 5 {
		b.send(t, "alice", conv.Id, "news")
	}
	mark := func(user string, seq int64) (apiserver.MarkReadResponseObject, error) {
		return b.h.MarkRead(as(t, user), apiserver.MarkReadRequestObject{ConversationId: conv.Id, Body: &api.MarkReadJSONRequestBody{Seq: seq}})
	}

	resp, err := mark("bob", 4)
	require.EqualValues(t, 4, expect[apiserver.MarkRead200JSONResponse](t, resp, err).LastReadSeq)
	resp, err = mark("bob", 2)
	require.EqualValues(t, 4, expect[apiserver.MarkRead200JSONResponse](t, resp, err).LastReadSeq, "never moves backwards")
	resp, err = mark("bob", 6)
	require.Equal(t, "seq_out_of_range", expectProblem(t, resp, err, 400).Code)
	resp, err = mark("mallory", 1)
	expectProblem(t, resp, err, 404)

	members := memberIDs(t, b, "bob", conv.Id)
	require.Contains(t, members, "bob")
	list, err := b.h.ListMembers(as(t, "bob"), apiserver.ListMembersRequestObject{ConversationId: conv.Id})
	for _, m := range expect[apiserver.ListMembers200JSONResponse](t, list, err).Items {
		if m.UserId == "bob" {
			require.EqualValues(t, 4, m.LastReadSeq)
		}
	}
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	for range 7 {
		b.send(t, "alice", conv.Id, "x")
	}
	list := func(user string, after *int64, limit *int) (apiserver.ListEventsResponseObject, error) {
		return b.h.ListEvents(as(t, user), apiserver.ListEventsRequestObject{ConversationId: conv.Id, Params: api.ListEventsParams{AfterSeq: after, Limit: limit}})
	}

	resp, err := list("bob", nil, ptr(5))
	page := expect[apiserver.ListEvents200JSONResponse](t, resp, err)
	require.True(t, page.HasMore)
	require.Len(t, page.Items, 5)
	resp, err = list("bob", &page.Items[4].Seq, ptr(5))
	page = expect[apiserver.ListEvents200JSONResponse](t, resp, err)
	require.False(t, page.HasMore)
	require.Len(t, page.Items, 2)
	require.EqualValues(t, 6, page.Items[0].Seq)
	require.Equal(t, conv.Id, page.Items[0].ConversationId)
	require.False(t, page.Items[0].CreatedAt.IsZero())

	resp, err = list("mallory", nil, nil)
	expectProblem(t, resp, err, 404)
}
