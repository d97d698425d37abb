package realtime

import (
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
// and sends it in one write when the batch ends, under one deadline set on the connection.
// Outside a batch, writes go straight through: the pongs the reader answers, pings, close frames.
type batchConn struct {
	conn    net.Conn
	buffers *sync.Pool // of *[]byte, shared by the hub's connections: an idle one holds none
	writes  prometheus.Counter

	mu       sync.Mutex
	batching bool
	buf      *[]byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		b.writes.Inc()
		return b.conn.Write(p)
	}
	*b.buf = append(*b.buf, p...)
	if len(*b.buf) >= batchFlushBytes {
		if err := b.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// begin starts a batch whose writes must all be done by deadline.
func (b *batchConn) begin(deadline time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = true
	b.buf = b.buffers.Get().(*[]byte)
	return b.conn.SetWriteDeadline(deadline)
}

// end writes what the batch holds and lifts the deadline.
func (b *batchConn) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flush()
	b.batching = false
	if cap(*b.buf) <= batchFlushBytes*2 {
		b.buffers.Put(b.buf)
	}
	b.buf = nil
	if dErr := b.conn.SetWriteDeadline(time.Time{}); err == nil {
		err = dErr
	}
	return err
}

func (b *batchConn) flush() error {
	if len(*b.buf) == 0 {
		return nil
	}
	b.writes.Inc()
	_, err := b.conn.Write(*b.buf)
	*b.buf = (*b.buf)[:0]
	return err
}

func newBatchBuffers() *sync.Pool {
	return &sync.Pool{New: func() any {
		buf := make([]byte, 0, 4<<10)
		return &buf
	}}
}
