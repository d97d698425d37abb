package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jonboulle/clockwork"

	"github.com/parleyhq/parley/internal/lifecycle"
)

// Subprotocol is the WebSocket subprotocol Parley speaks.
const Subprotocol = "parley.v1"

// SignalBus carries ephemeral signals to the hubs of every node (Redis pub/sub).
type SignalBus interface {
	Signal(ctx context.Context, s Signal) error
}

// Hub keeps the node's WebSocket connections and routes events to them: every conversation's
// events in seq order, exactly once, to the connections of its members.
//
// Who owns what:
//   - the hub, under mu: which connections a user has here (subscribers, with what the hub knows
//     of their memberships) and which conversations have connections here, each with the stream
//     that puts its events in order (conversation);
//   - each connection: its send queue and its reader; its writer owns where the connection
//     stands in each conversation (cursors) and the replay of what it missed;
//   - the event log reader: every read of the log, whether the hub fills a conversation's gap or
//     a connection catches up.
//
// The hub is a lifecycle service: Start runs the gap sweeper, Stop closes every connection with
// 1001 and waits for all their goroutines.
type Hub struct {
	cfg     HubConfig
	log     *eventLog
	signals SignalBus // nil: this node is alone, and signals stay here
	metrics *Metrics
	logger  *slog.Logger
	env     *connEnv
	life    lifecycle.Base

	// presence knows who is online; register and unregister tell it of connections.
	presence *PresenceTracker

	mu      sync.Mutex
	convs   map[uuid.UUID]*conversation
	users   map[string]map[*Conn]*subscriber
	unknown *lru.Cache[uuid.UUID, struct{}]
}

// NewHub returns a stopped hub. signals carries typing signals and read receipts to the other
// nodes; nil means the node is alone.
func NewHub(cfg HubConfig, store Store, signals SignalBus, metrics *Metrics, logger *slog.Logger) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	unknown, err := lru.New[uuid.UUID, struct{}](cfg.UnknownConversations)
	if err != nil {
		return nil, fmt.Errorf("unknown-conversation cache: %w", err)
	}
	h := &Hub{
		cfg: cfg, signals: signals, metrics: metrics, logger: logger,
		log:     &eventLog{store: store, metrics: metrics, logger: logger},
		convs:   make(map[uuid.UUID]*conversation),
		users:   make(map[string]map[*Conn]*subscriber),
		unknown: unknown,
	}
	h.env = &connEnv{
		cfg: &h.cfg, metrics: metrics, logger: logger, log: h.log,
		resumeSlots:  make(chan struct{}, cfg.MaxConcurrentResumes),
		writeBuffers: newBatchBuffers(),
		hub:          h,
	}
	h.presence = newPresenceTracker(cfg.Presence, visibilityOf(store), clockwork.NewRealClock(), metrics.presence, logger)
	return h, nil
}

// Start runs the sweeper that fills the gaps reorder buffers have waited on too long.
func (h *Hub) Start(context.Context) error {
	return h.life.Start("hub", func(run *lifecycle.Run) error {
		h.presence.open()
		// The sweeper fills the gaps reorder buffers have waited on too long.
		run.Go(func(ctx context.Context) {
			lifecycle.Every(ctx, max(h.cfg.ReorderTimeout/2, time.Millisecond), h.fillExpiredGaps)
		})
		return nil
	})
}

// Stop closes every connection with 1001 (their contexts end with the hub's run) and waits for
// their goroutines and the sweeper. http.Server.Shutdown does not touch hijacked connections;
// this does.
//
// Presence is told first that the node is leaving, so the connections it closes do not show
// their users going offline one by one.
func (h *Hub) Stop(ctx context.Context) error {
	h.presence.leave()
	err := h.life.Stop(ctx, nil)
	if err == nil {
		h.presence.close()
	}
	return err
}

// Signal sends an ephemeral signal to the conversation's connections on every node.
func (h *Hub) Signal(ctx context.Context, s Signal) error {
	if h.signals == nil {
		h.DeliverSignal(s)
		return nil
	}
	return h.signals.Signal(ctx, s)
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

var (
	errSlowConsumer = errors.New("slow consumer")
	errTokenExpired = errors.New("token expired")
	errProtocol     = errors.New("protocol violation")
	errClientGone   = errors.New("client closed the connection")
	errTooManyConns = errors.New("too many connections for this user")
	// errStoreUnavailable: PostgreSQL failed a read the connection needed; it closes with 1013
	// and the client resumes later.
	errStoreUnavailable = errors.New("event log unavailable")
	// errResumeBusy: no resume slot came free within ResumeSlotWait; 1013 too.
	errResumeBusy = errors.New("no resume slot free")
)

// closeTooManyConns refuses a WebSocket beyond the user's connection cap, as 429 would.
const closeTooManyConns websocket.StatusCode = 4429
