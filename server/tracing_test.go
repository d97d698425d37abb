package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/internal/telemetry"
)

// tracedNode is a node of a cluster that records its spans in memory and its log lines (debug
// and up, as JSON).
type tracedNode struct {
	id    string
	base  string
	spans *tracetest.SpanRecorder
	logs  *lockedBuffer
}

func (c *cluster) tracedNode(t *testing.T, id string) tracedNode {
	t.Helper()
	cfg := testConfig(c.dbURL)
	c.configure(id)(&cfg)
	return startTracedNode(t, cfg, id)
}

func startTracedNode(t *testing.T, cfg Config, id string) tracedNode {
	t.Helper()
	n := tracedNode{id: id, spans: tracetest.NewSpanRecorder(), logs: &lockedBuffer{}}
	withoutRateLimits(&cfg)
	cfg.Tracing = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(n.spans))
	logger := slog.New(slog.NewJSONHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(context.Background(), cfg, logger)
	require.NoError(t, err)
	t.Cleanup(s.Close) // which shuts the provider down
	n.base = serveTest(t, s)
	return n
}

// traceSpans are the spans of one trace a node has ended.
func (n tracedNode) traceSpans(id trace.TraceID) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range n.spans.Ended() {
		if s.SpanContext().TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

// logLines are the JSON log lines written so far, decoded.
func logLines(t *testing.T, b *lockedBuffer) []map[string]any {
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

func spanNamed(spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func spansNamed(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// One traced POST …/messages on node A, with sockets of the conversation's members on both
// nodes: a single trace, continuing the caller's traceparent, holds the sendMessage request,
// its PostgreSQL queries, the dispatcher's publish and its Redis command, the delivery on each
// node and each socket's write; and the request's log line carries the trace id.
func TestOneTraceRunsFromTheSendToTheSocketsOfEveryNode(t *testing.T) {
	t.Parallel()
	c := newCluster(t, testRedisURL())
	nodeA := c.tracedNode(t, "node-a")
	nodeB := c.tracedNode(t, "node-b")

	alice := apiClient(t, nodeA.base, "alice")
	conv := createGroupVia(t, alice, "bob", "carol")
	bobOnA := dialWS(t, nodeA.base, tokenFor(t, "bob"))
	bobOnA.ready(nil)
	carolOnB := dialWS(t, nodeB.base, tokenFor(t, "carol"))
	carolOnB.ready(nil)

	// The caller's own trace, which Parley continues.
	callerTrace := trace.TraceID(uuid.New())
	traceparent := fmt.Sprintf("00-%s-%s-01", callerTrace, "00f067aa0ba902b7")
	resp, err := alice.SendMessageWithResponse(t.Context(), conv, api.SendMessageJSONRequestBody{ClientMsgId: uuid.NewString(), Body: "traced"},
		func(_ context.Context, req *http.Request) error {
			req.Header.Set("traceparent", traceparent)
			return nil
		})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	seq := resp.JSON201.Seq
	for _, ws := range []*wsClient{bobOnA, carolOnB} {
		ev := ws.nextEvent(10 * time.Second)
		require.Equal(t, seq, ev.Seq)
	}

	// Every span of the trace, on either node, once both sockets' writes and the publish (which
	// ends once its transaction has committed, after the sockets may have been written) have
	// been recorded.
	var spans []sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		a, b := nodeA.traceSpans(callerTrace), nodeB.traceSpans(callerTrace)
		spans = append(a, b...)
		return spanNamed(a, "parley.socket.write") != nil && spanNamed(b, "parley.socket.write") != nil &&
			spanNamed(spans, "parley.outbox.publish") != nil
	}, 10*time.Second, 10*time.Millisecond)
	logTrace(t, nodeA, nodeB, callerTrace)

	request := spanNamed(spans, "sendMessage")
	require.NotNil(t, request, "the request's span, named after its operation")
	require.Equal(t, trace.SpanKindServer, request.SpanKind())
	require.Equal(t, "00f067aa0ba902b7", request.Parent().SpanID().String(), "a child of the caller's span")
	require.Equal(t, int64(http.StatusCreated), attr(request, "http.response.status_code").AsInt64())
	require.NotNil(t, spanNamed(nodeA.traceSpans(callerTrace), "sendMessage"), "served by node A")

	query := spanNamed(spans, "MessageSend")
	require.NotNil(t, query, "the send's query, named after the sqlc query")
	require.Equal(t, "postgresql", attr(query, "db.system.name").AsString())

	publish := spanNamed(spans, "parley.outbox.publish")
	require.NotNil(t, publish, "the dispatcher's publish, on whichever node claimed the row")
	require.Equal(t, request.SpanContext().SpanID(), publish.Parent().SpanID(), "the outbox row carried the request's span")
	xadd := spanNamed(spans, "redis.pipeline xadd")
	require.NotNil(t, xadd, "the publish's Redis command")
	require.Equal(t, publish.SpanContext().SpanID(), xadd.Parent().SpanID())

	for _, n := range []tracedNode{nodeA, nodeB} {
		mine := n.traceSpans(callerTrace)
		deliveries := spansNamed(mine, "parley.deliver")
		require.Len(t, deliveries, 1, "one delivery on %s", n.id)
		deliver := deliveries[0]
		require.Equal(t, n.id, attr(deliver, "parley.node").AsString())
		require.Equal(t, conv.String(), attr(deliver, "parley.conversation_id").AsString())
		require.Equal(t, seq, attr(deliver, "parley.seq").AsInt64())
		require.Equal(t, int64(1), attr(deliver, "parley.connections").AsInt64(), "one member's socket on %s", n.id)
		require.Equal(t, publish.SpanContext().SpanID(), deliver.Parent().SpanID(), "the stream entry carried the publish's span to %s", n.id)

		write := spanNamed(mine, "parley.socket.write")
		require.Equal(t, deliver.SpanContext().SpanID(), write.Parent().SpanID())
		require.Equal(t, n.id, attr(write, "parley.node").AsString())
		require.Equal(t, seq, attr(write, "parley.seq").AsInt64())
	}

	// The request's log line carries its trace and span ids.
	require.Eventually(t, func() bool {
		for _, line := range logLines(t, nodeA.logs) {
			if line["msg"] == "request" && line["operation"] == "sendMessage" {
				return line["trace_id"] == callerTrace.String() && line["span_id"] == request.SpanContext().SpanID().String()
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}

// logTrace prints the trace as the nodes recorded it, in start order: the shape of one message's
// way, for whoever reads the test log.
func logTrace(t *testing.T, nodeA, nodeB tracedNode, id trace.TraceID) {
	type row struct {
		node string
		span sdktrace.ReadOnlySpan
	}
	var rows []row
	for _, n := range []tracedNode{nodeA, nodeB} {
		for _, s := range n.traceSpans(id) {
			rows = append(rows, row{n.id, s})
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return a.span.StartTime().Compare(b.span.StartTime()) })
	names := map[trace.SpanID]string{}
	for _, r := range rows {
		names[r.span.SpanContext().SpanID()] = r.span.Name()
	}
	t.Logf("trace %s:", id)
	for _, r := range rows {
		parent := names[r.span.Parent().SpanID()]
		if parent == "" {
			parent = "(caller)"
		}
		t.Logf("  %-6s %-26s %8s  parent %s", r.node, r.span.Name(), r.span.EndTime().Sub(r.span.StartTime()).Round(time.Microsecond), parent)
	}
}

// On one node without Redis the local broker carries the trace from the dispatcher to the hub.
func TestOneNodeTracesDeliveryWithoutRedis(t *testing.T) {
	t.Parallel()
	cfg := testConfig(dbtest.NewDatabase(t))
	cfg.Redis.NodeID = "solo"
	node := startTracedNode(t, cfg, "solo")
	alice := apiClient(t, node.base, "alice")
	conv := createGroupVia(t, alice, "bob")
	bob := dialWS(t, node.base, tokenFor(t, "bob"))
	bob.ready(nil)

	msg := sendVia(t, alice, conv, "traced")
	require.Equal(t, msg.Seq, bob.nextEvent(10*time.Second).Seq)
	var send, publish, deliver, write sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		for _, s := range node.spans.Ended() {
			if s.Name() == "sendMessage" {
				spans := node.traceSpans(s.SpanContext().TraceID())
				send, publish = s, spanNamed(spans, "parley.outbox.publish")
				deliver, write = spanNamed(spans, "parley.deliver"), spanNamed(spans, "parley.socket.write")
			}
		}
		return send != nil && publish != nil && deliver != nil && write != nil
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, send.SpanContext().SpanID(), publish.Parent().SpanID())
	require.Equal(t, publish.SpanContext().SpanID(), deliver.Parent().SpanID())
	require.Equal(t, deliver.SpanContext().SpanID(), write.Parent().SpanID())
	require.Equal(t, "solo", attr(deliver, "parley.node").AsString())
	require.Equal(t, msg.Seq, attr(write, "parley.seq").AsInt64())
}

// The outbox row of a change carries the traceparent of the request's span when that span is
// sampled, and nothing otherwise: with tracing off there is no span, and no trace context.
func TestOutboxRowsCarryOnlySampledTraces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := b.createGroup(t, "alice", "bob")

	spanCtx := func(flags trace.TraceFlags) context.Context {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID(uuid.New()), SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: flags,
		})
		return trace.ContextWithSpanContext(as(t, "alice"), sc)
	}
	sampled, unsampled := spanCtx(trace.FlagsSampled), spanCtx(0)
	send := func(ctx context.Context) int64 {
		resp, err := b.h.SendMessage(ctx, apiserver.SendMessageRequestObject{
			ConversationId: conv.Id, Body: &api.SendMessageJSONRequestBody{ClientMsgId: uuid.NewString(), Body: "hi"},
		})
		return expect[apiserver.SendMessage201JSONResponse](t, resp, err).Seq
	}
	untraced, notSampled, traced := send(as(t, "alice")), send(unsampled), send(sampled)
	b.addMember(t, "alice", conv.Id, "carol", api.AddMemberRequestRoleMember) // an event of its own, untraced

	rows, err := b.pool.Query(t.Context(), "SELECT seq, trace_context FROM outbox WHERE conversation_id = $1", conv.Id)
	require.NoError(t, err)
	carried := map[int64]*string{}
	for rows.Next() {
		var seq int64
		var tc *string
		require.NoError(t, rows.Scan(&seq, &tc))
		carried[seq] = tc
	}
	require.NoError(t, rows.Err())
	require.Nil(t, carried[untraced])
	require.Nil(t, carried[notSampled])
	require.NotNil(t, carried[traced])
	require.Equal(t, trace.SpanContextFromContext(sampled).TraceID(), telemetry.ParseTraceParent(*carried[traced]).TraceID())
	require.Equal(t, trace.SpanContextFromContext(sampled).SpanID(), telemetry.ParseTraceParent(*carried[traced]).SpanID())
}
