package server

import (
	"context"
	"fmt"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/db"
)

// MarkRead moves the caller's read position forward; it never moves backwards.
func (h *Handlers) MarkRead(ctx context.Context, req api.MarkReadRequestObject) (api.MarkReadResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return api.MarkRead400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequestBody("invalid_request", "A JSON body is required.")}, nil
	}
	row, err := h.conversationForMember(ctx, req.ConversationId, caller)
	if p, ok := asProblem(err); ok {
		return api.MarkRead404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: api.NotFoundApplicationProblemPlusJSONResponse(p)}, nil
	}
	if err != nil {
		return nil, err
	}
	if req.Body.Seq > row.Conversation.LastSeq {
		return api.MarkRead400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequestBody("seq_out_of_range",
			fmt.Sprintf("seq %d is beyond the conversation's last seq %d.", req.Body.Seq, row.Conversation.LastSeq))}, nil
	}
	lastRead, err := h.queries.MemberMarkRead(ctx, db.MemberMarkReadParams{ConversationID: req.ConversationId, UserID: caller, Seq: req.Body.Seq})
	if err != nil {
		return nil, fmt.Errorf("mark read: %w", err)
	}
	return api.MarkRead200JSONResponse(api.ReadState{LastReadSeq: lastRead}), nil
}
