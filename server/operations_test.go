package server

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

func TestGetMe(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.h.GetMe(as(t, "alice@example"), apiserver.GetMeRequestObject{})
	require.Equal(t, "alice@example", expect[apiserver.GetMe200JSONResponse](t, resp, err).UserId)
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.h.GetHealth(t.Context(), apiserver.GetHealthRequestObject{})
	require.Equal(t, api.HealthReportStatusOk, expect[apiserver.GetHealth200JSONResponse](t, resp, err).Status)
	live, err := b.h.GetLiveness(t.Context(), apiserver.GetLivenessRequestObject{})
	require.Equal(t, api.HealthReportStatusOk, expect[apiserver.GetLiveness200JSONResponse](t, live, err).Status)

	ready, err := b.h.GetReadiness(t.Context(), apiserver.GetReadinessRequestObject{})
	report := expect[apiserver.GetReadiness200JSONResponse](t, ready, err)
	require.Equal(t, api.CheckStatusOk, report.Checks.Postgres)
	require.Equal(t, api.CheckStatusDisabled, report.Checks.Redis)

	b.pool.Close() // the database is gone for this server
	ready, err = b.h.GetReadiness(t.Context(), apiserver.GetReadinessRequestObject{})
	down := expect[apiserver.GetReadiness503JSONResponse](t, ready, err)
	require.Equal(t, api.CheckStatusDown, down.Body.Checks.Postgres)
	require.NotNil(t, down.Headers.RetryAfter)
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.h.GetOpenAPIDocument(t.Context(), apiserver.GetOpenAPIDocumentRequestObject{})
	doc := expect[apiserver.GetOpenAPIDocument200JSONResponse](t, resp, err)
	require.Equal(t, "3.0.3", doc["openapi"])
	require.Contains(t, doc["paths"], "/v1/conversations/{conversation_id}/messages")
}

func TestMetricsComeFromTheServersOwnRegistry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(newPoolCollector(b.pool))
	h, err := NewHandlers(handlerDeps(b.pool, reg, b.live))
	require.NoError(t, err)
	resp, err := h.GetMetrics(t.Context(), apiserver.GetMetricsRequestObject{})
	text := string(expect[apiserver.GetMetrics200TextResponse](t, resp, err))
	require.Contains(t, text, "parley_db_pool_max_connections")
	require.NotContains(t, text, "go_goroutines", "nothing from a global registry")
}
