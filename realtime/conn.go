package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/gen/api"
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

// Conn is one WebSocket connection. Its reader runs in the HTTP handler's goroutine and its
// writer in one goroutine of its own; both end before Serve returns.
type Conn struct {
	hub       *Hub
	ws        *websocket.Conn
	userID    string
	sessionID string
	expiresAt time.Time
	queue     chan *outFrame
	// overflowed is set once, when the queue first overflows.
	overflowed atomic.Bool

	// ctx ends the connection: its cause says why (and so the close code).
	ctx    context.Context
	cancel context.CancelCauseFunc

	// membership is what the hub knows of the user's membership per conversation; guarded by
	// hub.mu, like pending (registered, initial subscriptions not made yet) and the changes
	// recorded meanwhile.
	membership map[uuid.UUID]membership
	pending    bool
	changes    []membershipChange
	// floors are the seqs after which the connection starts each conversation it had at connect;
	// written before the writer starts, then the writer's.
	floors map[uuid.UUID]int64
	// typing limits the typing frames the reader accepts.
	typing *rate.Limiter
}

type membership struct {
	member bool
	asOf   int64 // the seq this is true as of
}

type membershipChange struct {
	conv  uuid.UUID
	added bool
	asOf  int64
	floor int64 // added: where the connection starts the conversation
	// event is the event that brought the change, which the connection, not yet subscribed,
	// did not get: it is queued when the change is applied.
	event *outFrame
}

func newConn(h *Hub, ws *websocket.Conn, userID string, expiresAt time.Time) *Conn {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Conn{
		hub: h, ws: ws, userID: userID, expiresAt: expiresAt,
		sessionID:  uuid.NewString(),
		queue:      make(chan *outFrame, h.cfg.QueueSize),
		ctx:        ctx,
		cancel:     cancel,
		membership: make(map[uuid.UUID]membership),
		floors:     make(map[uuid.UUID]int64),
		typing:     newTypingLimiter(h.cfg),
	}
}

// enqueue adds a frame to the send queue without blocking. Ephemeral frames are shed while the
// queue is half full; a durable frame that does not fit closes the connection as a slow consumer,
// which then resumes from its cursors.
func (c *Conn) enqueue(f *outFrame) {
	if f.kind == frameEphemeral && len(c.queue) >= cap(c.queue)/2 {
		c.hub.metrics.framesDropped.WithLabelValues("shed").Inc()
		return
	}
	select {
	case c.queue <- f:
	default:
		if c.overflowed.CompareAndSwap(false, true) {
			c.hub.metrics.closes.WithLabelValues("slow_consumer").Inc()
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

// run serves the connection until either side ends it.
func (c *Conn) run() {
	defer c.cancel(errClientGone)
	if !c.expiresAt.IsZero() {
		// Set before the reader and writer start, which are the only readers of c.ctx.
		var stop context.CancelFunc
		c.ctx, stop = context.WithDeadlineCause(c.ctx, c.expiresAt, errTokenExpired)
		defer stop()
	}

	c.enqueueControl(api.ReadyFrame{
		Type: api.ReadyFrameTypeReady, SessionId: c.sessionID, UserId: c.userID,
		HeartbeatMs: int(c.hub.cfg.HeartbeatInterval / time.Millisecond),
	})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.write()
	}()
	c.read()
	<-writerDone
}

// read handles the client's frames. It reads with a context of its own: coder/websocket closes
// the connection on any read error, and the close code is the writer's to choose.
func (c *Conn) read() {
	lastTyping := make(map[uuid.UUID]time.Time)
	first := true
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.cancel(errClientGone)
			return
		}
		if typ != websocket.MessageText {
			c.cancel(errProtocol)
			return
		}
		f, err := decodeClientFrame(data)
		if errors.Is(err, errProtocolFrame) {
			c.cancel(errProtocol)
			return
		}
		if first && f.typ != string(api.ResumeFrameTypeResume) {
			c.enqueue(&outFrame{kind: frameResume}) // no resume: live delivery starts now
		}
		first = false
		if refused, ok := errors.AsType[*frameError](err); ok {
			c.sendError(refused.code, refused.message)
			continue
		}
		switch f.typ {
		case string(api.ResumeFrameTypeResume):
			c.enqueue(&outFrame{kind: frameResume, cursors: f.cursors})
		case string(api.TypingRequestFrameTypeTyping):
			now := time.Now()
			if retry, ok := c.allowTyping(now); !ok {
				c.hub.metrics.framesDropped.WithLabelValues("rate_limited").Inc()
				c.enqueueControl(api.ErrorFrame{
					Type: api.ErrorFrameTypeError, Code: "rate_limited",
					Message:      "too many typing frames on this connection",
					RetryAfterMs: ptrTo(int(retry.Milliseconds())),
				})
				continue
			}
			if !c.hub.isMember(c, f.conv) {
				c.sendError("not_member", "not a member of that conversation")
				continue
			}
			if now.Sub(lastTyping[f.conv]) < c.hub.cfg.TypingThrottle {
				c.hub.metrics.framesDropped.WithLabelValues("throttled").Inc()
				continue
			}
			lastTyping[f.conv] = now
			c.hub.signalTyping(c.ctx, c, f.conv)
		case string(api.PingFrameTypePing):
			c.enqueueControl(api.PongFrame{Type: api.PongFrameTypePong, Id: f.pingID})
		}
	}
}

