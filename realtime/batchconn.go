package realtime

import (
	"encoding/binary"
	"math"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// batchFlushBytes is how much a batch holds before it writes: enough for a few hundred frames,
// while a replay of large events still leaves in pieces of this size.
const batchFlushBytes = 64 << 10

// batchConn is the write side of a hijacked connection, under coder/websocket's buffer.
// coder/websocket flushes after every message: one write(2) per frame. While the connection's
// writer sends a batch of queued frames (between begin and end), batchConn keeps what is flushed
// and sends it in one write when the batch ends. Outside a batch, writes go straight through: the
// pongs the reader answers, pings, close frames.
//
// Every write to the socket has timeout at most, and timeout/2 at least, to complete: the
// connection's write deadline moves on only once less than half of it is left, so a busy
// connection sets it every timeout/2, not for each write (each set is a timer's move).
type batchConn struct {
	conn    net.Conn
	timeout time.Duration
	buffers *sync.Pool // of *[]byte, shared by the hub's connections: an idle one holds none
	writes  prometheus.Counter

	mu       sync.Mutex
	batching bool
	buf      *[]byte
	deadline time.Time
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return b.write(p)
	}
	*b.buf = append(*b.buf, p...)
	if len(*b.buf) >= batchFlushBytes {
		if err := b.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// writeText adds one text message, the concatenation of parts, to the open batch as a single
// WebSocket frame (RFC 6455 5.2: FIN, opcode 1, no mask from a server): what coder/websocket
// would write, without its per-frame locks, context checks and flush. Pings, pongs and close
// frames still go through coder/websocket; each is smaller than its buffer and so reaches
// batchConn as one Write, and the two never interleave within a frame.
func (b *batchConn) writeText(parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	*b.buf = appendTextFrameHeader(*b.buf, n)
	for _, p := range parts {
		*b.buf = append(*b.buf, p...)
	}
	if len(*b.buf) >= batchFlushBytes {
		return b.flush()
	}
	return nil
}

func appendTextFrameHeader(buf []byte, n int) []byte {
	const finText = 0x80 | 0x1
	switch {
	case n < 126:
		return append(buf, finText, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(buf, finText, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(buf, finText, 127), uint64(n))
	}
}

// begin starts a batch.
func (b *batchConn) begin() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = true
	b.buf = b.buffers.Get().(*[]byte)
}

// end writes what the batch holds.
func (b *batchConn) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flush()
	b.batching = false
	if cap(*b.buf) <= batchFlushBytes*2 {
		b.buffers.Put(b.buf)
	}
	b.buf = nil
	return err
}

func (b *batchConn) flush() error {
	if len(*b.buf) == 0 {
		return nil
	}
	_, err := b.write(*b.buf)
	*b.buf = (*b.buf)[:0]
	return err
}

// write writes p to the socket, moving the deadline on first when less than half of it is left.
func (b *batchConn) write(p []byte) (int, error) {
	if now := time.Now(); b.deadline.Sub(now) < b.timeout/2 {
		b.deadline = now.Add(b.timeout)
		if err := b.conn.SetWriteDeadline(b.deadline); err != nil {
			return 0, err
		}
	}
	b.writes.Inc()
	return b.conn.Write(p)
}

func newBatchBuffers() *sync.Pool {
	return &sync.Pool{New: func() any {
		buf := make([]byte, 0, 4<<10)
		return &buf
	}}
}
