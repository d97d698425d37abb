package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/internal/lifecycle/lifecycletest"
)

// A JWKS authenticator is a service like the others: started and stopped many times from several
// goroutines, it fetches the key set on every start, verifies tokens while running, and leaves no
// refresh goroutine behind (goleak in TestMain).
func TestJWKSAuthenticatorStartsAndStopsConcurrently(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks := newJWKSServer(t)
	jwks.add(t, key.Public(), "ec-1", jwkset.AlgES256)
	auth, err := NewAuthenticator(AuthConfig{JWKSURL: jwks.URL}, discardLogger())
	require.NoError(t, err)
	token := sign(t, jwt.SigningMethodES256, key, "ec-1", claimsFor("alice"))
	_, err = auth.Authenticate(token)
	require.ErrorIs(t, err, errKeysNotLoaded, "no keys before the first start")
	require.Zero(t, jwks.fetchCount(), "constructing fetches nothing")

	lifecycletest.StartStopConcurrently(t, auth, 4, 10)
	require.NotZero(t, jwks.fetchCount())

	require.NoError(t, auth.Start(context.Background()))
	id, err := auth.Authenticate(token)
	require.NoError(t, err)
	require.Equal(t, "alice", id.UserID)
	require.NoError(t, auth.Stop(context.Background()))
}
