package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/realtime"
)

// MarkRead moves the caller's read position forward; it never moves backwards.
func (h *Handlers) MarkRead(ctx context.Context, req apiserver.MarkReadRequestObject) (apiserver.MarkReadResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, badRequest("invalid_request", "A JSON body is required.")
	}
	row, err := h.conversationForMember(ctx, req.ConversationId, caller)
	if err != nil {
		return nil, err
	}
	if req.Body.Seq > row.Conversation.LastSeq {
		return nil, badRequest("seq_out_of_range",
			fmt.Sprintf("seq %d is beyond the conversation's last seq %d.", req.Body.Seq, row.Conversation.LastSeq))
	}
	lastRead, err := h.queries.MemberMarkRead(ctx, db.MemberMarkReadParams{ConversationID: req.ConversationId, UserID: caller, Seq: req.Body.Seq})
	if err != nil {
		return nil, fmt.Errorf("mark read: %w", err)
	}
	if lastRead > row.LastReadSeq {
		h.signalRead(ctx, req.ConversationId, caller, lastRead)
	}
	return apiserver.MarkRead200JSONResponse(api.ReadState{LastReadSeq: lastRead}), nil
}

// signalRead tells the members' connections (the reader's other devices included) that the
// reader has read up to seq. It is ephemeral: a failure is logged, not answered.
func (h *Handlers) signalRead(ctx context.Context, conversationID uuid.UUID, userID string, seq int64) {
	frame, err := json.Marshal(api.ReadFrame{Type: api.ReadFrameTypeRead, ConversationId: conversationID, UserId: userID, Seq: seq})
	if err == nil {
		err = h.signals.Signal(ctx, realtime.Signal{ConversationID: conversationID, UserID: userID, Frame: frame})
	}
	if err != nil {
		h.logger.WarnContext(ctx, "read receipt not signalled", "conversation", conversationID, "error", err)
	}
}
