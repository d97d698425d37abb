package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/devtoken"
)

func claimsFor(user string) jwt.RegisteredClaims {
	now := time.Now()
	return jwt.RegisteredClaims{
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	t.Helper()
	token := jwt.NewWithClaims(method, claims)
	if kid != "" {
		token.Header["kid"] = kid
	}
	s, err := token.SignedString(key)
	require.NoError(t, err)
	return s
}

// startAuthenticator returns a started Authenticator, stopped when the test ends.
func startAuthenticator(tb testing.TB, cfg AuthConfig) *Authenticator {
	tb.Helper()
	auth, err := NewAuthenticator(cfg, discardLogger())
	require.NoError(tb, err)
	require.NoError(tb, auth.Start(context.Background()))
	tb.Cleanup(func() { require.NoError(tb, auth.Stop(context.Background())) })
	return auth
}

func TestHS256Tokens(t *testing.T) {
	t.Parallel()
	secret := []byte(testSecret)
	auth := startAuthenticator(t, AuthConfig{Secret: secret, Issuer: "https://id.example", Audience: "parley"})

	id, err := auth.Authenticate(sign(t, jwt.SigningMethodHS256, secret, "", goodHS256Claims()))
	require.NoError(t, err)
	require.Equal(t, "alice", id.UserID)

	minted, err := devtoken.Issue(secret, "bob", "https://id.example", "parley", time.Minute)
	require.NoError(t, err)
	id, err = auth.Authenticate(minted)
	require.NoError(t, err)
	require.Equal(t, "bob", id.UserID, "parley token mints what serve accepts")

	for _, attacks := range []map[string]func() string{forgedHS256Tokens(t, secret), badClaimsHS256Tokens(t, secret)} {
		for name, token := range attacks {
			_, err := auth.Authenticate(token())
			require.Error(t, err, name)
		}
	}
	_, err = auth.Authenticate(func() string {
		c := goodHS256Claims()
		c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		return sign(t, jwt.SigningMethodHS256, secret, "", c)
	}())
	require.ErrorIs(t, err, errTokenExpired)
}

// goodHS256Claims are claims TestHS256Tokens' Authenticator accepts: alice, for the configured
// issuer and audience, for an hour.
func goodHS256Claims() jwt.RegisteredClaims {
	c := claimsFor("alice")
	c.Issuer = "https://id.example"
	c.Audience = jwt.ClaimStrings{"parley"}
	return c
}

// forgedHS256Tokens make tokens with good claims that are not signed with secret by HS256 as
// they should be, or carry what the signature cannot make acceptable.
func forgedHS256Tokens(t *testing.T, secret []byte) map[string]func() string {
	return map[string]func() string{
		"AlgNone": func() string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", goodHS256Claims())
		},
		"WrongSecret": func() string {
			return sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-enough-length!!"), "", goodHS256Claims())
		},
		"HS512": func() string { return sign(t, jwt.SigningMethodHS512, secret, "", goodHS256Claims()) },
		"Oversized": func() string {
			c := goodHS256Claims()
			c.ID = strings.Repeat("x", 10<<10)
			return sign(t, jwt.SigningMethodHS256, secret, "", c)
		},
		"CriticalExtension": func() string {
			token := jwt.NewWithClaims(jwt.SigningMethodHS256, goodHS256Claims())
			token.Header["crit"] = []string{"exp"}
			signed, err := token.SignedString(secret)
			require.NoError(t, err)
			return signed
		},
		"Truncated": func() string {
			s := sign(t, jwt.SigningMethodHS256, secret, "", goodHS256Claims())
			return s[:len(s)-4]
		},
	}
}

// badClaimsHS256Tokens make tokens properly signed with secret whose claims must be refused.
func badClaimsHS256Tokens(t *testing.T, secret []byte) map[string]func() string {
	withClaims := func(change func(*jwt.RegisteredClaims)) func() string {
		return func() string {
			c := goodHS256Claims()
			change(&c)
			return sign(t, jwt.SigningMethodHS256, secret, "", c)
		}
	}
	return map[string]func() string{
		"Expired": withClaims(func(c *jwt.RegisteredClaims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		}),
		"NotYetValid": withClaims(func(c *jwt.RegisteredClaims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
		}),
		"NoExpiry":          withClaims(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil }),
		"WrongIssuer":       withClaims(func(c *jwt.RegisteredClaims) { c.Issuer = "https://evil.example" }),
		"WrongAudience":     withClaims(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"someone-else"} }),
		"EmptySubject":      withClaims(func(c *jwt.RegisteredClaims) { c.Subject = "" }),
		"SubjectWithSpaces": withClaims(func(c *jwt.RegisteredClaims) { c.Subject = "alice smith" }),
		"SubjectTooLong":    withClaims(func(c *jwt.RegisteredClaims) { c.Subject = strings.Repeat("a", 129) }),
		"ExpiryAsString": func() string {
			return signedToken(sha256.New, hs256Header,
				fmt.Sprintf(`{"sub":"alice","iss":"https://id.example","aud":"parley","exp":"%d"}`, time.Now().Add(time.Hour).Unix()))
		},
		"ClaimNameInOtherCase": func() string {
			return signedToken(sha256.New, hs256Header,
				fmt.Sprintf(`{"SUB":"alice","iss":"https://id.example","aud":"parley","exp":%d}`, time.Now().Add(time.Hour).Unix()))
		},
	}
}

