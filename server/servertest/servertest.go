// Package servertest runs whole Parley servers for the tests of other packages: each over a
// database of its own, on a random local port, stopped and closed when the test ends.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/server"
)

// Start builds a server that verifies HS256 tokens signed with secret, over a fresh database, with
// options applied to its configuration, serves it until the test ends and returns its base URL.
func Start(t testing.TB, secret string, options ...func(*server.Config)) string {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DatabaseURL = dbtest.NewDatabase(t)
	cfg.Auth = server.AuthConfig{Secret: []byte(secret)}
	cfg.DBMaxConns = 4
	for _, o := range options {
		o(&cfg)
	}
	srv, err := server.New(context.Background(), cfg, DiscardLogger())
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
		srv.Close()
	})
	return "http://" + ln.Addr().String()
}

// DiscardLogger is a logger that writes nowhere.
func DiscardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
