package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

// startupLog is a logger whose lines the test reads while the server writes them.
func startupLog() (*slog.Logger, *lockedBuffer) {
	var buf lockedBuffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// PostgreSQL that comes up after Parley (compose, Kubernetes) is waited for: each try is logged,
// and the start completes once it answers.
func TestStartWaitsForPostgreSQL(t *testing.T) {
	t.Parallel()
	dbURL, err := url.Parse(dbtest.NewDatabase(t))
	require.NoError(t, err)
	proxy := newTCPProxy(t, dbURL.Host)
	proxy.cut() // PostgreSQL is not there yet
	dbURL.Host = proxy.addr
	cfg := testConfig(dbURL.String())
	cfg.StartupTimeout = 30 * time.Second
	logger, logs := startupLog()

	started := make(chan error, 1)
	var s *Server
	go func() {
		var err error
		s, err = New(t.Context(), cfg, logger)
		started <- err
	}()
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "PostgreSQL is not reachable yet") >= 2 },
		15*time.Second, 10*time.Millisecond, "each try is logged")
	proxy.restore(t)
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("the start did not complete once PostgreSQL answered")
	}
	t.Cleanup(s.Close)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/readyz", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, logs.String(), "try=2")
}

// Past --startup-timeout the start ends with one line saying what it waited for, how long, and
// why it gave up; with 0 it tries once.
func TestStartGivesUpAfterStartupTimeout(t *testing.T) {
	t.Parallel()
	cfg := testConfig("postgres://postgres@127.0.0.1:1/none?sslmode=disable")
	cfg.StartupTimeout = time.Second
	logger, logs := startupLog()
	_, err := New(t.Context(), cfg, logger)
	require.ErrorContains(t, err, "PostgreSQL not reachable after 1s and ")
	require.ErrorContains(t, err, "(--startup-timeout 1s): connect to database: ")
	require.ErrorContains(t, err, "connection refused")
	require.GreaterOrEqual(t, strings.Count(logs.String(), "PostgreSQL is not reachable yet"), 2)

	cfg.StartupTimeout = 0
	logger, logs = startupLog()
	_, err = New(t.Context(), cfg, logger)
	require.ErrorContains(t, err, "after 0s and 1 try ")
	require.NotContains(t, logs.String(), "not reachable yet")
}

// A refusal that waiting cannot cure (here a role that does not exist) ends the start at once.
func TestStartStopsAtOnceOnARefusal(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(dbtest.NewDatabase(t))
	require.NoError(t, err)
	u.User = url.User("no_such_role_" + strings.ReplaceAll(uuid.NewString()[:8], "-", ""))
	cfg := testConfig(u.String())
	cfg.StartupTimeout = time.Minute
	logger, logs := startupLog()
	began := time.Now()
	_, err = New(t.Context(), cfg, logger)
	require.ErrorContains(t, err, "does not exist")
	require.NotContains(t, err.Error(), "not reachable")
	require.NotContains(t, logs.String(), "not reachable yet")
	require.Less(t, time.Since(began), 10*time.Second)
}

// Four nodes starting at once against a database that does not exist yet all start: one creates
// it, one migrates it, and each serves.
func TestFourNodesStartTogetherOnAFreshDatabase(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(dbtest.AdminURL())
	require.NoError(t, err)
	name := "parley_start_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	u.Path = "/" + name
	admin := adminConn(t)
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		require.NoError(t, err)
	})

	const nodes = 4
	servers := make([]*Server, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { servers[i], errs[i] = New(t.Context(), testConfig(u.String()), discardLogger()) })
	}
	wg.Wait()
	for i, s := range servers {
		require.NoError(t, errs[i], "node %d", i)
		t.Cleanup(s.Close)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/readyz", nil))
		require.Equal(t, http.StatusOK, rec.Code, fmt.Sprintf("node %d: %s", i, rec.Body.String()))
	}
}
