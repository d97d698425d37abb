package realtime

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// Serve upgrades an authenticated request to a WebSocket and hands the connection to a goroutine
// of the hub's (which Stop waits for): the HTTP handler returns at once, so its deep stack and
// the server's per-connection buffers are freed.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, userID string, expiresAt time.Time) {
	run := h.life.Running()
	if run == nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	hijacker := &compactHijacker{ResponseWriter: w, writeTimeout: h.cfg.WriteTimeout, buffers: h.env.writeBuffers, writes: h.metrics.socketWrites}
	ws, err := websocket.Accept(hijacker, r, &websocket.AcceptOptions{
		Subprotocols:    []string{Subprotocol},
		OriginPatterns:  h.cfg.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		h.logger.DebugContext(r.Context(), "websocket handshake refused", "error", err)
		return // Accept has answered
	}
	ws.SetReadLimit(h.cfg.MaxFrameBytes)
	// Only what the connection needs goes into its goroutine: not the hijacker, whose
	// ResponseWriter would keep the HTTP server's state of the request alive with it.
	out := hijacker.out
	if !run.Go(func(ctx context.Context) { h.connect(ctx, ws, out, userID, expiresAt) }) {
		ws.Close(websocket.StatusGoingAway, "server shutting down")
	}
}

// connect registers the connection, subscribes it to its user's conversations and serves it
// until either side ends it. ctx is the hub's run: it ends when the hub stops.
func (h *Hub) connect(ctx context.Context, ws *websocket.Conn, out *batchConn, userID string, expiresAt time.Time) {
	defer ws.CloseNow()
	// Register first, then read the user's conversations: membership changes that land in
	// between are recorded and applied over what the read returns, so none is lost.
	c := newConn(ctx, h.env, ws, out, userID, expiresAt)
	switch err := h.register(c); err {
	case nil:
	case errTooManyConns:
		h.metrics.closes.WithLabelValues("too_many_connections").Inc()
		ws.Close(closeTooManyConns, "too many connections for this user")
		return
	default:
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer h.unregister(c)
	memberships, err := h.log.store.ConversationsOf(ctx, userID)
	if err != nil {
		if ctx.Err() != nil {
			ws.Close(websocket.StatusGoingAway, "server shutting down")
			return
		}
		h.logger.ErrorContext(ctx, "websocket: load conversations", "user", userID, "error", err)
		h.metrics.closes.WithLabelValues("store_unavailable").Inc()
		ws.Close(websocket.StatusTryAgainLater, "try again later")
		return
	}
	floors := h.subscribeInitial(c, memberships)
	h.metrics.connections.Inc()
	defer h.metrics.connections.Dec()
	c.run(floors)
}

// compactHijacker hands coder/websocket smaller buffers than the HTTP server's 4 KiB pair (an idle
// connection holds them for its lifetime, and frames are small; larger frames bypass them), and
// writes through a batchConn, which it keeps in out for the connection's writer.
type compactHijacker struct {
	http.ResponseWriter
	writeTimeout time.Duration
	buffers      *sync.Pool
	writes       prometheus.Counter
	out          *batchConn
}

const (
	hijackReadBuffer = 512
	// Writes leave through batchConn, which holds a batch's frames: this buffer only stages them,
	// and a frame larger than it goes past it to batchConn.
	hijackWriteBuffer = 512
)

func (h *compactHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	r := bufio.NewReaderSize(conn, hijackReadBuffer)
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent right after its handshake, already read by the server. They
		// must sit in the new reader's buffer, not behind it: coder/websocket keeps what the
		// reader has buffered and points the reader itself at the bare connection.
		early, _ := brw.Reader.Peek(n)
		r = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn), max(n, hijackReadBuffer))
		if _, err := r.Peek(n); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("keep bytes read before the hijack: %w", err)
		}
	}
	h.out = &batchConn{conn: conn, timeout: h.writeTimeout, buffers: h.buffers, writes: h.writes}
	return conn, bufio.NewReadWriter(r, bufio.NewWriterSize(h.out, hijackWriteBuffer)), nil
}
