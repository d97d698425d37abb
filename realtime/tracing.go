package realtime

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the live path's spans' instrumentation scope.
const tracerName = "github.com/parleyhq/parley/realtime"

// Span names of the live path, one trace from the request that wrote an event: the dispatcher
// publishes it (publishSpan), each node's hub delivers it to its connections (deliverSpan), and
// each connection's writer writes it to the socket (socketWriteSpan).
const (
	publishSpan     = "parley.outbox.publish"
	deliverSpan     = "parley.deliver"
	socketWriteSpan = "parley.socket.write"
)

// Attribute keys of the live path's spans.
const (
	attrNode         = attribute.Key("parley.node")
	attrConversation = attribute.Key("parley.conversation_id")
	attrSeq          = attribute.Key("parley.seq")
	attrConnections  = attribute.Key("parley.connections")
	attrHeld         = attribute.Key("parley.held")
	attrBatchSize    = attribute.Key("parley.batch_size")
	attrSession      = attribute.Key("parley.session_id")
)

// Tracer makes the spans of the live path of one node. A nil *Tracer is tracing off: the
// dispatcher, hub and writers check for nil and then do nothing more per event or frame.
type Tracer struct {
	tracer trace.Tracer
	node   attribute.KeyValue
}

// NewTracer returns the live path's tracer over provider, its spans naming node; nil when
// provider is nil (tracing off).
func NewTracer(provider trace.TracerProvider, node string) *Tracer {
	if provider == nil {
		return nil
	}
	return &Tracer{tracer: provider.Tracer(tracerName), node: attrNode.String(node)}
}

// startPublish starts the span of one event's publish, a child of the span that wrote its outbox
// row.
func (t *Tracer) startPublish(ctx context.Context, parent trace.SpanContext, env Envelope, batchSize int) (context.Context, trace.Span) {
	return t.tracer.Start(trace.ContextWithRemoteSpanContext(ctx, parent), publishSpan,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(t.node, attrConversation.String(env.ConversationID.String()), attrSeq.Int64(env.Seq), attrBatchSize.Int(batchSize)))
}

// startDeliver starts the span of one event's delivery on this node, a child of its publish.
func (t *Tracer) startDeliver(ctx context.Context, env Envelope) (context.Context, trace.Span) {
	return t.tracer.Start(trace.ContextWithRemoteSpanContext(ctx, env.Trace), deliverSpan,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(t.node, attrConversation.String(env.ConversationID.String()), attrSeq.Int64(env.Seq)))
}

// tracedWrite is a traced event a connection's writer put into its current batch.
type tracedWrite struct {
	parent trace.SpanContext // the event's delivery span on this node
	conv   uuid.UUID
	seq    int64
	queued time.Time // when the writer took the frame: the span runs from there to the flush
}

// socketWrites records, for each traced event of a batch, the span of its write to the socket:
// from when the writer took it to when the batch holding it was flushed (with err, if that
// failed).
func (t *Tracer) socketWrites(writes []tracedWrite, session string, err error) {
	end := time.Now()
	for _, w := range writes {
		_, span := t.tracer.Start(trace.ContextWithSpanContext(context.Background(), w.parent), socketWriteSpan,
			trace.WithTimestamp(w.queued),
			trace.WithAttributes(t.node, attrConversation.String(w.conv.String()), attrSeq.Int64(w.seq),
				attrSession.String(session)))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "socket write failed")
		}
		span.End(trace.WithTimestamp(end))
	}
}

// endWithError ends span, marking it failed when err is not nil.
func endWithError(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
