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
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
)

// SendMessage stores a message, its message.created event and outbox row, atomically (see the
// MessageSend query), in one round trip and one commit shared with the sends that arrive at the
// same time (sendGroup). A client_msg_id the sender used before in this conversation returns the
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
	now := time.Now().UTC().Truncate(time.Microsecond)
	msg := api.Message{
		Id: uuid.Must(uuid.NewV7()), ConversationId: req.ConversationId,
		SenderId: caller, ClientMsgId: req.Body.ClientMsgId, Body: req.Body.Body, CreatedAt: now,
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
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName == "messages_client_msg_id_key" {
		// Sent before: answer with the first message. (Only its sender can have sent it.)
		first, err := h.queries.MessageGetByClientID(ctx, db.MessageGetByClientIDParams{ConversationID: req.ConversationId, SenderID: caller, ClientMsgID: req.Body.ClientMsgId})
		if err != nil {
			return nil, fmt.Errorf("find earlier send: %w", err)
		}
		return apiserver.SendMessage200JSONResponse(messageOut(first)), nil
	}
	if err := noRowsAs(err, errConversationNotFound, "send message"); err != nil {
		return nil, err
	}
	h.outbox.Wake()
	return apiserver.SendMessage201JSONResponse(msg), nil
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
	var rows []db.Message
	if req.Params.AfterSeq != nil {
		rows, err = h.queries.MessageListAfter(ctx, db.MessageListAfterParams{ConversationID: req.ConversationId, AfterSeq: *req.Params.AfterSeq, MaxRows: int32(limit + 1)})
	} else {
		before := int64(math.MaxInt64)
		if req.Params.BeforeSeq != nil {
			before = *req.Params.BeforeSeq
		}
		rows, err = h.queries.MessageListBefore(ctx, db.MessageListBeforeParams{ConversationID: req.ConversationId, BeforeSeq: before, MaxRows: int32(limit + 1)})
	}
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	page := api.MessagePage{HasMore: len(rows) > limit}
	rows = rows[:min(len(rows), limit)]
	if req.Params.AfterSeq == nil {
		slices.Reverse(rows)
	}
	page.Items = make([]api.Message, len(rows))
	for i, m := range rows {
		page.Items[i] = messageOut(m)
	}
	return apiserver.ListMessages200JSONResponse(page), nil
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
			m := messageOut(edited)
			return api.Event{Message: &m}, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("edit message: %w", err)
	}
	h.outbox.Wake()
	return apiserver.EditMessage200JSONResponse(messageOut(edited)), nil
}

// DeleteMessage turns a message into a tombstone; the sender, the owner or an admin may. Deleting
// a tombstone again changes nothing.
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