// newTypingLimiter holds a connection to TypingRate; a zero rate is no limit.
func newTypingLimiter(cfg HubConfig) *rate.Limiter {
	if cfg.TypingRate == 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(cfg.TypingRate, cfg.TypingBurst)
}

// allowTyping spends one of the connection's typing tokens, or says how long until one is back.
func (c *Conn) allowTyping(now time.Time) (time.Duration, bool) {
	if c.typing.AllowN(now, 1) {
		return 0, true
	}
	missing := 1 - c.typing.TokensAt(now)
	return time.Duration(math.Ceil(missing / float64(c.typing.Limit()) * float64(time.Second))), false
}

func ptrTo[T any](v T) *T { return &v }

func (c *Conn) sendError(code, message string) {
	c.enqueueControl(api.ErrorFrame{Type: api.ErrorFrameTypeError, Code: code, Message: message})
}

// writer is the state only the writer goroutine touches.
type writer struct {
	c *Conn
	// cursors is the last seq sent per conversation. Before the first, a conversation starts
	// after its floor (where the connection joined it), or where resume says.
	cursors map[uuid.UUID]int64
	floors  map[uuid.UUID]int64
	// held keeps live events that arrive before the client's resume frame (or ResumeWait).
	held     []*outFrame
	awaiting bool
	// wctx bounds the writes of one batch. It does not derive from the connection's context:
	// coder/websocket drops the connection when a write's context ends mid-write, and ending
	// the connection is the writer's job, with a close code.
	wctx context.Context
}

// write sends queued frames until the connection ends, pinging on the heartbeat interval, then
// closes with the code its end calls for.
func (c *Conn) write() {
	w := &writer{c: c, cursors: make(map[uuid.UUID]int64), floors: c.floors, awaiting: true}
	resumeWait := time.NewTimer(c.hub.cfg.ResumeWait)
	defer resumeWait.Stop()
	heartbeat := time.NewTicker(c.hub.cfg.HeartbeatInterval)
	defer heartbeat.Stop()
	batch := make([]*outFrame, 0, 64)
	for {
		select {
		case <-c.ctx.Done():
			c.close(context.Cause(c.ctx))
			return
		case <-resumeWait.C:
			if w.awaiting {
				if err := w.withWriteDeadline(func() error { return w.startLive(nil) }); err != nil {
					c.cancel(err)
				}
			}
		case <-heartbeat.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.hub.cfg.PongTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil && c.ctx.Err() == nil {
				c.cancel(errClientGone)
			}
		case f := <-c.queue:
			batch = append(batch[:0], f)
		drain:
			for len(batch) < cap(batch) {
				select {
				case f := <-c.queue:
					batch = append(batch, f)
				default:
					break drain
				}
			}
			if err := w.withWriteDeadline(func() error { return w.process(batch) }); err != nil {
				c.cancel(err)
			}
		}
	}
}

