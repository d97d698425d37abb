package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/internal/lifecycle"
)

type frameKind uint8

const (
	frameEvent     frameKind = iota // durable: never shed; cursor-checked
	frameEphemeral                  // typing, read receipts: shed first
	frameControl                    // ready, pong, error: never shed
	frameResume                     // the client's resume request, carried to the writer
	frameSubscribe                  // the connection starts a conversation after seq
	frameHeartbeat                  // time to ping the client
)

// outFrame is one item of a connection's send queue. It is never changed once queued, so one
// event's item is shared by every connection it goes to.
type outFrame struct {
	kind        frameKind
	conv        uuid.UUID
	seq         int64
	data        []byte
	committedAt time.Time
	created     bool                // a message.created event: its receipt is reported
	cursors     map[uuid.UUID]int64 // frameResume; nil: live delivery starts without a replay
	// removed names the member a member.removed event removes.
	removed string
	// span, when the event is traced, is its delivery span on this node; nil otherwise.
	span *trace.SpanContext
}

// connEnv is what every connection of a hub shares: its limits, metrics and log, the event log,
// the resume slots, and the two questions a connection asks its hub.
type connEnv struct {
	cfg         *HubConfig
	metrics     *Metrics
	logger      *slog.Logger
	log         *eventLog
	resumeSlots chan struct{}
	// writeBuffers are the buffers of connections' write batches, held only during a batch.
	writeBuffers *sync.Pool
	// receipts, when set, is told which new messages each user's sockets received.
	receipts Receipts
	hub      interface {
		isMember(c *Conn, conv uuid.UUID) bool
		Signal(ctx context.Context, s Signal) error
	}
}

// Conn is one WebSocket connection. Its reader runs in a goroutine of the hub's for the
// connection's life; its writer runs only while there is something to write: the first frame
// queued starts it, and it ends once the queue is empty, so an idle connection holds one
// goroutine and no queue. The writer owns where the connection stands in each conversation, the
// reader the limits on what the client sends, and the hub (under its lock) which conversations
// it is subscribed to.
type Conn struct {
	env       *connEnv
	ws        *websocket.Conn
	out       *batchConn // the socket under ws's writes: the writer batches them
	userID    string
	sessionID string
	expiresAt time.Time
	// w is the writer's state, touched only by the goroutine holding the writer's turn.
	w *writer

	mu sync.Mutex
	// pending is the send queue: frames queued and not yet taken by the writer. spare is the
	// slice the writer took last, handed back to pending on its next take (the writer's only).
	pending, spare []*outFrame
	serving        bool // run has started: a frame queued starts the writer
	writing        bool // a goroutine holds the writer's turn
	finished       bool // the writer has closed the connection: nothing is queued any more
	overflowed     bool // set once, when the queue first overflows
	// tasks are the goroutines working for the connection besides its reader: the writer's
	// turns, its timers' callbacks and its pings. Each joins while the connection is not
	// finished, and run waits for them.
	tasks  sync.WaitGroup
	closed chan struct{} // closed when finished is set

	heartbeat, resumeWait *time.Timer

	// ctx ends the connection: its cause says why (and so the close code). It derives from the
	// hub's run, so stopping the hub ends every connection with lifecycle.ErrStopped.
	ctx    context.Context
	cancel context.CancelCauseFunc

	// presence is the hub's presence tracker, for the reader's presence.subscribe; set by register.
	presence *PresenceTracker
}

func newConn(parent context.Context, env *connEnv, ws *websocket.Conn, out *batchConn, userID string, expiresAt time.Time) *Conn {
	ctx, cancel := context.WithCancelCause(parent)
	return &Conn{
		env: env, ws: ws, out: out, userID: userID, expiresAt: expiresAt,
		sessionID: uuid.NewString(),
		closed:    make(chan struct{}),
		ctx:       ctx,
		cancel:    cancel,
	}
}

// enqueue adds a frame to the send queue without blocking, and starts the writer if it is not
// running.
func (c *Conn) enqueue(f *outFrame) {
	if c.push(f) {
		go c.write(false)
	}
}

