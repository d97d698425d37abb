package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	apispec "github.com/parleyhq/parley/api"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/realtime"
)

// Handlers implements the generated strict server interface: one method per operation of
// api/openapi.yaml. Requests arrive decoded and validated; the caller's identity is in the context
// (WithUserID). Expected failures are typed problem responses; only unexpected ones are errors.
type Handlers struct {
	pool     *pgxpool.Pool
	queries  *db.Queries
	sends    *sendGroup
	gatherer prometheus.Gatherer
	logger   *slog.Logger
	// document is api/openapi.yaml as /openapi.json serves it.
	document apiserver.GetOpenAPIDocument200JSONResponse
	signals  signaler
	outbox   outboxWaker
	redis    pinger // nil on a node without Redis
	// maxMembers caps a conversation's members; 0 is no cap.
	maxMembers int
	presence   presenceReader
}

// HandlerDeps is what the handlers work with.
type HandlerDeps struct {
	Pool *pgxpool.Pool
	// Registry is what /metrics exposes, and where the handlers' own metrics go.
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Signals carries read receipts to the members' connections on every node: the hub.
	Signals signaler
	// Outbox is told when a transaction that wrote outbox rows has committed: the dispatcher.
	Outbox outboxWaker
	// Redis is checked by readiness; nil on a node without Redis.
	Redis pinger
	// MaxMembers caps a conversation's members; 0 is no cap.
	MaxMembers int
	// Presence reads users' presence for GET /v1/presence: the hub.
	Presence presenceReader
}

type signaler interface {
	Signal(ctx context.Context, s realtime.Signal) error
}

type outboxWaker interface {
	// Wake says that outbox rows were committed.
	Wake()
}

type pinger interface {
	Ping(ctx context.Context) error
}

var _ apiserver.StrictServerInterface = (*Handlers)(nil)

// NewHandlers returns the handlers over a migrated database.
func NewHandlers(deps HandlerDeps) (*Handlers, error) {
	if deps.Pool == nil || deps.Registry == nil || deps.Logger == nil || deps.Signals == nil || deps.Outbox == nil {
		return nil, errors.New("handlers: pool, registry, logger, signals and outbox are all required")
	}
	var document apiserver.GetOpenAPIDocument200JSONResponse
	if err := json.Unmarshal(apispec.JSON(), &document); err != nil {
		return nil, fmt.Errorf("decode the OpenAPI document: %w", err)
	}
	queries := db.New(deps.Pool)
	return &Handlers{
		pool: deps.Pool, queries: queries, sends: newSendGroup(deps.Pool, deps.Registry),
		gatherer: deps.Registry, logger: deps.Logger, document: document,
		signals: deps.Signals, outbox: deps.Outbox, redis: deps.Redis, maxMembers: deps.MaxMembers,
		presence: deps.Presence,
	}, nil
}

// errNoCaller means a /v1 handler ran without the auth middleware: a wiring bug, hence a 500.
var errNoCaller = errors.New("no authenticated caller in request context")

func callerID(ctx context.Context) (string, error) {
	id, ok := UserIDFrom(ctx)
	if !ok {
		return "", errNoCaller
	}
	return id, nil
}

// inTx runs fn in one transaction, committed when fn returns nil.
func (h *Handlers) inTx(ctx context.Context, fn func(q *db.Queries) error) error {
	return pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		return fn(h.queries.WithTx(tx))
	})
}

// lockConversation locks the conversation row for a change by one of its members; a conversation
// the user is not a member of does not exist for them.
func lockConversation(ctx context.Context, q *db.Queries, id uuid.UUID, userID string) (db.ConversationLockForMemberRow, error) {
	row, err := q.ConversationLockForMember(ctx, db.ConversationLockForMemberParams{ID: id, UserID: userID})
	return row, noRowsAs(err, errConversationNotFound, "lock conversation")
}

// conversationForMember reads the conversation as one of its members sees it.
func (h *Handlers) conversationForMember(ctx context.Context, id uuid.UUID, userID string) (db.ConversationGetForMemberRow, error) {
	row, err := h.queries.ConversationGetForMember(ctx, db.ConversationGetForMemberParams{ID: id, UserID: userID})
	return row, noRowsAs(err, errConversationNotFound, "get conversation")
}

// messageForMember reads a message of a conversation the user is a member of.
func (h *Handlers) messageForMember(ctx context.Context, conversationID uuid.UUID, seq int64, userID string) (db.Message, error) {
	if _, err := h.conversationForMember(ctx, conversationID, userID); err != nil {
		return db.Message{}, err
	}
	msg, err := h.queries.MessageGetBySeq(ctx, db.MessageGetBySeqParams{ConversationID: conversationID, Seq: seq})
	return msg, noRowsAs(err, errMessageNotFound, "get message")
}

// appendEvent records the event a change makes, with the conversation's next seq and its outbox
// row, in the caller's transaction (EventAppend: one round trip); build makes the event's
// payload. Wake the outbox once the transaction has committed. Such changes do not move the
// conversation up the list; new messages, which do, are stored by MessageSend.
func appendEvent(ctx context.Context, q *db.Queries, conversationID uuid.UUID, actorID string, eventType api.EventType, build func() (api.Event, error)) error {
	event, err := build()
	if err != nil {
		return err
	}
	event.ConversationId = conversationID
	event.Type = eventType
	event.ActorId = actorID
	event.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	// The seq is not known yet: the query writes it into the payload.
	payload, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if _, err := q.EventAppend(ctx, db.EventAppendParams{
		ConversationID: conversationID, Type: string(eventType), ActorID: actorID,
		CreatedAt: event.CreatedAt, Payload: payload, TraceContext: traceContext(ctx),
	}); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}

func isAdmin(role string) bool { return role == string(api.RoleOwner) || role == string(api.RoleAdmin) }

// pageLimit is the limit parameter with its default.
func pageLimit(limit *int) int {
	if limit == nil {
		return 50
	}
	return *limit
}
