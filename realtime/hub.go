package realtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/parleyhq/parley/gen/api"
)

// Subprotocol is the WebSocket subprotocol Parley speaks.
const Subprotocol = "parley.v1"

// Hub keeps the node's WebSocket connections and routes events to them: every conversation's
// events in seq order, exactly once, to the connections of its members. It owns the connections'
// goroutines and the reorder sweeper; Close stops them all.
type Hub struct {
	cfg     HubConfig
	store   Store
	signals Broker
	logger  *slog.Logger
	metrics *Metrics

	mu      sync.Mutex
	convs   map[uuid.UUID]*conversation
	users   map[string]map[*Conn]struct{}
	unknown *lru.Cache[uuid.UUID, struct{}]
	closing bool
	conns   sync.WaitGroup

	resumeSlots chan struct{}
	stopSweep   context.CancelFunc
	sweeper     sync.WaitGroup
}

// conversation is the hub's state for one conversation with members connected here.
type conversation struct {
	subs  map[*Conn]struct{}
	order reorder
}

// NewHub returns a running hub. signals carries typing signals to the other nodes.
func NewHub(cfg HubConfig, store Store, signals Broker, metrics *Metrics, logger *slog.Logger) (*Hub, error) {
	if cfg.MaxConcurrentResumes < 1 {
		return nil, fmt.Errorf("hub: MaxConcurrentResumes is %d; at least one resume must be able to run", cfg.MaxConcurrentResumes)
	}
	unknown, err := lru.New[uuid.UUID, struct{}](cfg.UnknownConversations)
	if err != nil {
		return nil, fmt.Errorf("unknown-conversation cache: %w", err)
	}
	h := &Hub{
		cfg: cfg, store: store, signals: signals, logger: logger, metrics: metrics,
		convs:       make(map[uuid.UUID]*conversation),
		users:       make(map[string]map[*Conn]struct{}),
		unknown:     unknown,
		resumeSlots: make(chan struct{}, cfg.MaxConcurrentResumes),
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stopSweep = cancel
	h.sweeper.Go(func() { h.sweep(ctx) })
	return h, nil
}

// Close closes every connection with 1001 and waits for all their goroutines, then stops the
// sweeper. http.Server.Shutdown does not touch hijacked connections; this does.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closing = true
	conns := make([]*Conn, 0, len(h.users))
	for _, set := range h.users {
		for c := range set {
			conns = append(conns, c)
		}
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.cancel(errShuttingDown)
	}
	h.conns.Wait()
	h.stopSweep()
	h.sweeper.Wait()
}

// Serve upgrades an authenticated request to a WebSocket and starts the connection, which runs
// in goroutines of its own (owned by the hub, which Close waits for): the HTTP handler returns,
// so its deep stack and the server's per-connection buffers are freed.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, userID string, expiresAt time.Time) {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	h.conns.Add(1)
	h.mu.Unlock()
	running := false
	defer func() {
		if !running {
			h.conns.Done()
		}
	}()

	ws, err := websocket.Accept(compactHijacker{w}, r, &websocket.AcceptOptions{
		Subprotocols:    []string{Subprotocol},
		OriginPatterns:  h.cfg.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		h.logger.DebugContext(r.Context(), "websocket handshake refused", "error", err)
		return // Accept has answered
	}
	ws.SetReadLimit(h.cfg.MaxFrameBytes)

	// Register first, then read the user's conversations: membership changes that land in
	// between are recorded and applied over what the read returns, so none is lost.
	c := newConn(h, ws, userID, expiresAt)
	switch h.register(c) {
	case errShuttingDown:
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	case errTooManyConns:
		h.metrics.closes.WithLabelValues("too_many_connections").Inc()
		ws.Close(closeTooManyConns, "too many connections for this user")
		return
	}
	memberships, err := h.store.ConversationsOf(r.Context(), userID)
	if err != nil {
		h.unregister(c)
		h.logger.ErrorContext(r.Context(), "websocket: load conversations", "user", userID, "error", err)
		ws.Close(websocket.StatusTryAgainLater, "try again later")
		return
	}
	h.subscribeInitial(c, memberships)
	h.metrics.connections.Inc()
	running = true
	go func() {
		defer h.conns.Done()
		defer ws.CloseNow()
		defer h.unregister(c)
		defer h.metrics.connections.Dec()
		c.run()
	}()
}

// compactHijacker hands coder/websocket smaller buffers than the HTTP server's 4 KiB pair: an idle
// connection holds them for its lifetime, and frames are small. Larger frames bypass them.
type compactHijacker struct {
	http.ResponseWriter
}

const (
	hijackReadBuffer  = 512
	hijackWriteBuffer = 2048
)

