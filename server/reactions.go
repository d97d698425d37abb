package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/internal/userid"
)

// maxEmojiPerMessage bounds the distinct emoji on one message.
const maxEmojiPerMessage = 32

// AddReaction puts the caller's reaction on a message and records reaction.added; reacting again
// with the same emoji changes nothing and records nothing.
func (h *Handlers) AddReaction(ctx context.Context, req apiserver.AddReactionRequestObject) (apiserver.AddReactionResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if !validEmoji(req.Emoji) {
		return nil, errInvalidEmoji
	}
	reaction := db.ReactionInsertParams{ConversationID: req.ConversationId, MessageSeq: req.Seq, Emoji: req.Emoji, UserID: caller}
	changed := false
	err = h.inTx(ctx, func(q *db.Queries) error {
		// The conversation's lock orders reactions with the message's deletion and makes the
		// distinct count exact.
		_, msg, err := messageForChange(ctx, q, req.ConversationId, req.Seq, caller)
		if err != nil {
			return err
		}
		if msg.DeletedAt != nil {
			return errReactionOnDeleted
		}
		inserted, err := q.ReactionInsert(ctx, reaction)
		if err != nil {
			return fmt.Errorf("insert reaction: %w", err)
		}
		if !inserted.Added {
			return nil // reacted before
		}
		if inserted.DistinctEmoji > maxEmojiPerMessage {
			return errTooManyReactions
		}
		changed = true
		return appendEvent(ctx, q, req.ConversationId, caller, api.EventTypeReactionAdded, reactionEvent(req.Seq, req.Emoji, caller))
	})
	if err != nil {
		return nil, fmt.Errorf("add reaction: %w", err)
	}
	if changed {
		h.outbox.Wake()
	}
	return apiserver.AddReaction204Response{}, nil
}

// RemoveReaction takes the caller's reaction back and records reaction.removed; taking back a
// reaction that is not there changes nothing and records nothing.
func (h *Handlers) RemoveReaction(ctx context.Context, req apiserver.RemoveReactionRequestObject) (apiserver.RemoveReactionResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if !validEmoji(req.Emoji) {
		return nil, errInvalidEmoji
	}
	changed := false
	err = h.inTx(ctx, func(q *db.Queries) error {
		if _, _, err := messageForChange(ctx, q, req.ConversationId, req.Seq, caller); err != nil {
			return err
		}
		_, err := q.ReactionDelete(ctx, db.ReactionDeleteParams{ConversationID: req.ConversationId, MessageSeq: req.Seq, Emoji: req.Emoji, UserID: caller})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("delete reaction: %w", err)
		}
		changed = true
		return appendEvent(ctx, q, req.ConversationId, caller, api.EventTypeReactionRemoved, reactionEvent(req.Seq, req.Emoji, caller))
	})
	if err != nil {
		return nil, fmt.Errorf("remove reaction: %w", err)
	}
	if changed {
		h.outbox.Wake()
	}
	return apiserver.RemoveReaction204Response{}, nil
}

func reactionEvent(seq int64, emoji, userID string) func() (api.Event, error) {
	return func() (api.Event, error) {
		return api.Event{Reaction: &api.Reaction{MessageSeq: seq, Emoji: emoji, UserId: userID}}, nil
	}
}

// ListReactors pages the users who reacted to a message with an emoji, oldest first.
func (h *Handlers) ListReactors(ctx context.Context, req apiserver.ListReactorsRequestObject) (apiserver.ListReactorsResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if !validEmoji(req.Emoji) {
		return nil, errInvalidEmoji
	}
	params := db.ReactionListUsersParams{ConversationID: req.ConversationId, MessageSeq: req.Seq, Emoji: req.Emoji}
	if req.Params.Cursor != nil {
		created, user, ok := decodeReactorCursor(*req.Params.Cursor)
		if !ok {
			return nil, errInvalidCursor
		}
		params.AfterCreated, params.AfterUser = &created, &user
	}
	if _, err := h.messageForMember(ctx, req.ConversationId, req.Seq, caller); err != nil {
		return nil, err
	}
	limit := pageLimit(req.Params.Limit)
	params.MaxRows = int32(limit + 1)
	rows, err := h.queries.ReactionListUsers(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list reactors: %w", err)
	}
	page := api.ReactorPage{Items: make([]api.Reactor, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		cursor := encodeReactorCursor(last.CreatedAt, last.UserID)
		page.NextCursor = &cursor
	}
	for _, r := range rows {
		page.Items = append(page.Items, api.Reactor{UserId: r.UserID, CreatedAt: r.CreatedAt.UTC()})
	}
	return apiserver.ListReactors200JSONResponse(page), nil
}

// A reactor cursor is the (created_at, user_id) of the last item of a page.
func encodeReactorCursor(created time.Time, userID string) string {
	return encodeCursor(reactorCursorKind, created.UTC().Format(time.RFC3339Nano), userID)
}

func decodeReactorCursor(cursor string) (time.Time, string, bool) {
	ts, user, ok := decodeCursor(reactorCursorKind, cursor)
	if !ok || !userid.Valid(user) {
		return time.Time{}, "", false
	}
	created, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", false
	}
	return created, user, true
}

// withReactions fills in the reactions of messages (and, for a caller, my_reactions) in one
// query, whatever conversations they belong to. caller is "" for what all members see: events.
func withReactions(ctx context.Context, q *db.Queries, caller string, messages []api.Message) error {
	if len(messages) == 0 {
		return nil
	}
	params := db.ReactionCountsParams{
		UserID:          caller,
		ConversationIds: make([]uuid.UUID, len(messages)),
		MessageSeqs:     make([]int64, len(messages)),
	}
	type key struct {
		conversation uuid.UUID
		seq          int64
	}
	index := make(map[key]int, len(messages))
	for i, m := range messages {
		params.ConversationIds[i], params.MessageSeqs[i] = m.ConversationId, m.Seq
		index[key{m.ConversationId, m.Seq}] = i
		if caller != "" {
			messages[i].MyReactions = &[]api.Emoji{}
		}
	}
	rows, err := q.ReactionCounts(ctx, params)
	if err != nil {
		return fmt.Errorf("count reactions: %w", err)
	}
	for _, r := range rows {
		m := &messages[index[key{r.ConversationID, r.MessageSeq}]]
		m.Reactions = append(m.Reactions, api.ReactionCount{Emoji: r.Emoji, Count: int(r.Reactors)})
		if r.Mine && caller != "" {
			*m.MyReactions = append(*m.MyReactions, r.Emoji)
		}
	}
	return nil
}
