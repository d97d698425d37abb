package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The W3C traceparent header is the form in which a span's context crosses PostgreSQL (the outbox
// row) and Redis (the stream entry).

// TraceParent is the W3C traceparent of ctx's span when that span is sampled, else "": only a
// trace that is being recorded is worth carrying onwards.
func TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() {
		return ""
	}
	return FormatTraceParent(sc)
}

// FormatTraceParent is the W3C traceparent (version 00) of a valid span context, else "".
func FormatTraceParent(sc trace.SpanContext) string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	return carrier["traceparent"]
}

// ParseTraceParent is the remote span context a traceparent names; an invalid one (or "") gives
// the zero SpanContext, whose IsValid is false.
func ParseTraceParent(traceparent string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	return trace.SpanContextFromContext(ctx)
}

// Propagator is the W3C trace context propagator, for incoming traceparent headers.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }
