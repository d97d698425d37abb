package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"

	"github.com/jackc/pgx/v5/pgconn"
)

// recoverer turns a panic in a handler into a logged 500, so one bad request cannot take the
// process down.
func recoverer(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				if rec == http.ErrAbortHandler {
					panic(rec)
				}
				logger.ErrorContext(r.Context(), "handler panicked", "method", r.Method, "path", r.URL.Path, "panic", rec, "stack", string(debug.Stack()))
				writeProblem(w, newProblem(http.StatusInternalServerError, "internal_error", "An unexpected error occurred; it has been logged."))
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// dependencyUnavailable reports whether err means PostgreSQL could not be reached or dropped the
// connection, which is worth retrying, rather than a bug.
func dependencyUnavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; class 57P: the server is shutting down or starting.
		return len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:3] == "57P")
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}
