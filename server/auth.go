package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/parleyhq/parley/internal/userid"
)

// AuthConfig says how bearer tokens are verified: with the keys of a JWKS URL (RS256, ES256,
// EdDSA) or with a shared HS256 secret. Issuer and audience are checked when set.
type AuthConfig struct {
	JWKSURL  string
	Secret   []byte
	Issuer   string
	Audience string
}

// maxTokenBytes bounds the work an unauthenticated request can cause.
const maxTokenBytes = 8 << 10

const (
	// tokenLeeway is the clock skew allowed on exp and nbf.
	tokenLeeway = 30 * time.Second
	// verifiedTokens and verifiedTokenTTL bound the cache of tokens verified already: a client
	// sends the same token with each request and each handshake, and verifying it (base64, JSON,
	// the signature) was a tenth of a send's CPU. An entry lasts a minute at most, and never past
	// the token's exp; so a key removed from the JWKS stops verifying within a minute.
	verifiedTokens   = 10_000
	verifiedTokenTTL = time.Minute
)

// Authenticator verifies bearer tokens. It is a lifecycle service: with a JWKS URL, Start fetches
// the key set, which is then kept cached and refreshed in the background (hourly, and at most
// every 30 s for an unknown kid) until Stop; with a secret, Start and Stop have nothing to do.
type Authenticator struct {
	parser   *jwt.Parser
	keyfunc  jwt.Keyfunc
	jwks     *jwksKeys // nil with a secret
	now      func() time.Time
	verified *lru.Cache[string, verifiedToken]
}

// verifiedToken is a token verified already, and until when that holds.
type verifiedToken struct {
	id    Identity
	until time.Time
}

// NewAuthenticator builds a stopped Authenticator.
func NewAuthenticator(cfg AuthConfig, logger *slog.Logger) (*Authenticator, error) {
	return newAuthenticator(cfg, logger, time.Now)
}

// newAuthenticator is NewAuthenticator on the clock now.
func newAuthenticator(cfg AuthConfig, logger *slog.Logger, now func() time.Time) (*Authenticator, error) {
	opts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithLeeway(tokenLeeway), jwt.WithTimeFunc(now)}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	verified, err := lru.New[string, verifiedToken](verifiedTokens)
	if err != nil {
		return nil, fmt.Errorf("verified-token cache: %w", err)
	}
	a := &Authenticator{now: now, verified: verified}
	switch {
	case cfg.JWKSURL != "":
		a.jwks = newJWKSKeys(cfg.JWKSURL, logger)
		a.keyfunc = refuseCritical(pinAlgorithm(a.jwks.Keyfunc))
		opts = append(opts, jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}))
	case len(cfg.Secret) > 0:
		secret := cfg.Secret
		a.keyfunc = refuseCritical(func(*jwt.Token) (any, error) { return secret, nil })
		opts = append(opts, jwt.WithValidMethods([]string{"HS256"}))
	default:
		return nil, errors.New("no token verification configured: set a JWKS URL or a secret")
	}
	a.parser = jwt.NewParser(opts...)
	return a, nil
}

// refuseCritical refuses tokens whose header lists critical extensions ("crit"): Parley
// understands none, and RFC 7515 says such a token must then be refused, not verified.
func refuseCritical(next jwt.Keyfunc) jwt.Keyfunc {
	return func(token *jwt.Token) (any, error) {
		if _, ok := token.Header["crit"]; ok {
			return nil, errors.New("token header names critical extensions (crit), which are not supported")
		}
		return next(token)
	}
}

