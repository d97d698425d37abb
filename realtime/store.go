package realtime

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleyhq/parley/gen/db"
)

// StoredEvent is an event read back from the durable log.
type StoredEvent struct {
	Seq     int64
	Payload []byte
}

// Membership is a user's membership of a conversation, as of the conversation's seq asOf.
type Membership struct {
	ConversationID uuid.UUID
	AsOf           int64
}

// Store is what the hub reads from PostgreSQL: who is a member of what (as of which seq), and the
// event log to replay or to fill a gap from.
type Store interface {
	ConversationsOf(ctx context.Context, userID string) ([]Membership, error)
	// MembersOf returns the conversation's members and the seq that list is as of.
	MembersOf(ctx context.Context, conversationID uuid.UUID) (users []string, asOf int64, err error)
	// EventsBetween returns up to limit events with after < seq (and seq < before when before > 0).
	EventsBetween(ctx context.Context, conversationID uuid.UUID, after, before int64, limit int) ([]StoredEvent, error)
}

// PGStore is the Store over Parley's database.
type PGStore struct {
	queries *db.Queries
}

// NewPGStore returns a Store reading through pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore {
	return &PGStore{queries: db.New(pool)}
}

func (s *PGStore) ConversationsOf(ctx context.Context, userID string) ([]Membership, error) {
	rows, err := s.queries.MemberConversations(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: %w", userID, err)
	}
	out := make([]Membership, len(rows))
	for i, r := range rows {
		out[i] = Membership{ConversationID: r.ConversationID, AsOf: r.LastSeq}
	}
	return out, nil
}

func (s *PGStore) MembersOf(ctx context.Context, conversationID uuid.UUID) ([]string, int64, error) {
	rows, err := s.queries.MemberUsers(ctx, conversationID)
	if err != nil {
		return nil, 0, fmt.Errorf("members of %s: %w", conversationID, err)
	}
	users := make([]string, len(rows))
	var asOf int64
	for i, r := range rows {
		users[i], asOf = r.UserID, r.LastSeq
	}
	return users, asOf, nil
}

func (s *PGStore) EventsBetween(ctx context.Context, conversationID uuid.UUID, after, before int64, limit int) ([]StoredEvent, error) {
	rows, err := s.queries.EventRange(ctx, db.EventRangeParams{ConversationID: conversationID, AfterSeq: after, BeforeSeq: before, MaxRows: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("events of %s after %d: %w", conversationID, after, err)
	}
	out := make([]StoredEvent, len(rows))
	for i, r := range rows {
		out[i] = StoredEvent{Seq: r.Seq, Payload: r.Payload}
	}
	return out, nil
}
