package telemetry

import (
	"context"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newSpanExporter is the exporter OTEL_TRACES_EXPORTER names: otlp (the default), console, or
// none (spans are made and sampled but go nowhere: for measuring what tracing costs). OTLP speaks
// the protocol OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL names,
// http/protobuf by default, and reads its endpoint, headers, timeout and TLS settings from the
// OTEL_EXPORTER_OTLP_* variables itself. Only the trace exporters are linked in, not a
// metrics or logs pipeline Parley does not use (its metrics are Prometheus).
func newSpanExporter(ctx context.Context, getenv func(string) string, console io.Writer) (sdktrace.SpanExporter, error) {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")))
	switch name {
	case "", "otlp":
		protocol := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
		if protocol == "" {
			protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
		}
		switch protocol {
		case "", "http/protobuf":
			exp, err := otlptracehttp.New(ctx)
			if err != nil {
				return nil, fmt.Errorf("OTLP/HTTP trace exporter: %w", err)
			}
			return exp, nil
		case "grpc":
			exp, err := otlptracegrpc.New(ctx)
			if err != nil {
				return nil, fmt.Errorf("OTLP/gRPC trace exporter: %w", err)
			}
			return exp, nil
		default:
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: want http/protobuf or grpc", protocol)
		}
	case "console":
		exp, err := stdouttrace.New(stdouttrace.WithWriter(console))
		if err != nil {
			return nil, fmt.Errorf("console trace exporter: %w", err)
		}
		return exp, nil
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want otlp, console or none", name)
	}
}