// pinAlgorithm accepts a token only with the algorithm its key is for, whatever the JWKS entry
// says, so no key can verify a token made for another algorithm.
func pinAlgorithm(next jwt.Keyfunc) jwt.Keyfunc {
	return func(token *jwt.Token) (any, error) {
		key, err := next(token)
		if err != nil {
			return nil, err
		}
		var want string
		switch key.(type) {
		case *rsa.PublicKey:
			want = "RS256"
		case *ecdsa.PublicKey:
			want = "ES256"
		case ed25519.PublicKey:
			want = "EdDSA"
		default:
			// A key set without kid verifies against every key; golang-jwt checks each one's type.
			if _, ok := key.(jwt.VerificationKeySet); ok {
				return key, nil
			}
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		if token.Method.Alg() != want {
			return nil, fmt.Errorf("token alg %s does not match its %s key", token.Method.Alg(), want)
		}
		return key, nil
	}
}

// strictClaims are the registered claims read as RFC 7519 writes them. encoding/json alone would
// take "SUB" for "sub" and the string "1795783027" for the date 1795783027.
type strictClaims struct {
	jwt.RegisteredClaims
}

func (c *strictClaims) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	for name, value := range raw {
		switch lower := strings.ToLower(name); lower {
		case "iss", "sub", "aud", "exp", "nbf", "iat", "jti":
			if name != lower {
				return fmt.Errorf("claim %q: claim names are case-sensitive", name)
			}
		}
		switch name {
		case "exp", "nbf", "iat":
			if len(value) == 0 || (value[0] != '-' && (value[0] < '0' || value[0] > '9')) {
				return fmt.Errorf("claim %s is not a number", name)
			}
		}
	}
	return json.Unmarshal(data, &c.RegisteredClaims)
}

// Start fetches the JWKS key set, when there is one, and starts its refresh.
func (a *Authenticator) Start(ctx context.Context) error {
	if a.jwks == nil {
		return nil
	}
	return a.jwks.Start(ctx)
}

// Stop ends the JWKS refresh and waits for it.
func (a *Authenticator) Stop(ctx context.Context) error {
	if a.jwks == nil {
		return nil
	}
	return a.jwks.Stop(ctx)
}

// errTokenExpired is told to the client: it means "get a new token", not "you are an impostor".
var errTokenExpired = errors.New("token expired")

// Authenticate verifies a token, or finds it verified already, and returns the caller it names.
func (a *Authenticator) Authenticate(token string) (Identity, error) {
	if len(token) > maxTokenBytes {
		return Identity{}, errors.New("token too large")
	}
	now := a.now()
	if v, ok := a.verified.Get(token); ok && now.Before(v.until) {
		return v.id, nil
	}
	id, err := a.verify(token)
	if err == nil {
		a.verified.Add(token, verifiedToken{id: id, until: minTime(now.Add(verifiedTokenTTL), id.ExpiresAt.Add(tokenLeeway))})
	}
	return id, err
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// verify checks a token's signature and claims.
func (a *Authenticator) verify(token string) (Identity, error) {
	var claims strictClaims
	if _, err := a.parser.ParseWithClaims(token, &claims, a.keyfunc); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Identity{}, errTokenExpired
		}
		return Identity{}, fmt.Errorf("verify token: %w", err)
	}
	if !userid.Valid(claims.Subject) {
		return Identity{}, errors.New("token sub is not a valid user id")
	}
	return Identity{UserID: claims.Subject, ExpiresAt: claims.ExpiresAt.Time}, nil
}

// Middleware authenticates every request whose operation's security asks for a bearer token, and
// puts the caller into its context. A request that was not routed to an operation needs a token
// too: when unsure, refuse.
func (a *Authenticator) Middleware(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			op := operationFrom(r.Context())
			if op != nil && !op.bearer {
				next.ServeHTTP(w, r)
				return
			}
			token, ok := bearerToken(r)
			if !ok && op != nil && op.tokenParam != "" {
				token = r.URL.Query().Get(op.tokenParam)
				ok = token != ""
			}
			if !ok {
				writeProblem(w, newProblem(http.StatusUnauthorized, "unauthorized", "An Authorization: Bearer token is required."))
				return
			}
			id, err := a.Authenticate(token)
			if errors.Is(err, errTokenExpired) {
				writeProblem(w, newProblem(http.StatusUnauthorized, "token_expired", "The token has expired."))
				return
			}
			if err != nil {
				// The reason goes to the log only: it helps operators, and would help attackers.
				logger.InfoContext(r.Context(), "rejected token", "reason", err)
				writeProblem(w, newProblem(http.StatusUnauthorized, "invalid_token", "The token is not valid."))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}

func bearerToken(r *http.Request) (string, bool) {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
