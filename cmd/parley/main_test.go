package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server"
)

// These tests change the environment, so they do not run in parallel.

func runParley(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

func TestTokenFromDevSecretVerifiesWithServeDev(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("PARLEY_JWT_SECRET", "")
	out, err := runParley(t, "token", "alice")
	require.NoError(t, err)
	token := strings.TrimSpace(out)

	flags := authFlags{dev: true}
	cfg, err := flags.config()
	require.NoError(t, err)
	auth, err := server.NewAuthenticator(cfg, discardLogger())
	require.NoError(t, err)
	id, err := auth.Authenticate(token)
	require.NoError(t, err)
	require.Equal(t, "alice", id.UserID)
}

func TestTokenUsesSecretFromEnvironment(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("PARLEY_JWT_SECRET", "a-secret-from-the-environment-32b")
	t.Setenv("PARLEY_JWT_ISSUER", "parley-test")
	out, err := runParley(t, "token", "--ttl", "5m", "bob")
	require.NoError(t, err)

	auth, err := server.NewAuthenticator(server.AuthConfig{Secret: []byte("a-secret-from-the-environment-32b"), Issuer: "parley-test"}, discardLogger())
	require.NoError(t, err)
	id, err := auth.Authenticate(strings.TrimSpace(out))
	require.NoError(t, err)
	require.Equal(t, "bob", id.UserID)

	_, err = runParley(t, "token", "not a valid id")
	require.Error(t, err)
}

func TestTokenRefusesAJWKSSetup(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("PARLEY_JWT_SECRET", "")
	t.Setenv("PARLEY_JWKS_URL", "https://id.example/.well-known/jwks.json")
	_, err := runParley(t, "token", "alice")
	require.ErrorContains(t, err, "identity provider")

	out, _ := runParley(t, "token", "--help")
	for _, flag := range []string{"-jwt-secret", "-jwt-issuer", "-jwt-audience", "-jwks-url", "-dev", "-ttl"} {
		require.Contains(t, out, flag)
	}
	require.NotContains(t, out, "-database-url", "token shows its own flags only")
}

func TestServeRefusesToStartWithoutAuth(t *testing.T) {
	t.Setenv("PARLEY_JWT_SECRET", "")
	t.Setenv("PARLEY_JWKS_URL", "")
	_, err := runParley(t, "serve", "--addr", "127.0.0.1:0")
	require.ErrorContains(t, err, "--dev")
}

func TestVersionAndHelp(t *testing.T) {
	out, err := runParley(t, "version")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "parley "), out)

	out, _ = runParley(t, "serve", "--help")
	for _, flag := range []string{"-database-url", "-jwks-url", "-jwt-secret", "-dev", "PARLEY_"} {
		require.Contains(t, out, flag)
	}
}
