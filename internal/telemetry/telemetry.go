// Package telemetry builds Parley's OpenTelemetry tracing from the standard OTEL_* environment
// variables, and holds the small pieces the rest of the code shares: the W3C trace context an
// outbox row and a stream entry carry, the tracer provider that only continues traces, and the log
// handler that puts trace ids on log lines. Nothing here is global: the provider is built once, at
// start, and passed to what traces.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say
// otherwise.
const DefaultServiceName = "parley"

// Enabled reports whether the environment asks for traces: an exporter or an OTLP endpoint is
// named (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
// and the SDK is not disabled (OTEL_SDK_DISABLED=true). Other OTEL_* variables alone (a service
// name, a sampler) tune tracing but do not turn it on: a deployment that sets none of these pays
// nothing for it.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	for _, name := range []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		if strings.TrimSpace(getenv(name)) != "" {
			return true
		}
	}
	return false
}

// NewTracerProvider builds the tracer provider the environment describes, or returns nil when
// tracing is off (see Enabled). Spans go through a batch processor (tuned by OTEL_BSP_*) to the
// exporter OTEL_TRACES_EXPORTER names (console writes to console); sampling follows
// OTEL_TRACES_SAMPLER (default: sample what the caller sampled, and every new trace). The resource is service.name "parley" and
// service.instance.id nodeID, unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
// getenv decides whether tracing is on and which exporter it uses; the SDK and the OTLP exporters
// read their own settings (endpoint, headers, sampler, resource) from the process environment.
// The caller owns the provider and shuts it down, which flushes what is buffered.
func NewTracerProvider(ctx context.Context, getenv func(string) string, console io.Writer, nodeID string) (*sdktrace.TracerProvider, error) {
	if !Enabled(getenv) {
		return nil, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(DefaultServiceName), semconv.ServiceInstanceID(nodeID)),
		resource.WithFromEnv(), // after the defaults, so that the environment wins
		resource.WithTelemetrySDK(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	// Making an exporter sends nothing yet; a start cancelled meanwhile is the caller's to notice.
	exporter, err := newSpanExporter(context.WithoutCancel(ctx), getenv, console)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if exporter != nil {
		opts = append(opts, sdktrace.WithBatcher(exporter))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}
