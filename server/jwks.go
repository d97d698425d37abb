package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/internal/lifecycle"
)

const (
	// jwksRefreshInterval refreshes the key set, so revoked keys go.
	jwksRefreshInterval = time.Hour
	// jwksTimeout bounds one fetch of the key set, and a token's wait for a refresh.
	jwksTimeout = 5 * time.Second
)

// jwksKeys is the identity provider's key set, cached in memory: fetched at Start (a failure is
// logged, so Parley starts while the provider is down), refreshed hourly by a goroutine Stop waits
// for, and at most every 30 s when a token names an unknown kid.
type jwksKeys struct {
	url    string
	logger *slog.Logger
	store  jwkset.Storage
	// keyfunc is set once Start has made the HTTP-backed key set.
	keyfunc atomic.Pointer[keyfunc.Keyfunc]
	life    lifecycle.Base
}

func newJWKSKeys(url string, logger *slog.Logger) *jwksKeys {
	return &jwksKeys{url: url, logger: logger, store: jwkset.NewMemoryStorage()}
}

var errKeysNotLoaded = errors.New("the key set is not loaded: the authenticator has not started")

// Keyfunc finds the key that verifies a token.
func (k *jwksKeys) Keyfunc(token *jwt.Token) (any, error) {
	kf := k.keyfunc.Load()
	if kf == nil {
		return nil, errKeysNotLoaded
	}
	return (*kf).Keyfunc(token)
}

// Start fetches the key set and starts the hourly refresh.
func (k *jwksKeys) Start(ctx context.Context) error {
	return k.life.Start("JWKS refresh", func(run *lifecycle.Run) error {
		remote, err := k.fetch(ctx)
		if err != nil {
			return err
		}
		client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
			HTTPURLs:          map[string]jwkset.Storage{k.url: remote},
			RefreshUnknownKID: rate.NewLimiter(rate.Every(30*time.Second), 1),
			// Bounds both the wait for the limiter and the refresh itself: while refreshes are
			// rate limited, a token with an unknown kid fails at once instead of waiting.
			RateLimitWaitMax: jwksTimeout,
		})
		if err != nil {
			return fmt.Errorf("JWKS client: %w", err)
		}
		kf, err := keyfunc.New(keyfunc.Options{Storage: client})
		if err != nil {
			return fmt.Errorf("JWKS keyfunc: %w", err)
		}
		k.keyfunc.Store(&kf)
		run.Go(func(ctx context.Context) {
			// A failure is logged, and the cached keys stay.
			lifecycle.Every(ctx, jwksRefreshInterval, func(ctx context.Context) { _, _ = k.fetch(ctx) })
		})
		return nil
	})
}

// Stop ends the refresh and waits for it.
func (k *jwksKeys) Stop(ctx context.Context) error { return k.life.Stop(ctx, nil) }

// fetch reads the key set into the cache. NewStorageFromHTTP without a refresh interval fetches
// once and starts nothing: the library's fetch, run by a goroutine that this type owns.
func (k *jwksKeys) fetch(ctx context.Context) (jwkset.Storage, error) {
	remote, err := jwkset.NewStorageFromHTTP(k.url, jwkset.HTTPClientStorageOptions{
		Ctx:                       ctx,
		Storage:                   k.store,
		HTTPTimeout:               jwksTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler: func(ctx context.Context, err error) {
			k.logger.ErrorContext(ctx, "refresh JWKS", "url", k.url, "error", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS at %s: %w", k.url, err)
	}
	return remote, nil
}
