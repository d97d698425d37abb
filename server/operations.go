package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

// GetMe tells the caller who they are.
func (h *Handlers) GetMe(ctx context.Context, _ apiserver.GetMeRequestObject) (apiserver.GetMeResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	return apiserver.GetMe200JSONResponse{UserId: caller}, nil
}

// GetHealth answers while the process can serve HTTP at all.
func (h *Handlers) GetHealth(context.Context, apiserver.GetHealthRequestObject) (apiserver.GetHealthResponseObject, error) {
	return apiserver.GetHealth200JSONResponse{Status: api.HealthReportStatusOk}, nil
}

// GetLiveness is GetHealth under the name probes often use.
func (h *Handlers) GetLiveness(context.Context, apiserver.GetLivenessRequestObject) (apiserver.GetLivenessResponseObject, error) {
	return apiserver.GetLiveness200JSONResponse{Status: api.HealthReportStatusOk}, nil
}

// GetReadiness checks the dependencies; a load balancer stops sending traffic while it is 503.
// Redis being down only degrades the node: sends still succeed (the outbox holds them), so the
// report says so but the node stays ready.
func (h *Handlers) GetReadiness(ctx context.Context, _ apiserver.GetReadinessRequestObject) (apiserver.GetReadinessResponseObject, error) {
	checks := api.HealthChecks{Postgres: api.CheckStatusOk, Redis: api.CheckStatusDisabled}
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if h.redis != nil {
		checks.Redis = api.CheckStatusOk
		if err := h.redis.Ping(pingCtx); err != nil {
			h.logger.WarnContext(ctx, "readiness: redis is down", "error", err)
			checks.Redis = api.CheckStatusDown
		}
	}
	if err := h.pool.Ping(pingCtx); err != nil {
		h.logger.WarnContext(ctx, "readiness: postgres is down", "error", err)
		checks.Postgres = api.CheckStatusDown
		retry := retryAfterSeconds
		return apiserver.GetReadiness503JSONResponse{
			Body:    api.HealthReport{Status: api.HealthReportStatusUnavailable, Checks: &checks},
			Headers: apiserver.GetReadiness503ResponseHeaders{RetryAfter: &retry},
		}, nil
	}
	status := api.HealthReportStatusOk
	if checks.Redis == api.CheckStatusDown {
		status = api.HealthReportStatusDegraded
	}
	return apiserver.GetReadiness200JSONResponse{Status: status, Checks: &checks}, nil
}

// GetOpenAPIDocument serves api/openapi.yaml itself, as JSON, so a client generated from the
// served document is the client generated from the file.
func (h *Handlers) GetOpenAPIDocument(context.Context, apiserver.GetOpenAPIDocumentRequestObject) (apiserver.GetOpenAPIDocumentResponseObject, error) {
	return h.document, nil
}

// GetMetrics renders this server's own registry in the Prometheus text format.
func (h *Handlers) GetMetrics(context.Context, apiserver.GetMetricsRequestObject) (apiserver.GetMetricsResponseObject, error) {
	families, err := h.gatherer.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather metrics: %w", err)
	}
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("encode metrics: %w", err)
		}
	}
	return apiserver.GetMetrics200TextResponse(b.String()), nil
}
