package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

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
)

// outFrame is one item of a connection's send queue. It is never changed once queued, so one
// event's item is shared by every connection it goes to.
type outFrame struct {
	kind        frameKind
	conv        uuid.UUID
	seq         int64
	data        []byte
	committedAt time.Time
	cursors     map[uuid.UUID]int64 // frameResume
	// removed names the member a member.removed event removes.
	removed string
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
	hub          interface {
		isMember(c *Conn, conv uuid.UUID) bool
		Signal(ctx context.Context, s Signal) error
	}
}

// Conn is one WebSocket connection. Its reader and its writer run in goroutines of the hub's;
// the writer owns where the connection stands in each conversation, the reader the limits on
// what the client sends, and the hub (under its lock) which conversations it is subscribed to.
type Conn struct {
	env       *connEnv
	ws        *websocket.Conn
	out       *batchConn // the socket under ws's writes: the writer batches them
	userID    string
	sessionID string
	expiresAt time.Time
	queue     chan *outFrame
	// overflowed is set once, when the queue first overflows.
	overflowed atomic.Bool

	// ctx ends the connection: its cause says why (and so the close code). It derives from the
	// hub's run, so stopping the hub ends every connection with lifecycle.ErrStopped.
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newConn(parent context.Context, env *connEnv, ws *websocket.Conn, out *batchConn, userID string, expiresAt time.Time) *Conn {
	ctx, cancel := context.WithCancelCause(parent)
	return &Conn{
		env: env, ws: ws, out: out, userID: userID, expiresAt: expiresAt,
		sessionID: uuid.NewString(),
		queue:     make(chan *outFrame, env.cfg.QueueSize),
		ctx:       ctx,
		cancel:    cancel,
	}
}

// enqueue adds a frame to the send queue without blocking. Ephemeral frames are shed while the
// queue is half full; a durable frame that does not fit closes the connection as a slow consumer,
// which then resumes from its cursors.
func (c *Conn) enqueue(f *outFrame) {
	if f.kind == frameEphemeral && len(c.queue) >= cap(c.queue)/2 {
		c.env.metrics.framesDropped.WithLabelValues("shed").Inc()
		return
	}
	select {
	case c.queue <- f:
	default:
		if c.overflowed.CompareAndSwap(false, true) {
			c.env.metrics.closes.WithLabelValues("slow_consumer").Inc()
			c.cancel(errSlowConsumer)
		}
	}
}

func (c *Conn) enqueueControl(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	c.enqueue(&outFrame{kind: frameControl, data: data})
}

func (c *Conn) sendError(code, message string) {
	c.enqueueControl(api.ErrorFrame{Type: api.ErrorFrameTypeError, Code: code, Message: message})
}

// run serves the connection until either side ends it. floors are where the connection starts
// each conversation it had at connect; they become the writer's.
func (c *Conn) run(floors map[uuid.UUID]int64) {
	defer c.cancel(errClientGone)
	if !c.expiresAt.IsZero() {
		// Set before the reader and writer start, which are the only readers of c.ctx.
		var stop context.CancelFunc
		c.ctx, stop = context.WithDeadlineCause(c.ctx, c.expiresAt, errTokenExpired)
		defer stop()
	}
	c.enqueueControl(api.ReadyFrame{
		Type: api.ReadyFrameTypeReady, SessionId: c.sessionID, UserId: c.userID,
		HeartbeatMs: int(c.env.cfg.HeartbeatInterval / time.Millisecond),
	})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		newWriter(c, floors).run()
	}()
	c.read()
	<-writerDone
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