// close ends the WebSocket with the code that cause calls for.
func (c *Conn) close(cause error) {
	var code websocket.StatusCode
	var reason string
	switch {
	case errors.Is(cause, errSlowConsumer):
		// What is still queued is dropped, not flushed: the client resumes from its cursors.
		code, reason = 4001, "slow consumer"
	case errors.Is(cause, errTokenExpired):
		code, reason = 4401, "token expired"
		c.hub.metrics.closes.WithLabelValues("token_expired").Inc()
	case errors.Is(cause, errShuttingDown):
		code, reason = websocket.StatusGoingAway, "server shutting down"
		c.hub.metrics.closes.WithLabelValues("shutdown").Inc()
	case errors.Is(cause, errProtocol):
		code, reason = websocket.StatusPolicyViolation, "invalid frame"
		c.hub.metrics.closes.WithLabelValues("policy").Inc()
	default:
		_ = c.ws.CloseNow()
		return
	}
	_ = c.ws.Close(code, reason)
}

// withWriteDeadline runs fn with writes bounded by WriteTimeout.
func (w *writer) withWriteDeadline(fn func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.c.hub.cfg.WriteTimeout)
	defer cancel()
	w.wctx = ctx
	return fn()
}

// process sends one batch of queued frames; reads from PostgreSQL end with the connection.
func (w *writer) process(batch []*outFrame) error {
	ctx := w.c.ctx
	for _, f := range batch {
		var err error
		switch {
		case f.kind == frameResume:
			err = w.startLive(f.cursors)
		case f.kind == frameSubscribe:
			if _, started := w.cursors[f.conv]; !started {
				w.floors[f.conv] = f.seq
			}
		case f.kind == frameEvent && w.awaiting:
			w.held = append(w.held, f)
			if len(w.held) > cap(w.c.queue) {
				err = errSlowConsumer
			}
		case f.kind == frameEvent:
			err = w.sendEvent(ctx, f)
		default:
			err = w.send(f.data, f.kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) send(data []byte, kind frameKind) error {
	if err := w.c.ws.Write(w.wctx, websocket.MessageText, data); err != nil {
		return errClientGone
	}
	w.c.hub.metrics.sentByKind[kind].Inc()
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
// is dropped, and a gap before it is read from PostgreSQL first (or, when it is longer than the
// resume limit, left to the client to page after a resync frame).
func (w *writer) sendEvent(ctx context.Context, f *outFrame) error {
	cursor, started := w.cursors[f.conv]
	if !started {
		floor, known := w.floors[f.conv]
		cursor = floor
		if !known {
			cursor = f.seq - 1 // after a resync: from the next live event on
		}
	}
	if f.seq <= cursor {
		w.c.hub.metrics.framesDropped.WithLabelValues("duplicate").Inc()
		return nil
	}
	if gap := f.seq - cursor - 1; gap > 0 {
		w.c.hub.metrics.gapFills.WithLabelValues("connection").Inc()
		filled := false
		if gap <= int64(w.c.hub.cfg.ResumeLimit) {
			events, err := w.fetch(ctx, f.conv, cursor, f.seq, int(gap))
			if err != nil {
				return err
			}
			if int64(len(events)) == gap {
				if err := w.sendStored(events); err != nil {
					return err
				}
				filled = true
			}
		}
		if !filled {
			if err := w.sendResync(f.conv, cursor); err != nil {
				return err
			}
		}
	}
	if err := w.send(f.data, frameEvent); err != nil {
		return err
	}
	w.cursors[f.conv] = f.seq
	if f.removed == w.c.userID {
		// Removed: should the user be added again, the connection starts over from there.
		delete(w.cursors, f.conv)
		delete(w.floors, f.conv)
	}
	if !f.committedAt.IsZero() {
		w.c.hub.metrics.commitToSocket.Observe(time.Since(f.committedAt).Seconds())
	}
	return nil
}

// fetch reads up to limit stored events after `after` (and before `before` when positive).
func (w *writer) fetch(ctx context.Context, conv uuid.UUID, after, before int64, limit int) ([]StoredEvent, error) {
	events, err := w.c.hub.store.EventsBetween(ctx, conv, after, before, limit)
	if err != nil {
		w.c.hub.logger.WarnContext(ctx, "websocket: read event log", "conversation", conv, "error", err)
		return nil, errClientGone // the client reconnects and resumes
	}
	return events, nil
}

// sendStored sends events read from the log and moves the cursor past them.
func (w *writer) sendStored(events []StoredEvent) error {
	for _, e := range events {
		frame := make([]byte, 0, len(e.Payload)+28)
		frame = append(frame, `{"type":"event","event":`...)
		frame = append(append(frame, e.Payload...), '}')
		if err := w.send(frame, frameEvent); err != nil {
			return err
		}
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

// startLive applies the client's resume cursors (nil when it sent none in time), answers resumed,
// and releases the live events held meanwhile.
func (w *writer) startLive(cursors map[uuid.UUID]int64) error {
	ctx := w.c.ctx
	wasAwaiting := w.awaiting
	w.awaiting = false
	if cursors != nil {
		if err := w.resume(ctx, cursors); err != nil {
			return err
		}
	}
	if !wasAwaiting {
		return nil
	}
	held := w.held
	w.held = nil
	for _, f := range held {
		if err := w.sendEvent(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// resume replays each listed conversation after the client's seq, or tells it to resync.
func (w *writer) resume(ctx context.Context, cursors map[uuid.UUID]int64) error {
	select {
	case w.c.hub.resumeSlots <- struct{}{}:
		defer func() { <-w.c.hub.resumeSlots }()
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	ids := make([]uuid.UUID, 0, len(cursors))
	for id := range cursors {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	resumed := make(api.Cursors, len(ids))
	for _, id := range ids {
		after := cursors[id]
		if !w.c.hub.isMember(w.c, id) {
			w.c.hub.metrics.resumes.WithLabelValues("not_member").Inc()
			continue
		}
		if sent, started := w.cursors[id]; started && sent > after {
			// Live events past the client's cursor went out already; what lies before them can no
			// longer arrive in order here.
			w.c.hub.metrics.resumes.WithLabelValues("resync").Inc()
			if err := w.sendResync(id, after); err != nil {
				return err
			}
			continue
		}
		limit := w.c.hub.cfg.ResumeLimit
		events, err := w.fetch(ctx, id, after, 0, limit+1)
		if err != nil {
			return err
		}
		if len(events) > limit {
			// Too much to replay: the client pages the log from its cursor while live events keep
			// flowing, starting with the next one.
			w.c.hub.metrics.resumes.WithLabelValues("resync").Inc()
			delete(w.cursors, id)
			delete(w.floors, id)
			if err := w.sendResync(id, after); err != nil {
				return err
			}
			continue
		}
		if err := w.sendStored(events); err != nil {
			return err
		}
		last := after
		if len(events) > 0 {
			last = events[len(events)-1].Seq
		}
		w.c.hub.metrics.resumes.WithLabelValues("replayed").Inc()
		w.cursors[id] = last
		resumed[id.String()] = last
	}
	data, err := json.Marshal(api.ResumedFrame{Type: api.ResumedFrameTypeResumed, Cursors: resumed})
	if err != nil {
		return err
	}
	return w.send(data, frameControl)
}
