package realtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/internal/batch"
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
	// memberships reads the conversations of users whose handshakes arrive together in one
	// statement: a node restart brings every client back at once, and a statement per handshake
	// is a round trip and a plan each (10,000 dial-ins: about 2,500 statements, not 10,000).
	memberships *batch.Batcher[string, []Membership]
	// events reads the log for replays and gap fills. Reads of the same range asked for at the
	// same time are made once: after a node restart the members of a conversation come back with
	// the same cursor and would otherwise each read the same events. A read is shared only by
	// those who asked before it started, so none gets a read older than its request.
	events *batch.Batcher[db.EventRangeParams, []StoredEvent]
}

// Handshakes' membership reads: at most membershipBatch users a statement, membershipReaders
// statements at once (the rest of the pool stays free for sends), each bounded by
// membershipTimeout.
const (
	membershipBatch   = 128
	membershipReaders = 4
	membershipTimeout = 10 * time.Second
)

// Log reads: at most eventReadBatch requests shared out at a time, eventReaders batches at once
// (a batch's distinct ranges are read in parallel), each bounded by eventReadTimeout.
const (
	eventReadBatch   = 256
	eventReaders     = 8
	eventReadTimeout = 10 * time.Second
)

// NewPGStore returns a Store reading through pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore {
	s := &PGStore{queries: db.New(pool)}
	s.memberships = batch.New(membershipBatch, membershipReaders, membershipTimeout, s.readMemberships)
	s.events = batch.New(eventReadBatch, eventReaders, eventReadTimeout, s.readEvents)
	return s
}

// ConversationsOf returns the user's memberships, read together with those of the handshakes
// arriving at the same time; a lone handshake's is read at once.
func (s *PGStore) ConversationsOf(ctx context.Context, userID string) ([]Membership, error) {
	return s.memberships.Do(ctx, userID)
}

// readMemberships reads the memberships of users, one statement for all of them.
func (s *PGStore) readMemberships(ctx context.Context, users []string, out [][]Membership, errs []error) {
	rows, err := s.queries.MemberConversationsOfUsers(ctx, users)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("conversations of %d users: %w", len(users), err)
		}
		return
	}
	at := make(map[string]int, len(users))
	for i, u := range users {
		at[u] = i
		out[i] = []Membership{} // a user of no conversation has none, not an error
	}
	for _, r := range rows {
		i := at[r.UserID]
		out[i] = append(out[i], Membership{ConversationID: r.ConversationID, AsOf: r.LastSeq})
	}
	// The same user twice in one batch (two devices connecting at once) gets the same answer.
	for i, u := range users {
		out[i] = out[at[u]]
	}
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
	return s.events.Do(ctx, db.EventRangeParams{ConversationID: conversationID, AfterSeq: after, BeforeSeq: before, MaxRows: int32(limit)})
}

// readEvents reads each distinct range of ranges once, the distinct ones in parallel, and hands
// every request its range's events (shared: readers never modify them).
func (s *PGStore) readEvents(ctx context.Context, ranges []db.EventRangeParams, out [][]StoredEvent, errs []error) {
	first := make(map[db.EventRangeParams]int, len(ranges))
	var distinct []int
	for i, r := range ranges {
		if _, seen := first[r]; !seen {
			first[r] = i
			distinct = append(distinct, i)
		}
	}
	var wg sync.WaitGroup
	for _, i := range distinct[1:] {
		wg.Go(func() { out[i], errs[i] = s.readRange(ctx, ranges[i]) })
	}
	out[distinct[0]], errs[distinct[0]] = s.readRange(ctx, ranges[distinct[0]])
	wg.Wait()
	for i, r := range ranges {
		out[i], errs[i] = out[first[r]], errs[first[r]]
	}
}

func (s *PGStore) readRange(ctx context.Context, r db.EventRangeParams) ([]StoredEvent, error) {
	rows, err := s.queries.EventRange(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("events of %s after %d: %w", r.ConversationID, r.AfterSeq, err)
	}
	out := make([]StoredEvent, len(rows))
	for i, row := range rows {
		out[i] = StoredEvent{Seq: row.Seq, Payload: row.Payload}
	}
	return out, nil
}
