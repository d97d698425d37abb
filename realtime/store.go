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

// Store is what the hub reads from PostgreSQL: who is a member of what, and the event log to
// replay or to fill a gap from.
type Store interface {
	ConversationsOf(ctx context.Context, userID string) ([]uuid.UUID, error)
	MembersOf(ctx context.Context, conversationID uuid.UUID) ([]string, error)
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

func (s *PGStore) ConversationsOf(ctx context.Context, userID string) ([]uuid.UUID, error) {
	ids, err := s.queries.MemberConversationIDs(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: %w", userID, err)
	}
	return ids, nil
}

func (s *PGStore) MembersOf(ctx context.Context, conversationID uuid.UUID) ([]string, error) {
	users, err := s.queries.MemberUserIDs(ctx, conversationID)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", conversationID, err)
	}
	return users, nil
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