func (h compactHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
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
	return conn, bufio.NewReadWriter(r, bufio.NewWriterSize(conn, hijackWriteBuffer)), nil
}

// register adds a new connection, not yet subscribed to anything. It refuses while closing and
// beyond the user's connection cap.
func (h *Hub) register(c *Conn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return errShuttingDown
	}
	set := h.users[c.userID]
	if h.cfg.MaxConnsPerUser > 0 && len(set) >= h.cfg.MaxConnsPerUser {
		return errTooManyConns
	}
	if set == nil {
		set = make(map[*Conn]struct{})
		h.users[c.userID] = set
	}
	set[c] = struct{}{}
	c.pending = true
	return nil
}

// subscribeInitial subscribes a registered connection to the conversations read for its user,
// then applies the membership changes recorded since it registered, in order; a change older than
// what the read saw is ignored. The connection starts each conversation after the seq the read
// saw: a later event it misses is read back as a gap.
func (h *Hub) subscribeInitial(c *Conn, memberships []Membership) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range memberships {
		if conv := h.applyLocked(c, m.ConversationID, true, m.AsOf); conv != nil && conv.order.next == 0 {
			conv.order.next = m.AsOf + 1
		}
		c.floors[m.ConversationID] = m.AsOf
	}
	for _, ch := range c.changes {
		was := c.membership[ch.conv].member
		h.applyLocked(c, ch.conv, ch.added, ch.asOf)
		if ch.added && !was && c.membership[ch.conv].member {
			c.floors[ch.conv] = ch.floor
		}
		if ch.event != nil && (was || c.membership[ch.conv].member) {
			// The event that brought the change: the new member's first, or the removed
			// member's last. Held by the writer until the client's resume, like any live event.
			c.enqueue(ch.event)
		}
	}
	c.pending, c.changes = false, nil
}

func (h *Hub) unregister(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, m := range c.membership {
		if m.member {
			h.leaveLocked(c, id)
		}
	}
	if set := h.users[c.userID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.users, c.userID)
		}
	}
}

// applyLocked records that c's user is (or is no longer) a member of the conversation as of seq
// asOf, and (un)subscribes c; a change not newer than what c knows is stale and ignored, so
// membership events that arrive late or twice cannot undo a later change. It returns the
// conversation when c is subscribed to it.
func (h *Hub) applyLocked(c *Conn, id uuid.UUID, member bool, asOf int64) *conversation {
	if m, ok := c.membership[id]; ok && asOf <= m.asOf {
		if m.member {
			return h.convs[id]
		}
		return nil
	}
	c.membership[id] = membership{member: member, asOf: asOf}
	if !member {
		h.leaveLocked(c, id)
		return nil
	}
	conv := h.convs[id]
	if conv == nil {
		conv = &conversation{subs: make(map[*Conn]struct{})}
		h.convs[id] = conv
		h.unknown.Remove(id)
	}
	conv.subs[c] = struct{}{}
	return conv
}

func (h *Hub) leaveLocked(c *Conn, id uuid.UUID) {
	conv := h.convs[id]
	if conv == nil {
		return
	}
	delete(conv.subs, c)
	if len(conv.subs) == 0 {
		h.metrics.reorderHeld.Sub(float64(conv.order.heldCount()))
		delete(h.convs, id)
	}
}

// isMember reports whether the connection is subscribed to the conversation.
func (h *Hub) isMember(c *Conn, id uuid.UUID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return c.membership[id].member
}

// eventHeader is the part of an event fan-out needs.
type eventHeader struct {
	Type   string `json:"type"`
	Member *struct {
		UserID string `json:"user_id"`
	} `json:"member"`
}

func newDelivery(env Envelope) (delivery, error) {
	var hdr eventHeader
	if err := json.Unmarshal(env.Payload, &hdr); err != nil {
		return delivery{}, fmt.Errorf("decode event %s/%d: %w", env.ConversationID, env.Seq, err)
	}
	d := delivery{env: env, kind: hdr.Type}
	if hdr.Member != nil {
		d.member = hdr.Member.UserID
	}
	frame := make([]byte, 0, len(env.Payload)+28)
	frame = append(frame, `{"type":"event","event":`...)
	frame = append(frame, env.Payload...)
	d.frame = append(frame, '}')
	return d, nil
}

