package server

import (
	"context"
	"fmt"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
)

// maxBlocks bounds the users one user blocks: the list is answered whole.
const maxBlocks = 1000

// ListBlocks lists the users the caller blocks, newest first.
func (h *Handlers) ListBlocks(ctx context.Context, _ apiserver.ListBlocksRequestObject) (apiserver.ListBlocksResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := h.queries.BlockList(ctx, db.BlockListParams{UserID: caller, MaxRows: maxBlocks})
	if err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	list := api.BlockList{Items: make([]api.Block, len(rows))}
	for i, r := range rows {
		list.Items[i] = api.Block{UserId: r.BlockedID, CreatedAt: r.CreatedAt.UTC()}
	}
	return apiserver.ListBlocks200JSONResponse(list), nil
}

// BlockUser blocks a user; blocking them again changes nothing.
func (h *Handlers) BlockUser(ctx context.Context, req apiserver.BlockUserRequestObject) (apiserver.BlockUserResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.UserId == caller {
		return nil, badRequest("cannot_block_self", "A user cannot block themselves.")
	}
	count, err := h.queries.BlockCount(ctx, caller)
	if err != nil {
		return nil, fmt.Errorf("count blocks: %w", err)
	}
	if count >= maxBlocks {
		// Blocking someone blocked already is still a success.
		blocked, err := h.queries.ConversationBlockedBetween(ctx, db.ConversationBlockedBetweenParams{A: caller, B: req.UserId})
		if err != nil {
			return nil, fmt.Errorf("check block: %w", err)
		}
		if !blocked {
			return nil, errTooManyBlocks
		}
	}
	if err := h.queries.BlockInsert(ctx, db.BlockInsertParams{UserID: caller, BlockedID: req.UserId}); err != nil {
		return nil, fmt.Errorf("block user: %w", err)
	}
	return apiserver.BlockUser204Response{}, nil
}

// UnblockUser lifts a block; lifting one that is not there changes nothing.
func (h *Handlers) UnblockUser(ctx context.Context, req apiserver.UnblockUserRequestObject) (apiserver.UnblockUserResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.queries.BlockDelete(ctx, db.BlockDeleteParams{UserID: caller, BlockedID: req.UserId}); err != nil {
		return nil, fmt.Errorf("unblock user: %w", err)
	}
	return apiserver.UnblockUser204Response{}, nil
}
