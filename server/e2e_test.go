package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	apispec "github.com/parleyhq/parley/api"
	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/server/servertest"
)

const e2eSecret = "e2e-secret-that-is-long-enough-for-hs256"

// specCheckingTransport validates every response against api/openapi.yaml: status codes the
// operation declares, headers and bodies that match their schemas.
type specCheckingTransport struct {
	t      *testing.T
	router routers.Router
	next   http.RoundTripper

	mu        sync.Mutex
	validated int
}

func newSpecCheckingTransport(t *testing.T, baseURL string) *specCheckingTransport {
	spec, err := apispec.Load()
	require.NoError(t, err)
	spec.Servers = openapi3.Servers{{URL: baseURL}}
	router, err := gorillamux.NewRouter(spec)
	require.NoError(t, err)
	return &specCheckingTransport{t: t, router: router, next: &http.Transport{}}
}

func (c *specCheckingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))

	route, pathParams, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Errorf("%s %s: no operation in the spec: %v", req.Method, req.URL.Path, err)
		return resp, nil
	}
	err = openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		c.t.Errorf("%s %s → %d does not match the spec: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	c.mu.Lock()
	c.validated++
	c.mu.Unlock()
	return resp, nil
}

func (c *specCheckingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.validated
}

func clientAs(t *testing.T, baseURL string, transport *specCheckingTransport, user string) *api.ClientWithResponses {
	t.Helper()
	var token string
	if user != "" {
		var err error
		token, err = devtoken.Issue([]byte(e2eSecret), user, "", "", time.Hour)
		require.NoError(t, err)
	}
	client, err := api.NewClientWithResponses(baseURL,
		api.WithHTTPClient(&http.Client{Transport: transport, Timeout: 10 * time.Second}),
		api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return nil
		}))
	require.NoError(t, err)
	return client
}

// A team's first day with Parley, through the generated typed client against a real server, with
// every response checked against the spec.
func TestEndToEndWithTypedClient(t *testing.T) {
	t.Parallel()
	baseURL := servertest.Start(t, e2eSecret)
	transport := newSpecCheckingTransport(t, baseURL)
	team := e2eTeam{
		alice:     clientAs(t, baseURL, transport, "alice"),
		bob:       clientAs(t, baseURL, transport, "bob"),
		carol:     clientAs(t, baseURL, transport, "carol"),
		anonymous: clientAs(t, baseURL, transport, ""),
	}

	team.onlyTokenHoldersAreKnown(t)
	conv := team.aliceStartsTheLaunchConversation(t)
	sent := team.alicePostsTheDay(t, conv)
	team.bobCatchesUpPageByPage(t, conv)
	team.aliceEditsAndDeletesHerOwnMessagesOnly(t, conv, sent)
	team.bobReadsAndReplaysTheEvents(t, conv, sent)
	team.carolLeavesTheRenamedConversation(t, conv)
	team.bobAndCarolShareOneDirectConversation(t)
	team.aliceAndBobThreadReactAndSearch(t, conv)
	team.bobMutesAndBlocks(t)
	team.aTooLongMessageIsRefusedByField(t, conv)
	team.operatorsSeeItAllWithoutAToken(t)

	require.GreaterOrEqual(t, transport.count(), 25)
	t.Logf("responses validated against the spec: %d", transport.count())
}

// e2eTeam is the cast of the end-to-end story: three colleagues and a client without a token.
type e2eTeam struct {
	alice, bob, carol, anonymous *api.ClientWithResponses
}

func (team e2eTeam) onlyTokenHoldersAreKnown(t *testing.T) {
	ctx := t.Context()
	me, err := team.alice.GetMeWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, "alice", me.JSON200.UserId)

	unauth, err := team.anonymous.GetMeWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, unauth.StatusCode())
	require.Equal(t, "unauthorized", unauth.ApplicationproblemJSON401.Code)
}

