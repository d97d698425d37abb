package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
)

// CreateConversation creates a group or direct conversation with the caller as owner. A direct
// conversation between two users exists once: creating it again returns it with 200.
func (h *Handlers) CreateConversation(ctx context.Context, req apiserver.CreateConversationRequestObject) (apiserver.CreateConversationResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, badRequest("invalid_request", "A JSON body is required.")
	}
	others := otherMembers(caller, req.Body.MemberIds)
	if h.maxMembers > 0 && 1+len(others) > h.maxMembers {
		return nil, badRequest("too_many_members", fmt.Sprintf("A conversation has at most %d members.", h.maxMembers))
	}

	var directKey *string
	switch req.Body.Type {
	case api.ConversationTypeDirect:
		if len(others) != 1 {
			return nil, badRequest("invalid_members", "A direct conversation names exactly one other user in member_ids.")
		}
		if req.Body.Title != nil {
			return nil, badRequest("invalid_title", "Direct conversations have no title.")
		}
		blocked, err := h.queries.ConversationBlockedBetween(ctx, db.ConversationBlockedBetweenParams{A: caller, B: others[0]})
		if err != nil {
			return nil, fmt.Errorf("check blocks: %w", err)
		}
		if blocked {
			return nil, errBlocked
		}
		key := directConversationKey(caller, others[0])
		directKey = &key
	case api.ConversationTypeGroup:
	default:
		return nil, badRequest("invalid_type", "type is direct or group.")
	}

	var (
		conv    db.Conversation
		existed bool
	)
	err = h.inTx(ctx, func(q *db.Queries) error {
		conv, err = q.ConversationInsert(ctx, db.ConversationInsertParams{
			ID:          uuid.Must(uuid.NewV7()),
			Type:        string(req.Body.Type),
			Title:       req.Body.Title,
			DirectKey:   directKey,
			CreatedBy:   caller,
			MemberCount: int32(1 + len(others)),
		})
		if errors.Is(err, pgx.ErrNoRows) && directKey != nil {
			existed = true
			conv, err = q.ConversationGetByDirectKey(ctx, directKey)
			if err != nil {
				return fmt.Errorf("get direct conversation: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("insert conversation: %w", err)
		}
		userIDs := append([]string{caller}, others...)
		roles := make([]string, len(userIDs))
		roles[0] = string(api.RoleOwner)
		for i := 1; i < len(roles); i++ {
			roles[i] = string(api.RoleMember)
		}
		if err := q.MemberInsertBatch(ctx, db.MemberInsertBatchParams{ConversationID: conv.ID, UserIds: userIDs, Roles: roles}); err != nil {
			return fmt.Errorf("insert members: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create conversation: %w", err)
	}
	if existed {
		return apiserver.CreateConversation200JSONResponse(conversationOut(conv)), nil
	}
	return apiserver.CreateConversation201JSONResponse(conversationOut(conv)), nil
}

// otherMembers is memberIDs without the caller and without repeats, in the order given.
func otherMembers(caller string, memberIDs []string) []string {
	others := make([]string, 0, len(memberIDs))
	for _, id := range memberIDs {
		if id != caller && !slices.Contains(others, id) {
			others = append(others, id)
		}
	}
	return others
}

// directConversationKey names the pair of users regardless of who creates the conversation. User
// ids cannot contain a newline, so the key is unambiguous.
func directConversationKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "\n" + b
}

// ListConversations pages the caller's conversations, most recent activity first.
func (h *Handlers) ListConversations(ctx context.Context, req apiserver.ListConversationsRequestObject) (apiserver.ListConversationsResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(req.Params.Limit)
	params := db.ConversationListForUserParams{UserID: caller, MaxRows: int32(limit + 1)}
	if req.Params.Cursor != nil {
		activity, id, ok := decodeConversationCursor(*req.Params.Cursor)
		if !ok {
			return nil, errInvalidCursor
		}
		params.BeforeActivity, params.BeforeID = &activity, &id
	}
	rows, err := h.queries.ConversationListForUser(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	page := api.ConversationPage{Items: make([]api.ConversationSummary, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1].Conversation
		cursor := encodeConversationCursor(last.LastActivityAt, last.ID)
		page.NextCursor = &cursor
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.Conversation.ID
	}
	latest, err := h.queries.MessageLatestPerConversation(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("latest messages: %w", err)
	}
	latestOut := make([]api.Message, len(latest))
	for i, m := range latest {
		latestOut[i] = messageOut(m)
	}
	if err := withReactions(ctx, h.queries, caller, latestOut); err != nil {
		return nil, err
	}
	lastMessage := make(map[uuid.UUID]api.Message, len(latest))
	for _, m := range latestOut {
		lastMessage[m.ConversationId] = m
	}
	for _, r := range rows {
		c := conversationOut(r.Conversation)
		summary := api.ConversationSummary{
			Id: c.Id, Type: c.Type, Title: c.Title, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt,
			UpdatedAt: c.UpdatedAt, LastSeq: c.LastSeq, MemberCount: c.MemberCount,
			LastReadSeq: r.LastReadSeq, UnreadCount: r.UnreadCount,
			UnreadMentionCount: r.UnreadMentionCount, Muted: r.Muted,
		}
		if m, ok := lastMessage[c.Id]; ok {
			summary.LastMessage = &m
		}
		page.Items = append(page.Items, summary)
	}
	return apiserver.ListConversations200JSONResponse(page), nil
}

// A conversation cursor is the (last_activity_at, id) of the last item of a page.
func encodeConversationCursor(activity time.Time, id uuid.UUID) string {
	return encodeCursor("", activity.UTC().Format(time.RFC3339Nano), id.String())
}

func decodeConversationCursor(cursor string) (time.Time, uuid.UUID, bool) {
	ts, idText, ok := decodeCursor("", cursor)
	if !ok {
		return time.Time{}, uuid.UUID{}, false
	}
	activity, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, uuid.UUID{}, false
	}
	id, err := uuid.Parse(idText)
	if err != nil {
		return time.Time{}, uuid.UUID{}, false
	}
	return activity, id, true
}

// GetConversation returns one conversation of the caller's.
func (h *Handlers) GetConversation(ctx context.Context, req apiserver.GetConversationRequestObject) (apiserver.GetConversationResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	row, err := h.conversationForMember(ctx, req.ConversationId, caller)
	if err != nil {
		return nil, err
	}
	return apiserver.GetConversation200JSONResponse(conversationOut(row.Conversation)), nil
}

// UpdateConversation renames a group; owner or admin only.
func (h *Handlers) UpdateConversation(ctx context.Context, req apiserver.UpdateConversationRequestObject) (apiserver.UpdateConversationResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, badRequest("invalid_request", "A JSON body is required.")
	}
	var updated db.Conversation
	err = h.inTx(ctx, func(q *db.Queries) error {
		row, err := lockConversation(ctx, q, req.ConversationId, caller)
		if err != nil {
			return err
		}
		if row.Conversation.Type == string(api.ConversationTypeDirect) {
			return errDirectConversation
		}
		if !isAdmin(row.Role) {
			return errNotAdmin
		}
		return appendEvent(ctx, q, req.ConversationId, caller, api.EventTypeConversationUpdated, func() (api.Event, error) {
			updated, err = q.ConversationSetTitle(ctx, db.ConversationSetTitleParams{ID: req.ConversationId, Title: &req.Body.Title})
			if err != nil {
				return api.Event{}, fmt.Errorf("set title: %w", err)
			}
			// The conversation as of this event: the row is locked, so its seq is the next one.
			updated.LastSeq++
			c := conversationOut(updated)
			return api.Event{Conversation: &c}, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("update conversation: %w", err)
	}
	h.outbox.Wake()
	return apiserver.UpdateConversation200JSONResponse(conversationOut(updated)), nil
}
