package realtime

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/gen/api"
)

// writer is the state only the goroutine holding the connection's writer turn touches (see
// Conn.write): where the connection stands in each conversation, and the live events it holds
// until the client's resume.
type writer struct {
	c *Conn
	// cursors is the last seq sent per conversation. Before the first, a conversation starts
	// after its floor (where the connection joined it), or where resume says.
	cursors map[uuid.UUID]int64
	floors  map[uuid.UUID]int64
	// held keeps live events that arrive before the client's resume frame (or ResumeWait).
	held     []*outFrame
	awaiting bool
	// writing is set from the first write after a pause to the next pause: the writes between
	// leave the socket as one batch (batchConn). WriteTimeout bounds writes to the socket only
	// (see batchConn), never a wait for a resume slot or a read of the log.
	writing bool
	// receipts are the message.created events of the batch under way, reported once it is
	// written (when the hub has a Receipts).
	receipts []EventRef
	// traced are the traced events of the batch under way: each gets its socket write span once
	// the batch is flushed. Always empty when tracing is off.
	traced []tracedWrite
}

func newWriter(c *Conn, floors map[uuid.UUID]int64) *writer {
	return &writer{c: c, cursors: make(map[uuid.UUID]int64), floors: floors, awaiting: true}
}

// pause sends what the batch holds, before a wait that is not writing and after each batch.
func (w *writer) pause() error {
	if !w.writing {
		return nil
	}
	w.writing = false
	err := w.c.out.end()
	if len(w.traced) > 0 {
		w.c.env.cfg.Tracer.socketWrites(w.traced, w.c.sessionID, err)
		w.traced = w.traced[:0]
	}
	if err != nil {
		return errClientGone
	}
	w.reportReceipts()
	return nil
}

// process sends one batch of queued frames.
func (w *writer) process(batch []*outFrame) error {
	for _, f := range batch {
		var err error
		switch {
		case f.kind == frameResume:
			err = w.startLive(f.cursors)
		case f.kind == frameHeartbeat:
			err = w.ping()
		case f.kind == frameSubscribe:
			if _, started := w.cursors[f.conv]; !started {
				w.floors[f.conv] = f.seq
			}
		case f.kind == frameEvent && w.awaiting:
			w.held = append(w.held, f)
			if len(w.held) > w.c.env.cfg.QueueSize {
				err = errSlowConsumer
			}
		case f.kind == frameEvent:
			err = w.sendEvent(f)
		default:
			err = w.send(f.data, f.kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ping pings the client. The wait for its pong is a task of its own, not the writer's: the
// writer's turn may be running in the reader's goroutine, which must read on for the pong to
// arrive. A pong that does not come within PongTimeout ends the connection; one that does sets
// the next heartbeat.
func (w *writer) ping() error {
	c := w.c
	if err := w.pause(); err != nil { // what is batched leaves before the ping
		return err
	}
	c.mu.Lock()
	c.tasks.Add(1) // the connection cannot finish while this writer holds the turn
	c.mu.Unlock()
	go func() {
		defer c.tasks.Done()
		// Not under c.ctx: a ping cut short closes the connection without the code its end
		// calls for.
		ctx, cancel := context.WithTimeout(context.Background(), c.env.cfg.PongTimeout)
		defer cancel()
		if c.ws.Ping(ctx) != nil {
			c.cancel(errClientGone)
			return
		}
		c.heartbeat.Reset(c.env.cfg.HeartbeatInterval)
	}()
	return nil
}

// send writes one frame into the batch, starting one if none is open. The frame is framed here,
// not by coder/websocket (see batchConn.writeText), and has no context of its own: the socket's
// write deadline bounds it (a context per write costs a timer each), and when it passes, ending
// the connection is the writer's job, with a close code.
func (w *writer) send(data []byte, kind frameKind) error {
	return w.sendParts(kind, data)
}

// sendParts sends one frame whose message is the concatenation of parts: a replayed event goes
// into the batch between the event frame's prefix and suffix, never copied into a frame of its
// own first.
func (w *writer) sendParts(kind frameKind, parts ...[]byte) error {
	if !w.writing {
		w.c.out.begin()
		w.writing = true
	}
	if w.c.ctx.Err() != nil { // closing: no data frame may follow a close frame
		return context.Cause(w.c.ctx)
	}
	if err := w.c.out.writeText(parts...); err != nil {
		return errClientGone
	}
	w.c.env.metrics.sentByKind[kind].Inc()
	return nil
}

func kindLabel(k frameKind) string {
	switch k {
	case frameEvent:
		return "event"
	case frameEphemeral:
		return "ephemeral"
	default:
		return "control"
	}
}

// sendEvent sends a live event in its conversation's order: what the connection has sent already
// is dropped, and what it missed before it is caught up from the log first.
func (w *writer) sendEvent(f *outFrame) error {
	cursor, started := w.cursors[f.conv]
	if !started {
		floor, known := w.floors[f.conv]
		cursor = floor
		if !known {
			cursor = f.seq - 1 // after a resync: from the next live event on
		}
	}
	if f.seq <= cursor {
		w.c.env.metrics.framesDropped.WithLabelValues("duplicate").Inc()
		return nil
	}
	if f.seq-cursor > 1 {
		if _, _, err := w.catchUp(readConnection, f.conv, cursor, f.seq); err != nil {
			return err
		}
	}
	if err := w.send(f.data, frameEvent); err != nil {
		return err
	}
	w.cursors[f.conv] = f.seq
	if f.span != nil {
		w.traced = append(w.traced, tracedWrite{parent: *f.span, conv: f.conv, seq: f.seq, queued: time.Now()})
	}
	if f.created {
		w.noteReceipt(f.conv, f.seq)
	}
	if f.removed == w.c.userID {
		// Removed: should the user be added again, the connection starts over from there.
		delete(w.cursors, f.conv)
		delete(w.floors, f.conv)
	}
	if !f.committedAt.IsZero() {
		w.c.env.metrics.commitToSocket.Observe(time.Since(f.committedAt).Seconds())
	}
	return nil
}

func (w *writer) sendResync(conv uuid.UUID, after int64) error {
	data, err := json.Marshal(api.ResyncFrame{Type: api.ResyncFrameTypeResync, ConversationId: conv, AfterSeq: after})
	if err != nil {
		return err
	}
	return w.send(data, frameControl)
}
