package devtoken

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, secret []byte, token string) jwt.RegisteredClaims {
	t.Helper()
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	require.NoError(t, err)
	return claims
}

func TestIssueSignsWhatTheServerChecks(t *testing.T) {
	t.Parallel()
	secret := []byte("a-development-secret-of-32-bytes!")
	token, err := Issue(secret, "alice@example.com", "https://id.example", "parley", time.Minute)
	require.NoError(t, err)
	claims := parse(t, secret, token)
	require.Equal(t, "alice@example.com", claims.Subject)
	require.Equal(t, "https://id.example", claims.Issuer)
	require.Equal(t, jwt.ClaimStrings{"parley"}, claims.Audience)
	require.WithinDuration(t, time.Now().Add(time.Minute), claims.ExpiresAt.Time, 2*time.Second)

	token, err = Issue(secret, "bob", "", "", time.Hour)
	require.NoError(t, err)
	claims = parse(t, secret, token)
	require.Empty(t, claims.Issuer)
	require.Empty(t, claims.Audience, "no audience claim unless one is asked for")
}

func TestIssueRefusesUserIDsTheServerRefuses(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "has space", "slash/es", strings.Repeat("a", 129)} {
		_, err := Issue([]byte("secret"), id, "", "", time.Minute)
		require.ErrorContains(t, err, "want 1-128 of", id)
	}
	require.NoError(t, CheckUserID("bench-b1a2c3-u999"))
}

func TestLocalSecretIsCreatedOnceAndKept(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	first, err := LocalSecret()
	require.NoError(t, err)
	require.Len(t, first, 2*secretBytes)
	again, err := LocalSecret()
	require.NoError(t, err)
	require.Equal(t, first, again, "serve --dev and token must agree on the secret")

	dir, err := os.UserConfigDir()
	require.NoError(t, err)
	info, err := os.Stat(filepath.Join(dir, "parley", "dev-secret"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "no one else on the machine may read it")
}

func TestLocalSecretReplacesATooShortFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "parley", "dev-secret")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte("short"), 0o600))
	secret, err := secretAt(path)
	require.NoError(t, err)
	require.Len(t, secret, 2*secretBytes)
	stored, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, secret, stored)
}
