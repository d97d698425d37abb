package server

import "context"

type userIDKey struct{}

// WithUserID returns a context that carries the authenticated caller's user id. The auth
// middleware uses it for every /v1 request; tests use it to call handlers directly.
func WithUserID(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, userIDKey{}, userID)
}

// UserIDFrom returns the caller's user id, and false when the context carries none.
func UserIDFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(userIDKey{}).(string)
	return id, ok && id != ""
}
