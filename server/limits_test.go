package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// A header block over MaxHeaderBytes is refused with 431 before any handler runs.
func TestOversizedHeadersAreRefused(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(cfg *Config) { cfg.MaxHeaderBytes = 4 << 10 })
	base := serveTest(t, s)
	req, err := http.NewRequest(http.MethodGet, base+"/v1/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tokenFor(t, "alice"))
	req.Header.Set("X-Padding", strings.Repeat("a", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
}

// A client that sends its headers too slowly (slowloris) loses the connection after
// ReadHeaderTimeout instead of holding it.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(cfg *Config) { cfg.ReadHeaderTimeout = 200 * time.Millisecond })
	base := serveTest(t, s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: parley\r\n")) // and never the blank line
	require.NoError(t, err)

	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil { // net/http may say 408 before it closes
		resp.Body.Close()
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	} else {
		var netErr net.Error
		require.False(t, errors.As(err, &netErr) && netErr.Timeout(), "the server held the connection: %v", err)
	}
}

// Resume replays beyond MaxConcurrentResumes wait their turn: every client gets its replay.
func TestConcurrentResumesBeyondTheCapWaitTheirTurn(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, withoutRateLimits, func(cfg *Config) { cfg.Hub.MaxConcurrentResumes = 1 })
	base := serveTest(t, s)
	alice := apiClient(t, base, "alice")
	conv := createGroupVia(t, alice, "bob")
	for i := range 30 {
		sendVia(t, alice, conv, "m"+string(rune('a'+i%26)))
	}

	// Every client asks at once; each buffers what it receives, so reading them one by one below
	// does not hold the server back.
	const clients = 6
	sockets := make([]*wsClient, clients)
	for i := range sockets {
		sockets[i] = dialWS(t, base, tokenFor(t, "bob"))
		sockets[i].nextOf("ready", 5*time.Second)
	}
	for _, ws := range sockets {
		ws.send(api.ResumeFrame{Type: api.ResumeFrameTypeResume, Cursors: api.Cursors{conv.String(): 0}})
	}
	resumed := make([]api.ResumedFrame, clients)
	counts := make([]int, clients)
	for i, ws := range sockets {
		for {
			f := ws.next(10 * time.Second)
			if f.Type == "resumed" {
				require.NoError(t, json.Unmarshal(f.raw, &resumed[i]))
				break
			}
			if f.Type == "event" {
				counts[i]++
			}
		}
	}
	for i := range clients {
		require.Equal(t, 30, counts[i], "client %d", i)
		require.Equal(t, api.Cursors{conv.String(): 30}, resumed[i].Cursors)
	}
}