// Deliver routes a batch of events to the connections of their conversations' members. It is
// called by the broker, one batch at a time; an error asks the broker to deliver again later.
func (h *Hub) Deliver(ctx context.Context, batch []Envelope) error {
	for _, env := range batch {
		d, err := newDelivery(env)
		if err != nil {
			return err
		}
		if err := h.deliver(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

func (h *Hub) deliver(ctx context.Context, d delivery) error {
	id := d.env.ConversationID
	h.mu.Lock()
	conv := h.convs[id]
	if conv == nil && d.kind == string(api.EventTypeMemberAdded) && len(h.users[d.member]) > 0 {
		conv = &conversation{subs: make(map[*Conn]struct{})}
		h.convs[id] = conv
		h.unknown.Remove(id)
	}
	if conv == nil {
		if h.unknown.Contains(id) {
			h.mu.Unlock()
			return nil
		}
		h.mu.Unlock()
		// A conversation created while its members were connected has had no event that
		// subscribed them: learn its members once.
		members, asOf, err := h.store.MembersOf(ctx, id)
		if err != nil {
			return err
		}
		h.mu.Lock()
		connecting := false
		for _, user := range members {
			for c := range h.users[user] {
				if c.pending {
					c.changes = append(c.changes, membershipChange{conv: id, added: true, asOf: asOf, floor: 0, event: eventFrame(id, d)})
					connecting = true
					continue
				}
				if h.applyLocked(c, id, true, asOf) != nil {
					// New to the connection: everything of the conversation is, up to this event.
					c.enqueue(&outFrame{kind: frameSubscribe, conv: id, seq: 0})
				}
			}
		}
		if conv = h.convs[id]; conv == nil {
			if !connecting {
				// A connection still connecting will subscribe: its next events must find it.
				h.unknown.Add(id, struct{}{})
			}
			h.mu.Unlock()
			return nil
		}
	}
	defer h.mu.Unlock()
	before := conv.order.heldCount()
	ready, duplicate := conv.order.offer(d, time.Now())
	h.metrics.reorderHeld.Add(float64(conv.order.heldCount() - before))
	if duplicate {
		// Handed on already, or late: connections drop what they sent and read gaps back, but a
		// membership change must still take effect (unless a newer one has).
		h.metrics.framesDropped.WithLabelValues("duplicate").Inc()
		h.applyMembershipLocked(id, d)
	}
	for _, r := range ready {
		h.fanOutLocked(id, conv, r)
	}
	return nil
}

// fanOutLocked hands one in-order event to every subscribed connection. A member.added event
// first subscribes the new member's connections, so they receive it; a member.removed event
// reaches the removed member's connections, which then stop receiving.
func (h *Hub) fanOutLocked(id uuid.UUID, conv *conversation, d delivery) {
	if d.kind == string(api.EventTypeMemberAdded) {
		h.applyMembershipLocked(id, d)
	}
	item := eventFrame(id, d)
	for c := range conv.subs {
		c.enqueue(item)
	}
	if d.kind == string(api.EventTypeMemberRemoved) {
		h.applyMembershipLocked(id, d)
	}
	if len(conv.subs) == 0 {
		h.metrics.reorderHeld.Sub(float64(conv.order.heldCount()))
		delete(h.convs, id)
	}
}

// eventFrame is the queue item of an in-order event, shared by every connection it goes to.
func eventFrame(id uuid.UUID, d delivery) *outFrame {
	item := &outFrame{kind: frameEvent, conv: id, seq: d.env.Seq, data: d.frame, committedAt: d.env.CommittedAt}
	if d.kind == string(api.EventTypeMemberRemoved) {
		item.removed = d.member
	}
	return item
}

// applyMembershipLocked applies a member.* event to the member's connections on this node.
func (h *Hub) applyMembershipLocked(id uuid.UUID, d delivery) {
	added := d.kind == string(api.EventTypeMemberAdded)
	if !added && d.kind != string(api.EventTypeMemberRemoved) {
		return
	}
	for c := range h.users[d.member] {
		if c.pending {
			c.changes = append(c.changes, membershipChange{conv: id, added: added, asOf: d.env.Seq, floor: d.env.Seq - 1, event: eventFrame(id, d)})
			continue
		}
		was := c.membership[id].member
		h.applyLocked(c, id, added, d.env.Seq)
		if added && !was && c.membership[id].member {
			// The connection starts the conversation with this event.
			c.enqueue(&outFrame{kind: frameSubscribe, conv: id, seq: d.env.Seq - 1})
		}
	}
}

// catchUpPage is how many events CatchUp reads from the log at a time.
const catchUpPage = 500

// CatchUp hands on, for every conversation with connections here, the events committed after the
// last one handed on, read from PostgreSQL. The broker calls it when its bus lost events on their
// way here (Redis restarted empty): the reorder buffer notices a missing event only when a later
// one arrives, so without this the last events of a conversation would wait for the next one,
// however long that takes. What the bus delivers as well is dropped as a duplicate.
func (h *Hub) CatchUp(ctx context.Context) error {
	type cursor struct {
		id    uuid.UUID
		after int64
	}
	h.mu.Lock()
	cursors := make([]cursor, 0, len(h.convs))
	for id, conv := range h.convs {
		if conv.order.next > 0 {
			cursors = append(cursors, cursor{id, conv.order.next - 1})
		}
	}
	h.mu.Unlock()
	for _, c := range cursors {
		for {
			stored, err := h.store.EventsBetween(ctx, c.id, c.after, 0, catchUpPage)
			if err != nil {
				return err
			}
			if len(stored) == 0 {
				break
			}
			h.metrics.gapFills.WithLabelValues("catch_up").Inc()
			batch := make([]Envelope, len(stored))
			for i, e := range stored {
				batch[i] = Envelope{ConversationID: c.id, Seq: e.Seq, Payload: e.Payload}
			}
			if err := h.Deliver(ctx, batch); err != nil {
				return err
			}
			if len(stored) < catchUpPage {
				break
			}
			c.after = stored[len(stored)-1].Seq
		}
	}
	return nil
}

// DeliverSignal sends an ephemeral frame to the conversation's connections on this node.
func (h *Hub) DeliverSignal(s Signal) {
	h.mu.Lock()
	defer h.mu.Unlock()
	conv := h.convs[s.ConversationID]
	if conv == nil {
		return
	}
	item := &outFrame{kind: frameEphemeral, data: s.Frame}
	for c := range conv.subs {
		if s.SkipUser && c.userID == s.UserID {
			continue
		}
		c.enqueue(item)
	}
}

// sweep fills the gaps reorder buffers have waited on too long, reading them from PostgreSQL.
func (h *Hub) sweep(ctx context.Context) {
	ticker := time.NewTicker(max(h.cfg.ReorderTimeout/2, time.Millisecond))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			h.fillExpiredGaps(ctx)
		}
	}
}

type gapToFill struct {
	id       uuid.UUID
	from, to int64
}

func (h *Hub) fillExpiredGaps(ctx context.Context) {
	now := time.Now()
	var gaps []gapToFill
	h.mu.Lock()
	for id, conv := range h.convs {
		if conv.order.expired(now, h.cfg.ReorderTimeout, h.cfg.MaxHeld) {
			from, to, _ := conv.order.gap()
			gaps = append(gaps, gapToFill{id, from, to})
		}
	}
	h.mu.Unlock()

	for _, g := range gaps {
		stored, err := h.store.EventsBetween(ctx, g.id, g.from-1, g.to, int(g.to-g.from))
		if err != nil {
			if ctx.Err() == nil {
				h.logger.WarnContext(ctx, "reorder: fill gap", "conversation", g.id, "from", g.from, "to", g.to, "error", err)
			}
			continue
		}
		fill := make([]delivery, 0, len(stored))
		for _, e := range stored {
			d, err := newDelivery(Envelope{ConversationID: g.id, Seq: e.Seq, Payload: e.Payload})
			if err != nil {
				h.logger.ErrorContext(ctx, "reorder: decode stored event", "error", err)
				continue
			}
			fill = append(fill, d)
		}
		h.mu.Lock()
		if conv := h.convs[g.id]; conv != nil {
			before := conv.order.heldCount()
			if from, _, ok := conv.order.gap(); ok && from == g.from {
				h.metrics.gapFills.WithLabelValues("reorder").Inc()
				for _, r := range conv.order.fill(fill, time.Now()) {
					h.fanOutLocked(g.id, conv, r)
				}
			}
			if conv = h.convs[g.id]; conv != nil {
				h.metrics.reorderHeld.Add(float64(conv.order.heldCount() - before))
			}
		}
		h.mu.Unlock()
	}
}

// signalTyping tells the conversation's other members that c's user is typing.
func (h *Hub) signalTyping(ctx context.Context, c *Conn, id uuid.UUID) {
	frame, err := json.Marshal(api.TypingFrame{Type: api.TypingFrameTypeTyping, ConversationId: id, UserId: c.userID})
	if err != nil {
		return
	}
	if err := h.signals.Signal(ctx, Signal{ConversationID: id, UserID: c.userID, SkipUser: true, Frame: frame}); err != nil {
		h.logger.DebugContext(ctx, "typing signal not sent", "error", err)
	}
}

var (
	errSlowConsumer = errors.New("slow consumer")
	errTokenExpired = errors.New("token expired")
	errShuttingDown = errors.New("server shutting down")
	errProtocol     = errors.New("protocol violation")
	errClientGone   = errors.New("client closed the connection")
	errTooManyConns = errors.New("too many connections for this user")
)

// closeTooManyConns refuses a WebSocket beyond the user's connection cap, as 429 would.
const closeTooManyConns websocket.StatusCode = 4429
