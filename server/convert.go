package server

import (
	"time"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/db"
)

// Rows from gen/db become models of gen/api here, and only here. Times leave in UTC.

func conversationOut(c db.Conversation) api.Conversation {
	return api.Conversation{
		Id:          c.ID,
		Type:        api.ConversationType(c.Type),
		Title:       c.Title,
		CreatedBy:   c.CreatedBy,
		CreatedAt:   c.CreatedAt.UTC(),
		UpdatedAt:   c.UpdatedAt.UTC(),
		LastSeq:     c.LastSeq,
		MemberCount: int(c.MemberCount),
	}
}

func memberOut(m db.Member) api.Member {
	return api.Member{
		UserId:      m.UserID,
		Role:        api.Role(m.Role),
		JoinedAt:    m.JoinedAt.UTC(),
		LastReadSeq: m.LastReadSeq,
	}
}

// messageOut is the message without its reactions, which live in a table of their own (see
// withReactions).
func messageOut(m db.Message) api.Message {
	mentions := m.Mentions
	if mentions == nil {
		mentions = []string{}
	}
	return api.Message{
		Id:             m.ID,
		ConversationId: m.ConversationID,
		Seq:            m.Seq,
		SenderId:       m.SenderID,
		ClientMsgId:    m.ClientMsgID,
		Body:           m.Body,
		CreatedAt:      m.CreatedAt.UTC(),
		EditedAt:       utcPtr(m.EditedAt),
		DeletedAt:      utcPtr(m.DeletedAt),
		ReplyToSeq:     m.ReplyToSeq,
		ReplyCount:     int(m.ReplyCount),
		LastReplyAt:    utcPtr(m.LastReplyAt),
		Mentions:       mentions,
		Reactions:      []api.ReactionCount{},
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