// aliceStartsTheLaunchConversation creates a group with bob, adds carol, and returns its id.
func (team e2eTeam) aliceStartsTheLaunchConversation(t *testing.T) uuid.UUID {
	ctx := t.Context()
	title := "Launch"
	created, err := team.alice.CreateConversationWithResponse(ctx, api.CreateConversationJSONRequestBody{Type: api.ConversationTypeGroup, Title: &title, MemberIds: []string{"bob"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
	conv := created.JSON201.Id

	added, err := team.alice.AddMemberWithResponse(ctx, conv, api.AddMemberJSONRequestBody{UserId: "carol"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, added.StatusCode())
	return conv
}

// alicePostsTheDay sends three messages, retries the first, which is not sent twice, and returns
// the three.
func (team e2eTeam) alicePostsTheDay(t *testing.T, conv uuid.UUID) []api.Message {
	ctx := t.Context()
	var sent []api.Message
	for i, body := range []string{"Welcome!", "Agenda at 10", "Coffee?"} {
		resp, err := team.alice.SendMessageWithResponse(ctx, conv, api.SendMessageJSONRequestBody{ClientMsgId: "day1-" + string(rune('a'+i)), Body: body})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
		sent = append(sent, *resp.JSON201)
	}
	retry, err := team.alice.SendMessageWithResponse(ctx, conv, api.SendMessageJSONRequestBody{ClientMsgId: "day1-a", Body: "Welcome!"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, retry.StatusCode())
	require.Equal(t, sent[0].Id, retry.JSON200.Id)
	return sent
}

func (team e2eTeam) bobCatchesUpPageByPage(t *testing.T, conv uuid.UUID) {
	ctx := t.Context()
	list, err := team.bob.ListConversationsWithResponse(ctx, &api.ListConversationsParams{})
	require.NoError(t, err)
	require.Len(t, list.JSON200.Items, 1)
	require.EqualValues(t, 3, list.JSON200.Items[0].UnreadCount)
	require.Equal(t, "Coffee?", list.JSON200.Items[0].LastMessage.Body)

	limit := 2
	page, err := team.bob.ListMessagesWithResponse(ctx, conv, &api.ListMessagesParams{Limit: &limit})
	require.NoError(t, err)
	require.True(t, page.JSON200.HasMore)
	require.Equal(t, []string{"Agenda at 10", "Coffee?"}, []string{page.JSON200.Items[0].Body, page.JSON200.Items[1].Body})
	before := page.JSON200.Items[0].Seq
	older, err := team.bob.ListMessagesWithResponse(ctx, conv, &api.ListMessagesParams{BeforeSeq: &before, Limit: &limit})
	require.NoError(t, err)
	require.False(t, older.JSON200.HasMore)
	require.Equal(t, "Welcome!", older.JSON200.Items[0].Body)
}

func (team e2eTeam) aliceEditsAndDeletesHerOwnMessagesOnly(t *testing.T, conv uuid.UUID, sent []api.Message) {
	ctx := t.Context()
	edited, err := team.alice.EditMessageWithResponse(ctx, conv, sent[1].Seq, api.EditMessageJSONRequestBody{Body: "Agenda at 11"})
	require.NoError(t, err)
	require.Equal(t, "Agenda at 11", edited.JSON200.Body)
	notMine, err := team.bob.EditMessageWithResponse(ctx, conv, sent[1].Seq, api.EditMessageJSONRequestBody{Body: "Agenda cancelled"})
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, notMine.StatusCode())
	deleted, err := team.alice.DeleteMessageWithResponse(ctx, conv, sent[2].Seq)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, deleted.StatusCode())
}

func (team e2eTeam) bobReadsAndReplaysTheEvents(t *testing.T, conv uuid.UUID, sent []api.Message) {
	ctx := t.Context()
	read, err := team.bob.MarkReadWithResponse(ctx, conv, api.MarkReadJSONRequestBody{Seq: sent[1].Seq})
	require.NoError(t, err)
	require.Equal(t, sent[1].Seq, read.JSON200.LastReadSeq)

	events, err := team.bob.ListEventsWithResponse(ctx, conv, &api.ListEventsParams{})
	require.NoError(t, err)
	var types []api.EventType
	for _, e := range events.JSON200.Items {
		types = append(types, e.Type)
	}
	require.Equal(t, []api.EventType{api.EventTypeMemberAdded, api.EventTypeMessageCreated, api.EventTypeMessageCreated, api.EventTypeMessageCreated, api.EventTypeMessageUpdated, api.EventTypeMessageDeleted}, types)
}

func (team e2eTeam) carolLeavesTheRenamedConversation(t *testing.T, conv uuid.UUID) {
	ctx := t.Context()
	renamed, err := team.alice.UpdateConversationWithResponse(ctx, conv, api.UpdateConversationJSONRequestBody{Title: "Launch day"})
	require.NoError(t, err)
	require.Equal(t, "Launch day", *renamed.JSON200.Title)

	members, err := team.carol.ListMembersWithResponse(ctx, conv)
	require.NoError(t, err)
	require.Len(t, members.JSON200.Items, 3)
	left, err := team.carol.RemoveMemberWithResponse(ctx, conv, "carol")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, left.StatusCode())
	gone, err := team.carol.GetConversationWithResponse(ctx, conv)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, gone.StatusCode())
	require.Equal(t, "conversation_not_found", gone.ApplicationproblemJSON404.Code)
}

func (team e2eTeam) bobAndCarolShareOneDirectConversation(t *testing.T) {
	ctx := t.Context()
	direct, err := team.bob.CreateConversationWithResponse(ctx, api.CreateConversationJSONRequestBody{Type: api.ConversationTypeDirect, MemberIds: []string{"carol"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, direct.StatusCode())
	again, err := team.carol.CreateConversationWithResponse(ctx, api.CreateConversationJSONRequestBody{Type: api.ConversationTypeDirect, MemberIds: []string{"bob"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, again.StatusCode())
	require.Equal(t, direct.JSON201.Id, again.JSON200.Id)
}

// aliceAndBobThreadReactAndSearch covers the chat routes: a thread with a mention, reactions and
// who reacted, history without replies, and a search.
func (team e2eTeam) aliceAndBobThreadReactAndSearch(t *testing.T, conv uuid.UUID) {
	ctx := t.Context()
	root, err := team.alice.SendMessageWithResponse(ctx, conv, api.SendMessageJSONRequestBody{ClientMsgId: "root", Body: "Who books the venue?"})
	require.NoError(t, err)
	rootSeq := root.JSON201.Seq
	reply, err := team.bob.SendMessageWithResponse(ctx, conv, api.SendMessageJSONRequestBody{ClientMsgId: "reply", Body: "I will, @alice", ReplyToSeq: &rootSeq, Mentions: &[]string{"alice"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, reply.StatusCode(), string(reply.Body))
	summary, err := team.alice.ListConversationsWithResponse(ctx, &api.ListConversationsParams{})
	require.NoError(t, err)
	require.EqualValues(t, 1, summary.JSON200.Items[0].UnreadMentionCount)

	reacted, err := team.bob.AddReactionWithResponse(ctx, conv, rootSeq, "🎉")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, reacted.StatusCode())
	reactors, err := team.alice.ListReactorsWithResponse(ctx, conv, rootSeq, "🎉", &api.ListReactorsParams{})
	require.NoError(t, err)
	require.Equal(t, "bob", reactors.JSON200.Items[0].UserId)
	replies, err := team.alice.ListRepliesWithResponse(ctx, conv, rootSeq, &api.ListRepliesParams{})
	require.NoError(t, err)
	require.Len(t, replies.JSON200.Items, 1)
	require.Equal(t, "I will, @alice", replies.JSON200.Items[0].Body)
	rootsOnly := true
	roots, err := team.bob.ListMessagesWithResponse(ctx, conv, &api.ListMessagesParams{RootsOnly: &rootsOnly})
	require.NoError(t, err)
	last := roots.JSON200.Items[len(roots.JSON200.Items)-1]
	require.Equal(t, 1, last.ReplyCount)
	require.Equal(t, []api.ReactionCount{{Emoji: "🎉", Count: 1}}, last.Reactions)
	require.Equal(t, []api.Emoji{"🎉"}, *last.MyReactions)
	unreacted, err := team.bob.RemoveReactionWithResponse(ctx, conv, rootSeq, "🎉")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, unreacted.StatusCode())

	found, err := team.bob.SearchMessagesWithResponse(ctx, &api.SearchMessagesParams{Q: "venue booking"})
	require.NoError(t, err)
	require.Equal(t, "Who <mark>books</mark> the <mark>venue</mark>?", found.JSON200.Items[0].Snippet, "booking finds books")
	badEmoji, err := team.bob.AddReactionWithResponse(ctx, conv, rootSeq, "two words")
	require.NoError(t, err)
	require.Equal(t, "invalid_emoji", badEmoji.ApplicationproblemJSON400.Code)
}

// bobMutesAndBlocks covers his own settings and blocks.
func (team e2eTeam) bobMutesAndBlocks(t *testing.T) {
	ctx := t.Context()
	direct, err := team.bob.CreateConversationWithResponse(ctx, api.CreateConversationJSONRequestBody{Type: api.ConversationTypeDirect, MemberIds: []string{"carol"}})
	require.NoError(t, err)
	muted, err := team.bob.UpdateSettingsWithResponse(ctx, direct.JSON200.Id, api.UpdateSettingsJSONRequestBody{Muted: true})
	require.NoError(t, err)
	require.True(t, muted.JSON200.Muted)
	blocked, err := team.bob.BlockUserWithResponse(ctx, "carol")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, blocked.StatusCode())
	list, err := team.bob.ListBlocksWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, "carol", list.JSON200.Items[0].UserId)
	refused, err := team.carol.SendMessageWithResponse(ctx, direct.JSON200.Id, api.SendMessageJSONRequestBody{ClientMsgId: "hi", Body: "hi?"})
	require.NoError(t, err)
	require.Equal(t, "blocked", refused.ApplicationproblemJSON403.Code)
	unblocked, err := team.bob.UnblockUserWithResponse(ctx, "carol")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, unblocked.StatusCode())
}

func (team e2eTeam) aTooLongMessageIsRefusedByField(t *testing.T, conv uuid.UUID) {
	tooLong := strings.Repeat("x", 4001)
	bad, err := team.alice.SendMessageWithResponse(t.Context(), conv, api.SendMessageJSONRequestBody{ClientMsgId: "too-long", Body: tooLong})
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, bad.StatusCode())
	require.Equal(t, "body", (*bad.ApplicationproblemJSON400.Errors)[0].Field)
}

// operatorsSeeItAllWithoutAToken checks health, readiness, the API document and the metrics, which
// count the day's five messages (three, a thread root and its reply).
func (team e2eTeam) operatorsSeeItAllWithoutAToken(t *testing.T) {
	ctx := t.Context()
	health, err := team.anonymous.GetHealthWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, health.StatusCode())
	live, err := team.anonymous.GetLivenessWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, api.HealthReportStatusOk, live.JSON200.Status)
	ready, err := team.anonymous.GetReadinessWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, api.CheckStatusOk, ready.JSON200.Checks.Postgres)
	doc, err := team.anonymous.GetOpenAPIDocumentWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, "Parley API", (*doc.JSON200)["info"].(map[string]any)["title"])
	metrics, err := team.anonymous.GetMetricsWithResponse(ctx)
	require.NoError(t, err)
	require.Contains(t, string(metrics.Body), `parley_http_requests_total{method="POST",route="/v1/conversations/{conversation_id}/messages",status="201"} 5`)
	require.Contains(t, string(metrics.Body), "parley_db_pool_max_connections 4")
}