// enqueueOwn adds one of the reader's own control frames (ready, pong, errors) to the send queue
// and, when the writer is not running, writes the batch holding it in the reader's goroutine: no
// goroutine to start, and the reader's stack has grown already. Whatever is queued after that
// batch goes on in a goroutine of its own, for while the reader writes it does not read.
func (c *Conn) enqueueOwn(f *outFrame) {
	if c.push(f) {
		c.write(true)
	}
}

// push adds a frame to the send queue without blocking, and reports whether the caller took the
// writer's turn (and must run write). Ephemeral frames are shed while the queue is half full; a
// frame that does not fit closes the connection as a slow consumer, which then resumes from its
// cursors.
func (c *Conn) push(f *outFrame) bool {
	limit := c.env.cfg.QueueSize
	c.mu.Lock()
	switch {
	case c.finished:
		c.mu.Unlock()
	case f.kind == frameEphemeral && len(c.pending) >= limit/2:
		c.mu.Unlock()
		c.env.metrics.framesDropped.WithLabelValues("shed").Inc()
	case len(c.pending) >= limit:
		first := !c.overflowed
		c.overflowed = true
		c.mu.Unlock()
		if first {
			c.env.metrics.closes.WithLabelValues("slow_consumer").Inc()
			c.cancel(errSlowConsumer) // which wakes the writer to close
		}
	default:
		c.pending = append(c.pending, f)
		claimed := c.claimWriterLocked()
		c.mu.Unlock()
		return claimed
	}
	return false
}

// claimWriterLocked takes the writer's turn, if it is free and the connection is serving; the
// caller then runs write, in a goroutine of its own or in its own.
func (c *Conn) claimWriterLocked() bool {
	if !c.serving || c.writing || c.finished {
		return false
	}
	c.writing = true
	c.tasks.Add(1)
	return true
}

// wake runs the writer if it is not running: the connection's context has ended, and the
// writer closes it.
func (c *Conn) wake() {
	c.mu.Lock()
	start := c.claimWriterLocked()
	c.mu.Unlock()
	if start {
		c.write(false)
	}
}

// write holds the writer's turn: it sends what is queued, a batch at a time, until the queue is
// empty, and gives the turn back; once the connection's context has ended it closes the
// connection instead, for good. In the reader (inReader), it writes one batch and hands the
// turn, if more is queued, to a goroutine of its own.
func (c *Conn) write(inReader bool) {
	defer c.tasks.Done()
	for batches := 0; ; batches++ {
		if c.ctx.Err() != nil {
			c.finish()
			return
		}
		c.mu.Lock()
		batch := c.pending
		if len(batch) == 0 {
			// Checked under the lock: a cancel after this finds the turn free, and wake runs
			// the writer again to close.
			if c.ctx.Err() != nil {
				c.mu.Unlock()
				continue
			}
			if cap(batch) > idleQueueCap {
				c.pending = nil
			}
			if cap(c.spare) > idleQueueCap {
				c.spare = nil
			}
			c.writing = false // the turn, and with it spare, is the next writer's from here
			c.mu.Unlock()
			return
		}
		if inReader && batches > 0 {
			c.tasks.Add(1) // the turn passes on, still held: writing stays set
			c.mu.Unlock()
			go c.write(false)
			return
		}
		c.pending = c.spare[:0]
		c.mu.Unlock()
		c.env.metrics.writerWakeups.Inc()
		err := c.w.process(batch)
		if paused := c.w.pause(); err == nil {
			err = paused
		}
		clear(batch)
		c.spare = batch[:0]
		if err != nil {
			c.cancel(err)
		}
	}
}

// idleQueueCap is the most queue capacity a connection keeps while its writer is not running:
// room for a few frames, not the burst a replay or a busy conversation once needed.
const idleQueueCap = 8

// finish closes the connection with the code its end calls for; nothing is queued after it.
func (c *Conn) finish() {
	c.close(context.Cause(c.ctx))
	c.mu.Lock()
	c.finished, c.writing = true, false
	c.pending, c.spare = nil, nil
	c.mu.Unlock()
	close(c.closed)
}

