package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics counts and times requests by route template (never by raw path, which would give
// every conversation its own series), and logs each at debug level.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	logger   *slog.Logger
}

func newHTTPMetrics(reg prometheus.Registerer, logger *slog.Logger) *httpMetrics {
	m := &httpMetrics{logger: logger,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total",
			Help: "HTTP requests by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_http_request_duration_seconds",
			Help:    "HTTP request durations by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// middleware records every request under the path template of the operation the router matched:
// a request that middleware answered before the handler (401, 400, 413…) is still labelled with
// its route, and one for no operation is "unmatched". It also writes a debug line for each, with
// the request's context, so that, traced, the line carries the trace id; unless the logger takes
// debug lines that costs one check.
func (m *httpMetrics) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		elapsed := time.Since(start)
		route, operation := "unmatched", "unmatched"
		if op := operationFrom(r.Context()); op != nil {
			route, operation = op.path, op.id
		}
		status := responseStatus(ww)
		m.requests.WithLabelValues(r.Method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(r.Method, route).Observe(elapsed.Seconds())
		if m.logger.Enabled(r.Context(), slog.LevelDebug) {
			m.logger.DebugContext(r.Context(), "request", "operation", operation, "method", r.Method,
				"path", r.URL.Path, "status", status, "duration", elapsed)
		}
	})
}

// responseStatus is the status a wrapped response was answered with: 200 when the handler wrote
// without setting one.
func responseStatus(ww middleware.WrapResponseWriter) int {
	if status := ww.Status(); status != 0 {
		return status
	}
	return http.StatusOK
}

// poolCollector reads pgxpool statistics when Prometheus scrapes, so no timer polls them.
type poolCollector struct {
	pool *pgxpool.Pool

	total, idle, acquired, max        *prometheus.Desc
	acquires, emptyAcquires, newConns *prometheus.Desc
	acquireSeconds, canceledAcquires  *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("parley_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:             pool,
		total:            d("connections", "Connections open in the pool."),
		idle:             d("idle_connections", "Idle connections in the pool."),
		acquired:         d("acquired_connections", "Connections in use."),
		max:              d("max_connections", "The pool's connection limit."),
		acquires:         d("acquires_total", "Connections acquired from the pool."),
		emptyAcquires:    d("empty_acquires_total", "Acquires that had to wait for or open a connection."),
		newConns:         d("new_connections_total", "Connections opened."),
		acquireSeconds:   d("acquire_seconds_total", "Time spent waiting for connections."),
		canceledAcquires: d("canceled_acquires_total", "Acquires cancelled by their context."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquires, c.emptyAcquires, c.newConns, c.acquireSeconds, c.canceledAcquires} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.newConns, float64(s.NewConnsCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
}
