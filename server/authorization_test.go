package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	apispec "github.com/parleyhq/parley/api"
	"github.com/parleyhq/parley/devtoken"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

// conversationOperation calls one conversation-scoped operation as a user, on a conversation where
// alice owns, adam is an admin, bob and carol are members, and seq 1 is alice's message.
type conversationOperation struct {
	name string
	call func(ctx context.Context, h *Handlers, conv uuid.UUID) (any, error)
	// memberStatus is what a plain member (bob) gets: 403 for what only the owner or an admin may
	// do, or for changing someone else's message.
	memberStatus int
}

var conversationOperations = []conversationOperation{
	{"GetConversation", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.GetConversation(ctx, apiserver.GetConversationRequestObject{ConversationId: c})
	}, 200},
	{"UpdateConversation", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.UpdateConversation(ctx, apiserver.UpdateConversationRequestObject{ConversationId: c, Body: &api.UpdateConversationJSONRequestBody{Title: "new"}})
	}, 403},
	{"ListMembers", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.ListMembers(ctx, apiserver.ListMembersRequestObject{ConversationId: c})
	}, 200},
	{"AddMember", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.AddMember(ctx, apiserver.AddMemberRequestObject{ConversationId: c, Body: &api.AddMemberJSONRequestBody{UserId: "zoe"}})
	}, 403},
	{"RemoveOtherMember", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.RemoveMember(ctx, apiserver.RemoveMemberRequestObject{ConversationId: c, UserId: "carol"})
	}, 403},
	{"SendMessage", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.SendMessage(ctx, apiserver.SendMessageRequestObject{ConversationId: c, Body: &api.SendMessageJSONRequestBody{ClientMsgId: "x", Body: "x"}})
	}, 201},
	{"ListMessages", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.ListMessages(ctx, apiserver.ListMessagesRequestObject{ConversationId: c})
	}, 200},
	{"EditOthersMessage", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.EditMessage(ctx, apiserver.EditMessageRequestObject{ConversationId: c, Seq: 1, Body: &api.EditMessageJSONRequestBody{Body: "x"}})
	}, 403},
	{"DeleteOthersMessage", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.DeleteMessage(ctx, apiserver.DeleteMessageRequestObject{ConversationId: c, Seq: 1})
	}, 403},
	{"MarkRead", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.MarkRead(ctx, apiserver.MarkReadRequestObject{ConversationId: c, Body: &api.MarkReadJSONRequestBody{Seq: 1}})
	}, 200},
	{"ListEvents", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.ListEvents(ctx, apiserver.ListEventsRequestObject{ConversationId: c})
	}, 200},
	{"ListReplies", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.ListReplies(ctx, apiserver.ListRepliesRequestObject{ConversationId: c, Seq: 1})
	}, 200},
	{"AddReaction", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.AddReaction(ctx, apiserver.AddReactionRequestObject{ConversationId: c, Seq: 1, Emoji: "👍"})
	}, 204},
	{"RemoveReaction", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.RemoveReaction(ctx, apiserver.RemoveReactionRequestObject{ConversationId: c, Seq: 1, Emoji: "👍"})
	}, 204},
	{"ListReactors", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.ListReactors(ctx, apiserver.ListReactorsRequestObject{ConversationId: c, Seq: 1, Emoji: "👍"})
	}, 200},
	{"UpdateSettings", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.UpdateSettings(ctx, apiserver.UpdateSettingsRequestObject{ConversationId: c, Body: &api.MemberSettings{Muted: true}})
	}, 200},
	{"SearchConversation", func(ctx context.Context, h *Handlers, c uuid.UUID) (any, error) {
		return h.SearchMessages(ctx, apiserver.SearchMessagesRequestObject{Params: api.SearchMessagesParams{Q: "alice", ConversationId: &c}})
	}, 200},
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, op := range conversationOperations {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			conv := b.createGroup(t, "alice", "bob", "carol")
			require.EqualValues(t, 1, b.send(t, "alice", conv.Id, "by alice").Seq)
			require.EqualValues(t, 2, b.send(t, "bob", conv.Id, "by bob").Seq)
			b.addMember(t, "alice", conv.Id, "adam", api.AddMemberRequestRoleAdmin)

			resp, err := op.call(as(t, "mallory"), b.h, conv.Id)
			require.Equal(t, 404, statusOf(t, resp, err), "a non-member learns nothing: %+v", resp)

			resp, err = op.call(as(t, "alice"), b.h, uuid.New())
			require.Equal(t, 404, statusOf(t, resp, err), "an unknown conversation looks the same: %+v", resp)

			resp, err = op.call(as(t, "bob"), b.h, conv.Id)
			require.Equal(t, op.memberStatus, statusOf(t, resp, err), "a plain member: %+v", resp)
		})
	}
}

// Admin routes succeed for the owner and for admins; only the sender edits a message, while the
// sender, the owner or an admin may delete it.
func TestAuthorizationOwnerAndAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, user := range []string{"alice", "adam"} {
		t.Run(user, func(t *testing.T) {
			t.Parallel()
			conv := b.createGroup(t, "alice", "bob", "carol")
			b.send(t, "alice", conv.Id, "by alice")
			b.addMember(t, "alice", conv.Id, "adam", api.AddMemberRequestRoleAdmin)
			want := map[string]int{
				"UpdateConversation": 200, "AddMember": 201, "RemoveOtherMember": 204,
				"DeleteOthersMessage": 204, "EditOthersMessage": 200,
			}
			if user == "adam" {
				want["EditOthersMessage"] = 403 // seq 1 is alice's: only its sender edits it
			}
			for _, op := range conversationOperations {
				status, ok := want[op.name]
				if !ok {
					continue
				}
				resp, err := op.call(as(t, user), b.h, conv.Id)
				require.Equal(t, status, statusOf(t, resp, err), "%s as %s: %+v", op.name, user, resp)
			}
		})
	}
}

// Every operation of the spec that has security needs a valid token: without one, or with a forged
// or expired one, it answers 401 with the Bearer challenge and learns nothing. The operations come
// from the embedded spec, so a new route is covered as soon as it exists.
func TestEveryProtectedOperationNeedsAToken(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	spec, err := apispec.Load()
	require.NoError(t, err)
	forged, err := devtoken.Issue([]byte("not-the-server-secret-not-the-server"), "alice", "", "", time.Hour)
	require.NoError(t, err)
	expired, err := devtoken.Issue([]byte(testSecret), "alice", "", "", -time.Hour)
	require.NoError(t, err)
	fill := strings.NewReplacer("{conversation_id}", uuid.NewString(), "{seq}", "1", "{user_id}", "bob", "{emoji}", "%F0%9F%91%8D")

	protected := 0
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public: health, readiness, the spec, metrics
			}
			protected++
			for name, token := range map[string]string{"none": "", "forged": forged, "expired": expired} {
				req := httptest.NewRequestWithContext(t.Context(), method, fill.Replace(path), strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				rec := httptest.NewRecorder()
				s.Handler().ServeHTTP(rec, req)
				require.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s with %s token: %s", method, path, name, rec.Body.String())
				require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer", "%s %s", method, path)
			}
		}
	}
	require.Equal(t, 25, protected, "every /v1 operation; a new one belongs in this count")
}
