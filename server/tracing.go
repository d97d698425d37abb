package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/internal/telemetry"
)

// tracerName names the HTTP spans' instrumentation scope.
const tracerName = "github.com/parleyhq/parley/server"

// traceRequests gives every request a server span named after the OpenAPI operation it is for
// (sendMessage, getWebSocket…), continuing the trace of an incoming W3C traceparent header. It
// runs after the operation is resolved and before everything else, so that what answers early
// (401, 429, 400) is traced too, and the handler's queries are children of the span.
func traceRequests(provider trace.TracerProvider) func(http.Handler) http.Handler {
	tracer := provider.Tracer(tracerName)
	propagator := telemetry.Propagator()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			name, route := "unmatched", ""
			if op := operationFrom(ctx); op != nil {
				name, route = op.id, op.path
			}
			attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path)}
			if route != "" {
				attrs = append(attrs, semconv.HTTPRoute(route))
			}
			ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
			defer span.End()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r.WithContext(ctx))
			status := responseStatus(ww)
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
			if status >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		})
	}
}

// pgTracer is the pgx tracer of a traced node: a span for each query, batch and connection
// acquire inside a trace, named after the sqlc query (MessageSend, OutboxClaim…). Its metrics go
// nowhere: the pool's are Prometheus (poolCollector).
func pgTracer(provider trace.TracerProvider) pgx.QueryTracer {
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(telemetry.WithinTraces(provider)),
		otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelpgx.WithSpanNameCtxFunc(sqlcQueryName),
		otelpgx.WithDisableConnectionDetailsInAttributes(),
	)
}

// sqlcQueryName is the name sqlc put in a query's first line ("-- name: MessageSend :one"),
// or the SQL's first keyword for SQL that is not sqlc's.
func sqlcQueryName(ctx context.Context, sql string) string {
	const prefix = "-- name: "
	if rest, ok := strings.CutPrefix(sql, prefix); ok {
		if name, _, ok := strings.Cut(rest, " "); ok && name != "" {
			return name
		}
	}
	return otelpgx.SQLOperationName(ctx, sql)
}

// traceRedis adds a span for each Redis command or pipeline run inside a trace. Commands go
// without their arguments: a stream entry's would be the message itself.
func traceRedis(client *redis.Client, provider trace.TracerProvider) error {
	if err := redisotel.InstrumentTracing(client,
		redisotel.WithTracerProvider(telemetry.WithinTraces(provider)),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
	); err != nil {
		return fmt.Errorf("trace redis commands: %w", err)
	}
	return nil
}

// shutdownTracing flushes and stops the provider when it is one that can (the SDK's is).
func shutdownTracing(ctx context.Context, provider trace.TracerProvider) error {
	if p, ok := provider.(interface{ Shutdown(context.Context) error }); ok {
		if err := p.Shutdown(ctx); err != nil {
			return fmt.Errorf("flush traces: %w", err)
		}
	}
	return nil
}

// traceContext is what an outbox row written under ctx carries of its trace: the traceparent of
// the request's span when it is sampled, so the event's delivery continues that trace; nil (NULL)
// otherwise.
func traceContext(ctx context.Context) *string {
	tp := telemetry.TraceParent(ctx)
	if tp == "" {
		return nil
	}
	return &tp
}
