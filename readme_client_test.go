package parley_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/gen/api"
)

// greetTeam creates a group with bob and says hello in it, as the user whose token it holds.
func greetTeam(ctx context.Context, baseURL, token string) (*api.Message, error) {
	client, err := api.NewClientWithResponses(baseURL,
		api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
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