// jwksServer serves a key set that a test can change, counting fetches.
type jwksServer struct {
	mu      sync.Mutex
	keys    []jwkset.JWKMarshal
	fetches int
	*httptest.Server
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.fetches++
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) add(t *testing.T, public any, kid string, alg jwkset.ALG) {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(public, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg}})
	require.NoError(t, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, jwk.Marshal())
}

func (s *jwksServer) fetchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

func TestJWKSTokens(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	edPublic, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)

	jwks := newJWKSServer(t)
	jwks.add(t, rsaKey.Public(), "rsa-1", jwkset.AlgRS256)
	jwks.add(t, ecKey.Public(), "ec-1", jwkset.AlgES256)
	jwks.add(t, edPublic, "ed-1", jwkset.AlgEdDSA)
	// No alg in the set: the key type alone decides which algorithm it verifies.
	jwks.add(t, rsaKey.Public(), "rsa-noalg", "")

	auth := startAuthenticator(t, AuthConfig{JWKSURL: jwks.URL})

	for name, token := range map[string]string{
		"RS256":      sign(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claimsFor("alice")),
		"ES256":      sign(t, jwt.SigningMethodES256, ecKey, "ec-1", claimsFor("alice")),
		"EdDSA":      sign(t, jwt.SigningMethodEdDSA, edKey, "ed-1", claimsFor("alice")),
		"RS256NoAlg": sign(t, jwt.SigningMethodRS256, rsaKey, "rsa-noalg", claimsFor("alice")),
	} {
		id, err := auth.Authenticate(token)
		require.NoError(t, err, name)
		require.Equal(t, "alice", id.UserID, name)
	}

	publicDER, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
	require.NoError(t, err)
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for name, token := range map[string]string{
		// The classic confusion: HMAC keyed with the RSA public key the server publishes.
		"HS256WithRSAPublicKey":      sign(t, jwt.SigningMethodHS256, publicDER, "rsa-1", claimsFor("alice")),
		"HS256WithRSAPublicKeyNoAlg": sign(t, jwt.SigningMethodHS256, publicDER, "rsa-noalg", claimsFor("alice")),
		"PS256OnRSAKey":              sign(t, jwt.SigningMethodPS256, rsaKey, "rsa-noalg", claimsFor("alice")),
		"RS512OnRSAKey":              sign(t, jwt.SigningMethodRS512, rsaKey, "rsa-noalg", claimsFor("alice")),
		"WrongKeyForKid":             sign(t, jwt.SigningMethodRS256, otherRSA, "rsa-1", claimsFor("alice")),
		"AlgNone":                    sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", claimsFor("alice")),
	} {
		_, err := auth.Authenticate(token)
		require.Error(t, err, name)
	}
}

// A token signed with a key the set did not have when it was fetched is accepted once the set
// has it: an unknown kid triggers one refresh, and refreshes for unknown kids are rate limited.
func TestJWKSUnknownKidRefreshesOnceThenRateLimits(t *testing.T) {
	t.Parallel()
	oldKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	newKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks := newJWKSServer(t)
	jwks.add(t, oldKey.Public(), "old", jwkset.AlgES256)

	auth := startAuthenticator(t, AuthConfig{JWKSURL: jwks.URL})
	initial := jwks.fetchCount()

	jwks.add(t, newKey.Public(), "new", jwkset.AlgES256)
	id, err := auth.Authenticate(sign(t, jwt.SigningMethodES256, newKey, "new", claimsFor("carol")))
	require.NoError(t, err, "the rotated key is picked up by the unknown-kid refresh")
	require.Equal(t, "carol", id.UserID)
	require.Equal(t, initial+1, jwks.fetchCount())

	for range 5 {
		_, err := auth.Authenticate(sign(t, jwt.SigningMethodES256, newKey, "nobody-has-this", claimsFor("carol")))
		require.Error(t, err)
	}
	require.Equal(t, initial+1, jwks.fetchCount(), "unknown kids do not hammer the identity provider")
}
