package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
)

// SendMessage stores a message, its message.created event and outbox row, atomically (see the
// MessageSend and MessageSendGroup queries), in one statement and one commit shared with the sends
// that arrive at the same time (sendGroup). A client_msg_id the sender used before in this conversation returns the
// first message with 200: retries are safe, concurrent ones included (the unique constraint
// settles a race).
func (h *Handlers) SendMessage(ctx context.Context, req apiserver.SendMessageRequestObject) (apiserver.SendMessageResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, badRequest("invalid_request", "A JSON body is required.")
	}
	mentions, err := mentionList(req.Body.Mentions)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	msg := api.Message{
		Id: uuid.Must(uuid.NewV7()), ConversationId: req.ConversationId,
		SenderId: caller, ClientMsgId: req.Body.ClientMsgId, Body: req.Body.Body, CreatedAt: now,
		ReplyToSeq: req.Body.ReplyToSeq, Mentions: mentions, Reactions: []api.ReactionCount{},
	}
	// The seq is not known yet: the query writes it into the payload.
	payload, err := json.Marshal(api.Event{
		ConversationId: req.ConversationId, Type: api.EventTypeMessageCreated,
		ActorId: caller, CreatedAt: now, Message: &msg,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	msg.Seq, err = h.sends.send(ctx, db.MessageSendParams{
		ConversationID: req.ConversationId, CreatedAt: now, SenderID: caller, ID: msg.Id,
		ClientMsgID: msg.ClientMsgId, Body: msg.Body, Payload: payload,
		ReplyToSeq: req.Body.ReplyToSeq, Mentions: mentions, TraceContext: traceContext(ctx),
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName == "messages_client_msg_id_key" {
		// Sent before: answer with the first message. (Only its sender can have sent it.)
		first, err := h.queries.MessageGetByClientID(ctx, db.MessageGetByClientIDParams{ConversationID: req.ConversationId, SenderID: caller, ClientMsgID: req.Body.ClientMsgId})
		if err != nil {
			return nil, fmt.Errorf("find earlier send: %w", err)
		}
		out := []api.Message{messageOut(first)}
		if err := withReactions(ctx, h.queries, caller, out); err != nil {
			return nil, err
		}
		return apiserver.SendMessage200JSONResponse(out[0]), nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, h.sendRefused(ctx, req, caller, mentions)
	}
	if err != nil {
		return nil, fmt.Errorf("send message: %w", err)
	}
	h.outbox.Wake()
	msg.MyReactions = &[]api.Emoji{}
	return apiserver.SendMessage201JSONResponse(msg), nil
}

// maxMentions bounds the members one message mentions.
const maxMentions = 50

// mentionList is mentions without repeats, in the order given.
func mentionList(mentions *[]api.UserID) ([]string, error) {
	if mentions == nil {
		return []string{}, nil
	}
	out := make([]string, 0, min(len(*mentions), maxMentions))
	for _, m := range *mentions {
		if slices.Contains(out, m) {
			continue
		}
		if len(out) == maxMentions {
			return nil, errInvalidMention // one more than allowed: no need to read on
		}
		out = append(out, m)
	}
	return out, nil
}

// sendRefused says why the send statement stored nothing, asking the same function it asked.
func (h *Handlers) sendRefused(ctx context.Context, req apiserver.SendMessageRequestObject, caller string, mentions []string) error {
	refusal, err := h.queries.MessageSendRefusal(ctx, db.MessageSendRefusalParams{
		ConversationID: req.ConversationId, SenderID: caller, ReplyToSeq: req.Body.ReplyToSeq, Mentions: mentions,
	})
	if err != nil {
		return fmt.Errorf("why was the send refused: %w", err)
	}
	switch refusal {
	case "blocked":
		return errBlocked
	case "invalid_reply_target":
		return errInvalidReplyTarget
	case "invalid_mention":
		return errInvalidMention
	default:
		// not_member, or the membership went while the send was refused.
		return errConversationNotFound
	}
}

// ListMessages pages through history; items are ascending by seq whichever way the page goes.
func (h *Handlers) ListMessages(ctx context.Context, req apiserver.ListMessagesRequestObject) (apiserver.ListMessagesResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Params.AfterSeq != nil && req.Params.BeforeSeq != nil {
		return nil, badRequest("conflicting_parameters", "Give after_seq or before_seq, not both.")
	}
	_, err = h.conversationForMember(ctx, req.ConversationId, caller)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(req.Params.Limit)
	rootsOnly := req.Params.RootsOnly != nil && *req.Params.RootsOnly
	var rows []db.Message
	if req.Params.AfterSeq != nil {
		rows, err = h.queries.MessageListAfter(ctx, db.MessageListAfterParams{ConversationID: req.ConversationId, AfterSeq: *req.Params.AfterSeq, RootsOnly: rootsOnly, MaxRows: int32(limit + 1)})
	} else {
		before := int64(math.MaxInt64)
		if req.Params.BeforeSeq != nil {
			before = *req.Params.BeforeSeq
		}
		rows, err = h.queries.MessageListBefore(ctx, db.MessageListBeforeParams{ConversationID: req.ConversationId, BeforeSeq: before, RootsOnly: rootsOnly, MaxRows: int32(limit + 1)})
	}
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	hasMore := len(rows) > limit
	rows = rows[:min(len(rows), limit)]
	if req.Params.AfterSeq == nil {
		slices.Reverse(rows)
	}
	page, err := h.messagePage(ctx, caller, rows, hasMore)
	if err != nil {
		return nil, err
	}
	return apiserver.ListMessages200JSONResponse(page), nil
}

// ListReplies pages the thread under a root message, ascending by seq.
func (h *Handlers) ListReplies(ctx context.Context, req apiserver.ListRepliesRequestObject) (apiserver.ListRepliesResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := h.messageForMember(ctx, req.ConversationId, req.Seq, caller); err != nil {
		return nil, err
	}
	limit := pageLimit(req.Params.Limit)
	var after int64
	if req.Params.AfterSeq != nil {
		after = *req.Params.AfterSeq
	}
	rows, err := h.queries.MessageListReplies(ctx, db.MessageListRepliesParams{ConversationID: req.ConversationId, RootSeq: &req.Seq, AfterSeq: after, MaxRows: int32(limit + 1)})
	if err != nil {
		return nil, fmt.Errorf("list replies: %w", err)
	}
	page, err := h.messagePage(ctx, caller, rows[:min(len(rows), limit)], len(rows) > limit)
	if err != nil {
		return nil, err
	}
	return apiserver.ListReplies200JSONResponse(page), nil
}

// messagePage is rows as the caller sees them, with their reactions.
func (h *Handlers) messagePage(ctx context.Context, caller string, rows []db.Message, hasMore bool) (api.MessagePage, error) {
	page := api.MessagePage{HasMore: hasMore, Items: make([]api.Message, len(rows))}
	for i, m := range rows {
		page.Items[i] = messageOut(m)
	}
	return page, withReactions(ctx, h.queries, caller, page.Items)
}

// messageForChange locks the conversation and loads the message a change is about.
func messageForChange(ctx context.Context, q *db.Queries, conversationID uuid.UUID, seq int64, caller string) (db.ConversationLockForMemberRow, db.Message, error) {
	row, err := lockConversation(ctx, q, conversationID, caller)
	if err != nil {
		return row, db.Message{}, err
	}
	msg, err := q.MessageGetBySeq(ctx, db.MessageGetBySeqParams{ConversationID: conversationID, Seq: seq})
	return row, msg, noRowsAs(err, errMessageNotFound, "get message")
}

// EditMessage replaces a message's body; sender only.
func (h *Handlers) EditMessage(ctx context.Context, req apiserver.EditMessageRequestObject) (apiserver.EditMessageResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, badRequest("invalid_request", "A JSON body is required.")
	}
	var edited db.Message
	err = h.inTx(ctx, func(q *db.Queries) error {
		_, msg, err := messageForChange(ctx, q, req.ConversationId, req.Seq, caller)
		if err != nil {
			return err
		}
		if msg.SenderID != caller {
			return errNotSender
		}
		if msg.DeletedAt != nil {
			return errMessageDeleted
		}
		return appendEvent(ctx, q, req.ConversationId, caller, api.EventTypeMessageUpdated, func() (api.Event, error) {
			edited, err = q.MessageSetBody(ctx, db.MessageSetBodyParams{ConversationID: req.ConversationId, Seq: req.Seq, Body: req.Body.Body})
			if err != nil {
				return api.Event{}, fmt.Errorf("set body: %w", err)
			}
			m := []api.Message{messageOut(edited)}
			return api.Event{Message: &m[0]}, withReactions(ctx, q, "", m)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("edit message: %w", err)
	}
	h.outbox.Wake()
	out := []api.Message{messageOut(edited)}
	if err := withReactions(ctx, h.queries, caller, out); err != nil {
		return nil, err
	}
	return apiserver.EditMessage200JSONResponse(out[0]), nil
}

// DeleteMessage turns a message into a tombstone; the sender, the owner or an admin may. Deleting
// a tombstone again changes nothing. The tombstone keeps no mentions and no reactions, and a
// deleted reply leaves its root's reply_count.
func (h *Handlers) DeleteMessage(ctx context.Context, req apiserver.DeleteMessageRequestObject) (apiserver.DeleteMessageResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	err = h.inTx(ctx, func(q *db.Queries) error {
		row, msg, err := messageForChange(ctx, q, req.ConversationId, req.Seq, caller)
		if err != nil {
			return err
		}
		if msg.SenderID != caller && !isAdmin(row.Role) {
			return errNotAllowedToDelete
		}
		if msg.DeletedAt != nil {
			return nil
		}
		return appendEvent(ctx, q, req.ConversationId, caller, api.EventTypeMessageDeleted, func() (api.Event, error) {
			tombstone, err := q.MessageTombstone(ctx, db.MessageTombstoneParams{ConversationID: req.ConversationId, Seq: req.Seq})
			if err != nil {
				return api.Event{}, fmt.Errorf("tombstone message: %w", err)
			}
			if err := forgetDeleted(ctx, q, tombstone); err != nil {
				return api.Event{}, err
			}
			m := messageOut(tombstone)
			return api.Event{Message: &m}, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("delete message: %w", err)
	}
	h.outbox.Wake()
	return apiserver.DeleteMessage204Response{}, nil
}

// forgetDeleted removes what a deleted message no longer has: its mentions, its reactions and
// its place in its root's reply_count.
func forgetDeleted(ctx context.Context, q *db.Queries, m db.Message) error {
	if err := q.MentionDeleteForMessage(ctx, db.MentionDeleteForMessageParams{ConversationID: m.ConversationID, Seq: m.Seq}); err != nil {
		return fmt.Errorf("delete mentions: %w", err)
	}
	if err := q.ReactionDeleteForMessage(ctx, db.ReactionDeleteForMessageParams{ConversationID: m.ConversationID, MessageSeq: m.Seq}); err != nil {
		return fmt.Errorf("delete reactions: %w", err)
	}
	if m.ReplyToSeq != nil {
		if err := q.MessageUncountReply(ctx, db.MessageUncountReplyParams{ConversationID: m.ConversationID, Seq: *m.ReplyToSeq}); err != nil {
			return fmt.Errorf("uncount reply: %w", err)
		}
	}
	return nil
}
