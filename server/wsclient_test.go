package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/gen/api"
)

// serveTest serves s on a random local port until the test ends, and returns its base URL.
func serveTest(t testing.TB, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveListener(t, s, ln)
	return "http://" + ln.Addr().String()
}

// serveListener serves s on ln until stop is called or the test ends; stop returns once Serve has
// (and must be called from the test's goroutine).
func serveListener(t testing.TB, s *Server, ln net.Listener) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-served)
		})
	}
	t.Cleanup(stop)
	return stop
}

// apiClient is the generated typed client, as user.
func apiClient(t testing.TB, baseURL, user string, options ...api.ClientOption) *api.ClientWithResponses {
	t.Helper()
	token := tokenFor(t, user)
	client, err := api.NewClientWithResponses(baseURL, append(options, api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}))...)
	require.NoError(t, err)
	return client
}

// wsClient is a test's WebSocket: a goroutine reads every frame into a channel, because
// coder/websocket closes the connection when a read's context ends.
type wsClient struct {
	t      testing.TB
	conn   *websocket.Conn
	frames chan []byte
	closed chan struct{}
	// closeStatus is how the server closed the connection, once closed is closed.
	closeStatus websocket.StatusCode
	// gate, while held, stops the reading goroutine: a slow consumer.
	gate   sync.Mutex
	paused bool
}

type rawFrame struct {
	Type string `json:"type"`
	raw  []byte
}

func dialWS(t testing.TB, baseURL, token string) *wsClient {
	t.Helper()
	return dialWSWith(t, baseURL, token, nil)
}

// dialWSSmallBuffer dials with a small socket receive buffer, so a client that stops reading
// pushes back on the server quickly.
func dialWSSmallBuffer(t testing.TB, baseURL, token string) *wsClient {
	t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		_ = rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	return dialWSWith(t, baseURL, token, &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}})
}

func dialWSWith(t testing.TB, baseURL, token string, client *http.Client) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := openWS(ctx, baseURL, token, client)
	require.NoError(t, err)
	require.Equal(t, "parley.v1", resp.Header.Get("Sec-WebSocket-Protocol"))
	conn.SetReadLimit(1 << 20)
	c := &wsClient{t: t, conn: conn, frames: make(chan []byte, 10000), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		for {
			c.gate.Lock()
			c.gate.Unlock() //nolint:staticcheck // a gate: wait while a test holds it
			_, data, err := conn.Read(context.Background())
			if err != nil {
				c.closeStatus = websocket.CloseStatus(err)
				return
			}
			c.frames <- data
		}
	}()
	t.Cleanup(func() {
		if c.paused {
			c.resume()
		}
		conn.CloseNow()
		<-c.closed
	})
	return c
}

// openWS opens a WebSocket to the server's /v1/ws with the token, offering parley.v1.
func openWS(ctx context.Context, baseURL, token string, client *http.Client) (*websocket.Conn, *http.Response, error) {
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/v1/ws", &websocket.DialOptions{
		HTTPClient:   client,
		HTTPHeader:   http.Header{"Authorization": []string{"Bearer " + token}},
		Subprotocols: []string{"parley.v1"},
	})
}

// pause stops reading from the socket; resume starts again.
func (c *wsClient) pause()  { c.gate.Lock(); c.paused = true }
func (c *wsClient) resume() { c.paused = false; c.gate.Unlock() }

func (c *wsClient) send(v any) {
	c.t.Helper()
	data, err := json.Marshal(v)
	require.NoError(c.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.conn.Write(ctx, websocket.MessageText, data))
}

// next returns the next frame, failing the test when none comes within the deadline.
func (c *wsClient) next(within time.Duration) rawFrame {
	c.t.Helper()
	select {
	case data := <-c.frames:
		var f rawFrame
		require.NoError(c.t, json.Unmarshal(data, &f))
		f.raw = data
		return f
	case <-c.closed:
		c.t.Fatalf("connection closed (status %d) while waiting for a frame", c.closeStatus)
	case <-time.After(within):
		c.t.Fatalf("no frame within %s", within)
	}
	return rawFrame{}
}

// nextOf returns the next frame of type typ, skipping others (heartbeat and ephemeral frames).
func (c *wsClient) nextOf(typ string, within time.Duration) rawFrame {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		f := c.next(time.Until(deadline))
		if f.Type == typ {
			return f
		}
	}
}

func (c *wsClient) nextEvent(within time.Duration) api.Event {
	c.t.Helper()
	var f api.EventFrame
	require.NoError(c.t, json.Unmarshal(c.nextOf("event", within).raw, &f))
	return f.Event
}

// ready reads the ready frame and starts live delivery with the given resume cursors.
func (c *wsClient) ready(cursors api.Cursors) api.ResumedFrame {
	c.t.Helper()
	var ready api.ReadyFrame
	require.NoError(c.t, json.Unmarshal(c.nextOf("ready", 5*time.Second).raw, &ready))
	require.NotEmpty(c.t, ready.SessionId)
	if cursors == nil {
		cursors = api.Cursors{}
	}
	c.send(api.ResumeFrame{Type: api.ResumeFrameTypeResume, Cursors: cursors})
	var resumed api.ResumedFrame
	require.NoError(c.t, json.Unmarshal(c.nextOf("resumed", 5*time.Second).raw, &resumed))
	return resumed
}

// noFrameOf asserts that no frame of type typ arrives while the server handles a ping: the pong
// proves every earlier frame has been sent.
func (c *wsClient) noFrameOf(typ string) {
	c.t.Helper()
	c.send(api.PingFrame{Type: api.PingFrameTypePing, Id: ptr("barrier")})
	for {
		f := c.next(5 * time.Second)
		require.NotEqual(c.t, typ, f.Type, "unexpected %s frame: %s", typ, f.raw)
		if f.Type == "pong" {
			return
		}
	}
}

// waitClosed waits for the server to close the connection and returns its close status.
func (c *wsClient) waitClosed(within time.Duration) websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.closed:
		return c.closeStatus
	case <-time.After(within):
		c.t.Fatalf("connection not closed within %s", within)
	}
	return 0
}
