package realtime

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// hijackable is a ResponseWriter whose connection is a pipe, with a reader that, like net/http's,
// may hold bytes already read from it.
type hijackable struct {
	*httptest.ResponseRecorder
	conn net.Conn
	brw  *bufio.ReadWriter
}

func (h *hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) { return h.conn, h.brw, nil }

// maskedTextFrame is a client's text frame (clients mask theirs), for payloads under 126 bytes.
func maskedTextFrame(payload []byte) []byte {
	mask := [4]byte{1, 2, 3, 4}
	frame := append([]byte{0x81, 0x80 | byte(len(payload))}, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	return frame
}

// A client may send its first frame as soon as it reads the 101, and net/http may have read the
// frame's first byte before the hijack (its background read). That byte must reach the
// WebSocket: losing it misframes the stream and the connection dies with a protocol error.
func TestCompactHijackerKeepsBytesReadBeforeTheHijack(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	frame := maskedTextFrame([]byte(`{"type":"ping"}`))
	read := bufio.NewReader(io.MultiReader(bytes.NewReader(frame[:1]), server))
	_, err := read.Peek(1)
	require.NoError(t, err)
	w := &hijackable{ResponseRecorder: httptest.NewRecorder(), conn: server, brw: bufio.NewReadWriter(read, bufio.NewWriter(server))}

	r := httptest.NewRequest(http.MethodGet, "/v1/ws", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	ws, err := websocket.Accept(&compactHijacker{ResponseWriter: w, writeTimeout: time.Second, buffers: newBatchBuffers(), writes: NewMetrics(prometheus.NewRegistry()).socketWrites}, r, nil)
	require.NoError(t, err)
	defer ws.CloseNow()

	written := make(chan error, 1)
	go func() {
		_, err := client.Write(frame[1:])
		written <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, data, err := ws.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, typ)
	require.Equal(t, `{"type":"ping"}`, string(data))
	require.NoError(t, <-written)
}
