package server

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

func (b *testBundle) search(t *testing.T, user, q string, params api.SearchMessagesParams) api.SearchPage {
	t.Helper()
	params.Q = q
	resp, err := b.h.SearchMessages(as(t, user), apiserver.SearchMessagesRequestObject{Params: params})
	return api.SearchPage(expect[apiserver.SearchMessages200JSONResponse](t, resp, err))
}

func hitBodies(page api.SearchPage) []string {
	out := make([]string, len(page.Items))
	for i, h := range page.Items {
		out[i] = h.Message.Body
	}
	return out
}

func TestSearchFindsWordsByStemBestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	b.send(t, "alice", conv.Id, "The deploy is running late")
	b.send(t, "bob", conv.Id, "deploy deploy deploy: we deployed <b>twice</b> & it ran")
	b.send(t, "alice", conv.Id, "lunch?")

	page := b.search(t, "bob", "deploys", api.SearchMessagesParams{})
	require.Equal(t, []string{"deploy deploy deploy: we deployed <b>twice</b> & it ran", "The deploy is running late"}, hitBodies(page), "the most matches first")
	require.Nil(t, page.NextCursor)
	require.Contains(t, page.Items[1].Snippet, "<mark>deploy</mark>")
	require.NotContains(t, page.Items[0].Snippet, "<b>", "the body's own markup never reaches the snippet as markup")
	require.Contains(t, page.Items[0].Snippet, "&amp;")
	require.NotNil(t, page.Items[0].Message.MyReactions)

	require.Equal(t, []string{"The deploy is running late"}, hitBodies(b.search(t, "alice", `deploy -twice`, api.SearchMessagesParams{})))
	require.Equal(t, []string{"The deploy is running late"}, hitBodies(b.search(t, "alice", `"running late"`, api.SearchMessagesParams{})))
	require.Equal(t, []string{"lunch?"}, hitBodies(b.search(t, "alice", `lunch or dinner`, api.SearchMessagesParams{})))
	require.Empty(t, b.search(t, "alice", "zebra", api.SearchMessagesParams{}).Items)
}

// Only the conversations the caller is a member of now are searched; tombstones never match, and
// an edit is found by its new words only.
func TestSearchSeesWhatTheCallerMaySee(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mine := b.createGroup(t, "alice", "bob")
	left := b.createGroup(t, "carol", "alice")
	theirs := b.createGroup(t, "carol", "dave")
	b.send(t, "bob", mine.Id, "budget draft attached")
	gone := b.send(t, "bob", mine.Id, "budget numbers are secret")
	edited := b.send(t, "bob", mine.Id, "budget typo")
	b.send(t, "carol", left.Id, "budget from the old team")
	b.send(t, "carol", theirs.Id, "budget of another team")
	var resp any
	resp, err := b.h.RemoveMember(as(t, "alice"), apiserver.RemoveMemberRequestObject{ConversationId: left.Id, UserId: "alice"})
	expect[apiserver.RemoveMember204Response](t, resp, err)
	resp, err = b.h.DeleteMessage(as(t, "bob"), apiserver.DeleteMessageRequestObject{ConversationId: mine.Id, Seq: gone.Seq})
	expect[apiserver.DeleteMessage204Response](t, resp, err)
	resp, err = b.h.EditMessage(as(t, "bob"), apiserver.EditMessageRequestObject{ConversationId: mine.Id, Seq: edited.Seq, Body: &api.EditMessageJSONRequestBody{Body: "forecast fixed"}})
	expect[apiserver.EditMessage200JSONResponse](t, resp, err)

	require.Equal(t, []string{"budget draft attached"}, hitBodies(b.search(t, "alice", "budget", api.SearchMessagesParams{})))
	require.Equal(t, []string{"forecast fixed"}, hitBodies(b.search(t, "alice", "forecast", api.SearchMessagesParams{})))
	require.Empty(t, b.search(t, "alice", "secret", api.SearchMessagesParams{}).Items)
	require.Len(t, b.search(t, "carol", "budget", api.SearchMessagesParams{}).Items, 2)
	require.Equal(t, []string{"budget of another team"}, hitBodies(b.search(t, "carol", "budget", api.SearchMessagesParams{ConversationId: &theirs.Id})))

	for _, id := range []uuid.UUID{left.Id, theirs.Id, uuid.New()} {
		resp, err = b.h.SearchMessages(as(t, "alice"), apiserver.SearchMessagesRequestObject{Params: api.SearchMessagesParams{Q: "budget", ConversationId: &id}})
		require.Equal(t, "conversation_not_found", expectProblem(t, resp, err, http.StatusNotFound).Code)
	}
}

func TestSearchPagesWithoutRepeats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")
	want := map[string]bool{}
	for i := range 12 {
		body := "standup notes " + numbered("item", i+1)[i]
		if i%3 == 0 {
			body += " standup" // ranks higher
		}
		b.send(t, "bob", conv.Id, body)
		want[body] = true
	}
	got := map[string]bool{}
	var cursor *string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		page := b.search(t, "alice", "standup", api.SearchMessagesParams{Limit: ptr(5), Cursor: cursor})
		for _, hit := range page.Items {
			require.False(t, got[hit.Message.Body], "%q on two pages", hit.Message.Body)
			got[hit.Message.Body] = true
		}
		if pages == 0 {
			for _, hit := range page.Items[:4] {
				require.Contains(t, hit.Message.Body, "standup notes", hit.Message.Body)
				require.Contains(t, hit.Snippet, "<mark>standup</mark>")
			}
		}
		if page.NextCursor == nil {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, want, got)
}

func TestSearchRefusesQueriesWithNothingToFind(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createGroup(t, "alice", "bob")
	for _, q := range []string{"the and of", `"" - or -`, "!!!", "a\x00b", "\xff", ""} {
		resp, err := b.h.SearchMessages(as(t, "alice"), apiserver.SearchMessagesRequestObject{Params: api.SearchMessagesParams{Q: q}})
		require.Equal(t, "invalid_query", expectProblem(t, resp, err, http.StatusBadRequest).Code, "%q", q)
	}
	for _, cursor := range []string{"garbage!", "bm90IGEgY3Vyc29y", encodeConversationCursor(timeZero(), uuid.New())} {
		resp, err := b.h.SearchMessages(as(t, "alice"), apiserver.SearchMessagesRequestObject{Params: api.SearchMessagesParams{Q: "hello", Cursor: &cursor}})
		require.Equal(t, "invalid_cursor", expectProblem(t, resp, err, http.StatusBadRequest).Code, cursor)
	}
}
