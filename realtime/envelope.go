package realtime

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
)

// Envelope is one committed event on its way from the outbox to the connections. Payload is the
// event exactly as the API serves it (an api.Event in JSON), so it is encoded once, at commit.
type Envelope struct {
	ConversationID uuid.UUID
	Seq            int64
	Payload        []byte
	// CommittedAt is when the event's transaction wrote it, for the commit-to-socket latency.
	CommittedAt time.Time
	// Trace, when valid, is the span the event's delivery continues: the span of the request
	// that wrote it, as its outbox row carries it, then the dispatcher's publish span, as the
	// stream entry carries it. Zero when tracing is off or that request was not sampled.
	Trace trace.SpanContext
}

// Signal is an ephemeral frame (typing, read receipt) for the connections of a conversation's
// members. Signals are never stored: a node that misses one does not get it later.
type Signal struct {
	ConversationID uuid.UUID `json:"c"`
	// UserID is the member the signal is about.
	UserID string `json:"u"`
	// SkipUser keeps the signal from that user's own connections (typing goes to others only).
	SkipUser bool `json:"x,omitempty"`
	// Frame is the encoded frame to send.
	Frame []byte `json:"f"`
}

// Publisher carries envelopes from the dispatcher to the hubs of every node: the Redis streams
// between nodes, or the local broker on one node. Publish returns once the batch is in the
// publisher's hands; the dispatcher deletes outbox rows only then.
type Publisher interface {
	Publish(ctx context.Context, batch []Envelope) error
}

// Sink is where a broker's consumer hands what it carries: the node's hub. It is called outside
// any transaction.
type Sink interface {
	Deliver(ctx context.Context, batch []Envelope) error
	DeliverSignal(s Signal)
	// CatchUp hands on what was committed after the last event handed on, read from the log: a
	// consumer calls it when its bus has lost events that were on their way.
	CatchUp(ctx context.Context) error
}
