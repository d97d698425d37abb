package server

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A token verified once is taken on trust for a minute at most (a key withdrawn meanwhile stops
// verifying within that minute), and never past its exp with the leeway: then it is refused as
// expired, cached or not.
func TestVerifiedTokensAreCachedAMinuteAndNeverPastTheirExpiry(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	secret := []byte("a-secret-for-the-token-cache-test")
	a, err := newAuthenticator(AuthConfig{Secret: secret}, discardLogger(), clock.Now)
	require.NoError(t, err)
	token := sign(t, jwt.SigningMethodHS256, secret, "", jwt.RegisteredClaims{
		Subject: "alice", ExpiresAt: jwt.NewNumericDate(clock.Now().Add(2 * time.Minute)),
	})

	id, err := a.Authenticate(token)
	require.NoError(t, err)
	require.Equal(t, "alice", id.UserID)

	// The key is withdrawn: the token is still taken, from the cache, for the rest of the minute.
	withdrawn := errors.New("key withdrawn")
	a.keyfunc = func(*jwt.Token) (any, error) { return nil, withdrawn }
	clock.advance(59 * time.Second)
	_, err = a.Authenticate(token)
	require.NoError(t, err, "within the minute: from the cache")
	clock.advance(2 * time.Second)
	_, err = a.Authenticate(token)
	require.ErrorIs(t, err, withdrawn, "past the minute: verified again, and refused")

	// The key is back; verified again at 2m01s, within exp + leeway, so cached until then.
	a.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
	clock.advance(time.Minute)
	_, err = a.Authenticate(token)
	require.NoError(t, err)
	clock.advance(tokenLeeway) // past exp + leeway
	_, err = a.Authenticate(token)
	require.ErrorIs(t, err, errTokenExpired)
}
