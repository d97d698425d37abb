package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// WithinTraces wraps a provider so that its tracers only continue traces: a span is started when
// the context already holds a valid span, and otherwise the context is returned as it is, with a
// span that records nothing. The PostgreSQL and Redis instrumentation get it, so that queries and
// commands show up inside the traces of requests and deliveries, and the background loops (the
// stream reads that block for a second, the dispatcher's polls, heartbeats) do not start a trace
// of their own many times a second.
func WithinTraces(tp trace.TracerProvider) trace.TracerProvider { return withinTraces{tp: tp} }

type withinTraces struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p withinTraces) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{t: p.tp.Tracer(name, opts...)}
}

type childTracer struct {
	embedded.Tracer
	t trace.Tracer
}

func (t childTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx) // the no-op span of a context without one
	}
	return t.t.Start(ctx, name, opts...)
}
