package parley_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/gen/api"
)

// newClient calls Parley at baseURL as the user whose token it holds.
func newClient(baseURL, token string) (*api.ClientWithResponses, error) {
	return api.NewClientWithResponses(baseURL,
		api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
}

// greetTeam creates a group with bob and says hello in it, as the user whose token it holds.
func greetTeam(ctx context.Context, baseURL, token string) (*api.Message, error) {
	client, err := newClient(baseURL, token)
	if err != nil {
		return nil, err
	}
	title := "Launch"
	conv, err := client.CreateConversationWithResponse(ctx, api.CreateConversationJSONRequestBody{
		Type: api.ConversationTypeGroup, Title: &title, MemberIds: []string{"bob"},
	})
	if err != nil {
		return nil, err // the request did not get an answer
	}
	// Any failed answer, whatever its status, has its problem here (nil on success).
	if p := api.ProblemOf(conv); p != nil {
		return nil, fmt.Errorf("create conversation: %w", p) // errors.As finds the *api.Problem
	}
	msg, err := client.SendMessageWithResponse(ctx, conv.JSON201.Id, api.SendMessageJSONRequestBody{
		ClientMsgId: uuid.NewString(), // keep it to retry: a repeat returns the first message
		Body:        "Hello, team",
	})
	if err != nil {
		return nil, err
	}
	if p := api.ProblemOf(msg); p != nil {
		return nil, fmt.Errorf("send: %w", p) // p.Code: "conversation_not_found", "rate_limited", …
	}
	if msg.JSON200 != nil {
		return msg.JSON200, nil // a retry: the message stored the first time
	}
	return msg.JSON201, nil
}

// likeBestMatch searches the conversations of the user whose token it holds and reacts with 👍 to
// the best match, which it returns (nil when nothing matches).
func likeBestMatch(ctx context.Context, baseURL, token, query string) (*api.SearchHit, error) {
	client, err := newClient(baseURL, token)
	if err != nil {
		return nil, err
	}
	found, err := client.SearchMessagesWithResponse(ctx, &api.SearchMessagesParams{Q: query})
	if err != nil {
		return nil, err
	}
	if p := api.ProblemOf(found); p != nil {
		return nil, fmt.Errorf("search: %w", p) // "invalid_query": q held only words like "the"
	}
	if len(found.JSON200.Items) == 0 {
		return nil, nil
	}
	best := found.JSON200.Items[0] // best match first; best.Snippet marks the matches with <mark>
	// The client percent-encodes the emoji in the path; reacting twice changes nothing.
	liked, err := client.AddReactionWithResponse(ctx, best.Message.ConversationId, best.Message.Seq, "👍")
	if err != nil {
		return nil, err
	}
	if p := api.ProblemOf(liked); p != nil {
		return nil, fmt.Errorf("react: %w", p) // "message_deleted", "too_many_reactions", …
	}
	return &best, nil
}
