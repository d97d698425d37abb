package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// logRequests writes a debug line for each request: its operation, status and duration, with the
// request's context, so that, traced, the line carries the trace id. Unless the logger takes
// debug lines it costs one check per request.
func logRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !logger.Enabled(r.Context(), slog.LevelDebug) {
				next.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			operation := "unmatched"
			if op := operationFrom(r.Context()); op != nil {
				operation = op.id
			}
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			logger.DebugContext(r.Context(), "request", "operation", operation, "method", r.Method,
				"path", r.URL.Path, "status", status, "duration", time.Since(start))
		})
	}
}
