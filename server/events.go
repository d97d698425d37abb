package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
)

// ListEvents pages the conversation's durable event log, ascending by seq.
func (h *Handlers) ListEvents(ctx context.Context, req apiserver.ListEventsRequestObject) (apiserver.ListEventsResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	_, err = h.conversationForMember(ctx, req.ConversationId, caller)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(req.Params.Limit)
	var after int64
	if req.Params.AfterSeq != nil {
		after = *req.Params.AfterSeq
	}
	payloads, err := h.queries.EventListAfter(ctx, db.EventListAfterParams{ConversationID: req.ConversationId, AfterSeq: after, MaxRows: int32(limit + 1)})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	page := api.EventPage{HasMore: len(payloads) > limit}
	payloads = payloads[:min(len(payloads), limit)]
	page.Items = make([]api.Event, len(payloads))
	for i, p := range payloads {
		if err := json.Unmarshal(p, &page.Items[i]); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
	}
	return apiserver.ListEvents200JSONResponse(page), nil
}
