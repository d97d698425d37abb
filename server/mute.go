package server

import (
	"context"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
)

// UpdateSettings sets the caller's own settings for a conversation: muted. Only the caller sees
// them, so no event is recorded.
func (h *Handlers) UpdateSettings(ctx context.Context, req apiserver.UpdateSettingsRequestObject) (apiserver.UpdateSettingsResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, badRequest("invalid_request", "A JSON body is required.")
	}
	muted, err := h.queries.MemberSetMuted(ctx, db.MemberSetMutedParams{ConversationID: req.ConversationId, UserID: caller, Muted: req.Body.Muted})
	if err := noRowsAs(err, errConversationNotFound, "set muted"); err != nil {
		return nil, err
	}
	return apiserver.UpdateSettings200JSONResponse(api.MemberSettings{Muted: muted}), nil
}
