package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Shutdown stops accepting connections at once but lets a request already in flight finish.
func TestServeDrainsInFlightRequestsOnShutdown(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	inner := s.handler
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/me" {
			once.Do(func() { close(entered) })
			<-release
		}
		inner.ServeHTTP(w, r)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	type result struct {
		status int
		err    error
	}
	inFlight := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tokenFor(t, "alice"))
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		resp.Body.Close()
		inFlight <- result{status: resp.StatusCode}
	}()

	<-entered
	cancel()
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	}, 10*time.Second, 10*time.Millisecond, "new connections are refused once shutdown begins")
	select {
	case err := <-served:
		t.Fatalf("Serve returned before the in-flight request finished: %v", err)
	default:
	}

	close(release)
	got := <-inFlight
	require.NoError(t, got.err)
	require.Equal(t, http.StatusOK, got.status)
	require.NoError(t, <-served)
}
