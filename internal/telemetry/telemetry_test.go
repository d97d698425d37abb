package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// Tracing is on when an exporter or an OTLP endpoint is named, and the SDK is not disabled;
// other OTEL_* variables alone leave it off.
func TestTracingIsOnOnlyWhenAnExporterIsNamed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		vars map[string]string
		on   bool
	}{
		{nil, false},
		{map[string]string{"OTEL_SERVICE_NAME": "chat", "OTEL_TRACES_SAMPLER": "always_on"}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "false"}, true},
	} {
		require.Equal(t, c.on, Enabled(env(c.vars)), "%v", c.vars)
	}
}

func TestNoProviderWhenTracingIsOff(t *testing.T) {
	t.Parallel()
	tp, err := NewTracerProvider(t.Context(), env(nil), io.Discard, "node-1")
	require.NoError(t, err)
	require.Nil(t, tp)
}

// The resource names the service parley and the node, unless the environment says otherwise.
func TestProviderResourceNamesServiceAndNode(t *testing.T) {
	t.Parallel()
	resourceOf := func(vars map[string]string) map[attribute.Key]string {
		tp, err := NewTracerProvider(t.Context(), env(vars), io.Discard, "node-1")
		require.NoError(t, err)
		require.NotNil(t, tp)
		t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
		rec := tracetest.NewSpanRecorder()
		tp.RegisterSpanProcessor(rec)
		_, span := tp.Tracer("test").Start(t.Context(), "x")
		span.End()
		out := map[attribute.Key]string{}
		for _, kv := range rec.Ended()[0].Resource().Attributes() {
			out[kv.Key] = kv.Value.Emit()
		}
		return out
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read from the process environment by
	// the SDK, so this test sets neither: it checks the defaults.
	got := resourceOf(map[string]string{"OTEL_TRACES_EXPORTER": "none"})
	require.Equal(t, "parley", got["service.name"])
	require.Equal(t, "node-1", got["service.instance.id"])
}

func TestUnknownExporterIsRefused(t *testing.T) {
	t.Parallel()
	_, err := NewTracerProvider(t.Context(), env(map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}), io.Discard, "n")
	require.ErrorContains(t, err, `OTEL_TRACES_EXPORTER "zipkin"`)
	_, err = NewTracerProvider(t.Context(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}), io.Discard, "n")
	require.ErrorContains(t, err, `"http/json"`)
}

// An OTLP exporter to an endpoint that does not answer does not fail the start, and its shutdown
// ends once the export's timeout has passed. (The exporters read their endpoint and timeout from
// the process environment.)
func TestOTLPToNowhereStartsAndStops(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200") // milliseconds
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
		tp, err := NewTracerProvider(t.Context(), os.Getenv, io.Discard, "n")
		require.NoError(t, err, protocol)
		_, span := tp.Tracer("test").Start(t.Context(), "x")
		span.End()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		start := time.Now()
		require.NoError(t, tp.Shutdown(ctx), protocol) // the export fails: it is logged, not returned
		cancel()
		require.Less(t, time.Since(start), 5*time.Second, protocol)
	}
}

func TestTraceParentRoundTrip(t *testing.T) {
	t.Parallel()
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(t.Context(), sc)
	require.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TraceParent(ctx))
	back := ParseTraceParent(TraceParent(ctx))
	require.Equal(t, sc.TraceID(), back.TraceID())
	require.Equal(t, sc.SpanID(), back.SpanID())
	require.True(t, back.IsSampled())
	require.True(t, back.IsRemote())

	require.Empty(t, TraceParent(t.Context()), "no span")
	require.Empty(t, TraceParent(trace.ContextWithSpanContext(t.Context(), sc.WithTraceFlags(0))), "not sampled")
	require.False(t, ParseTraceParent("").IsValid())
	require.False(t, ParseTraceParent("garbage").IsValid())
}

// Tracers of a WithinTraces provider continue traces and never start one.
func TestWithinTracesStartsNoTrace(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	within := WithinTraces(tp).Tracer("db")

	ctx, orphan := within.Start(t.Context(), "background query")
	require.False(t, orphan.IsRecording())
	require.False(t, trace.SpanContextFromContext(ctx).IsValid())
	orphan.End()

	ctx, parent := tp.Tracer("http").Start(t.Context(), "request")
	_, child := within.Start(ctx, "query")
	child.End()
	parent.End()
	ended := rec.Ended()
	require.Len(t, ended, 2)
	require.Equal(t, "query", ended[0].Name())
	require.Equal(t, parent.SpanContext().SpanID(), ended[0].Parent().SpanID())
}

// A log line written with a span's context carries its trace and span ids; one without, none.
func TestLogLinesCarryTheTraceID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})

	logger.InfoContext(trace.ContextWithSpanContext(t.Context(), sc), "traced", "n", 1)
	logger.InfoContext(t.Context(), "untraced")
	dec := json.NewDecoder(&buf)
	var traced, untraced map[string]any
	require.NoError(t, dec.Decode(&traced))
	require.NoError(t, dec.Decode(&untraced))
	require.Equal(t, sc.TraceID().String(), traced["trace_id"])
	require.Equal(t, sc.SpanID().String(), traced["span_id"])
	require.Equal(t, "test", traced["component"])
	require.NotContains(t, untraced, "trace_id")
}