// afterFunc runs f on the timer's goroutine as one of the connection's tasks, unless the
// connection has finished.
func (c *Conn) afterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() {
		c.mu.Lock()
		if c.finished {
			c.mu.Unlock()
			return
		}
		c.tasks.Add(1)
		c.mu.Unlock()
		defer c.tasks.Done()
		f()
	})
}

// enqueueControl queues one of the reader's control frames; see enqueueOwn.
func (c *Conn) enqueueControl(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	c.enqueueOwn(&outFrame{kind: frameControl, data: data})
}

func (c *Conn) sendError(code, message string) {
	c.enqueueControl(api.ErrorFrame{Type: api.ErrorFrameTypeError, Code: code, Message: message})
}

// run serves the connection until either side ends it, reading in the calling goroutine. floors
// are where the connection starts each conversation it had at connect; they become the writer's.
func (c *Conn) run(floors map[uuid.UUID]int64) {
	if !c.expiresAt.IsZero() {
		// Set before the writer can start, which reads c.ctx.
		var stop context.CancelFunc
		c.ctx, stop = context.WithDeadlineCause(c.ctx, c.expiresAt, errTokenExpired)
		defer stop()
	}
	c.w = newWriter(c, floors)
	cfg := c.env.cfg
	// Without the client's resume frame in time, live delivery starts without a replay.
	c.resumeWait = c.afterFunc(cfg.ResumeWait, func() { c.enqueue(&outFrame{kind: frameResume}) })
	c.heartbeat = c.afterFunc(cfg.HeartbeatInterval, func() { c.enqueue(&outFrame{kind: frameHeartbeat}) })
	c.mu.Lock()
	c.serving = true // from here a frame queued starts the writer: ready below does
	c.mu.Unlock()
	// Whatever ends the connection (its reader, its writer, a full queue, the token's expiry,
	// the hub's stop), the writer closes it.
	context.AfterFunc(c.ctx, c.wake)
	c.enqueueControl(api.ReadyFrame{
		Type: api.ReadyFrameTypeReady, SessionId: c.sessionID, UserId: c.userID,
		HeartbeatMs: int(cfg.HeartbeatInterval / time.Millisecond),
	})
	c.read()
	c.cancel(errClientGone)
	<-c.closed
	c.tasks.Wait() // the writer's last turn, timer callbacks, pings (which may set the heartbeat)
	c.resumeWait.Stop()
	c.heartbeat.Stop()
}

// close ends the WebSocket with the code that cause calls for.
func (c *Conn) close(cause error) {
	code, reason, label := closeCode(cause)
	if label != "" {
		c.env.metrics.closes.WithLabelValues(label).Inc()
	}
	if code == 0 {
		_ = c.ws.CloseNow()
		return
	}
	_ = c.ws.Close(code, reason)
}

// closeCode maps why a connection ends to its close code, reason and metric label; code 0 is a
// client that is gone, whose connection is dropped without a close frame.
func closeCode(cause error) (websocket.StatusCode, string, string) {
	switch {
	case errors.Is(cause, errSlowConsumer):
		// What is still queued is dropped, not flushed: the client resumes from its cursors.
		// (Counted where the queue overflowed.)
		return 4001, "slow consumer", ""
	case errors.Is(cause, errTokenExpired):
		return 4401, "token expired", "token_expired"
	case errors.Is(cause, lifecycle.ErrStopped):
		return websocket.StatusGoingAway, "server shutting down", "shutdown"
	case errors.Is(cause, errProtocol):
		return websocket.StatusPolicyViolation, "invalid frame", "policy"
	case errors.Is(cause, errStoreUnavailable):
		return websocket.StatusTryAgainLater, "try again later", "store_unavailable"
	case errors.Is(cause, errResumeBusy):
		return websocket.StatusTryAgainLater, "try again later", "resume_busy"
	default:
		return 0, "", ""
	}
}
