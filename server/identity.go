package server

import (
	"context"
	"time"
)

// Identity is the authenticated caller: the token's subject and when the token expires.
type Identity struct {
	UserID    string
	ExpiresAt time.Time
}

type identityKey struct{}

// WithIdentity returns a context that carries the authenticated caller. The auth middleware uses it
// for every /v1 request.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// WithUserID is WithIdentity for a caller whose token never expires; tests use it to call handlers
// directly.
func WithUserID(ctx context.Context, userID string) context.Context {
	return WithIdentity(ctx, Identity{UserID: userID})
}

// IdentityFrom returns the caller, and false when the context carries none.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok && id.UserID != ""
}

// UserIDFrom returns the caller's user id, and false when the context carries none.
func UserIDFrom(ctx context.Context) (string, bool) {
	id, ok := IdentityFrom(ctx)
	return id.UserID, ok
}
