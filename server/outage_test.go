package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/gen/api"
)

// tcpProxy forwards a local port to PostgreSQL and can be cut and restored, to make the database
// unreachable without touching the shared server.
type tcpProxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			upstream, err := net.Dial("tcp", p.target)
			if err != nil {
				client.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln {
				// Cut while this connection was being accepted: cut has closed the others
				// already and will not see this one.
				p.mu.Unlock()
				client.Close()
				upstream.Close()
				return
			}
			p.conns[client], p.conns[upstream] = struct{}{}, struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(upstream, client); upstream.Close() })
			p.wg.Go(func() { _, _ = io.Copy(client, upstream); client.Close() })
		}
	})
}

// cut refuses new connections and drops every open one, and waits for its goroutines.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// restore listens again on the same port.
func (p *tcpProxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.serve(ln)
}

// While PostgreSQL is unreachable the API answers 503 with Retry-After and /readyz says why; when
// it is back, the same server recovers without a restart.
func TestDatabaseOutageAnswers503AndRecovers(t *testing.T) {
	t.Parallel()
	dbURL, err := url.Parse(dbtest.NewDatabase(t))
	require.NoError(t, err)
	proxy := newTCPProxy(t, dbURL.Host)
	dbURL.Host = proxy.addr
	q := dbURL.Query()
	q.Set("connect_timeout", "2")
	dbURL.RawQuery = q.Encode()

	cfg := DefaultConfig()
	cfg.DatabaseURL = dbURL.String()
	cfg.Auth = AuthConfig{Secret: []byte(testSecret)}
	cfg.DBMaxConns = 2
	s, err := New(t.Context(), cfg, discardLogger())
	require.NoError(t, err)
	t.Cleanup(s.Close)

	get := func(path string) *httptest.ResponseRecorder {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, "GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tokenFor(t, "alice"))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	require.Equal(t, http.StatusOK, get("/v1/conversations").Code)

	proxy.cut()
	rec := get("/v1/conversations")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	var p api.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, "unavailable", p.Code)
	require.NotContains(t, rec.Body.String(), proxy.addr, "no connection details reach the client")

	ready := get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, ready.Code)
	var report api.HealthReport
	require.NoError(t, json.Unmarshal(ready.Body.Bytes(), &report))
	require.Equal(t, api.CheckStatusDown, report.Checks.Postgres)

	proxy.restore(t)
	require.Eventually(t, func() bool { return get("/v1/conversations").Code == http.StatusOK },
		15*time.Second, 50*time.Millisecond, "the server recovers once PostgreSQL is back")
	require.Equal(t, http.StatusOK, get("/readyz").Code)
}
