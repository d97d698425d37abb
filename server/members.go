package server

import (
	"context"
	"fmt"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
)

// ListMembers lists a conversation's members, owner first.
func (h *Handlers) ListMembers(ctx context.Context, req apiserver.ListMembersRequestObject) (apiserver.ListMembersResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	_, err = h.conversationForMember(ctx, req.ConversationId, caller)
	if err != nil {
		return nil, err
	}
	members, err := h.queries.MemberList(ctx, req.ConversationId)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	list := api.MemberList{Items: make([]api.Member, len(members))}
	for i, m := range members {
		list.Items[i] = memberOut(m)
	}
	return apiserver.ListMembers200JSONResponse(list), nil
}

// AddMember adds a user to a group; owner or admin only.
func (h *Handlers) AddMember(ctx context.Context, req apiserver.AddMemberRequestObject) (apiserver.AddMemberResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, badRequest("invalid_request", "A JSON body is required.")
	}
	role := api.RoleMember
	if req.Body.Role != nil {
		role = api.Role(*req.Body.Role)
	}
	var added db.Member
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
		// The row lock makes the count exact: concurrent adds queue behind it.
		if h.maxMembers > 0 && int(row.Conversation.MemberCount) >= h.maxMembers {
			return errConversationFull
		}
		added, err = q.MemberInsert(ctx, db.MemberInsertParams{ConversationID: req.ConversationId, UserID: req.Body.UserId, Role: string(role)})
		if err := noRowsAs(err, errAlreadyMember, "insert member"); err != nil {
			return err
		}
		if _, err := q.ConversationAddMemberCount(ctx, db.ConversationAddMemberCountParams{ID: req.ConversationId, Delta: 1}); err != nil {
			return fmt.Errorf("count members: %w", err)
		}
		return appendEvent(ctx, q, req.ConversationId, caller, api.EventTypeMemberAdded, func() (api.Event, error) {
			m := memberOut(added)
			return api.Event{Member: &m}, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("add member: %w", err)
	}
	h.outbox.Wake()
	return apiserver.AddMember201JSONResponse(memberOut(added)), nil
}

// RemoveMember lets a member leave, or the owner or an admin remove someone. When the owner
// leaves, the longest-standing admin (else member) becomes owner.
func (h *Handlers) RemoveMember(ctx context.Context, req apiserver.RemoveMemberRequestObject) (apiserver.RemoveMemberResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	err = h.inTx(ctx, func(q *db.Queries) error {
		row, err := lockConversation(ctx, q, req.ConversationId, caller)
		if err != nil {
			return err
		}
		if row.Conversation.Type == string(api.ConversationTypeDirect) {
			return errDirectConversation
		}
		target, err := q.MemberGet(ctx, db.MemberGetParams{ConversationID: req.ConversationId, UserID: req.UserId})
		if err := noRowsAs(err, errMemberNotFound, "get member"); err != nil {
			return err
		}
		if target.UserID != caller {
			if !isAdmin(row.Role) {
				return errNotAdmin
			}
			if row.Role == string(api.RoleAdmin) && isAdmin(target.Role) {
				return errCannotRemove
			}
		}
		if _, err := q.MemberDelete(ctx, db.MemberDeleteParams{ConversationID: req.ConversationId, UserID: target.UserID}); err != nil {
			return fmt.Errorf("delete member: %w", err)
		}
		conv, err := q.ConversationAddMemberCount(ctx, db.ConversationAddMemberCountParams{ID: req.ConversationId, Delta: -1})
		if err != nil {
			return fmt.Errorf("count members: %w", err)
		}
		if target.Role == string(api.RoleOwner) && conv.MemberCount > 0 {
			if _, err := q.MemberPromoteSuccessor(ctx, req.ConversationId); err != nil {
				return fmt.Errorf("promote new owner: %w", err)
			}
		}
		return appendEvent(ctx, q, req.ConversationId, caller, api.EventTypeMemberRemoved, func() (api.Event, error) {
			m := memberOut(target)
			return api.Event{Member: &m}, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("remove member: %w", err)
	}
	h.outbox.Wake()
	return apiserver.RemoveMember204Response{}, nil
}
