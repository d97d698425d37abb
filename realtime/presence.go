package realtime

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// PresenceTracker knows who is online and tells the connections watching a user when that user's
// status changes. A user is online on this node from their first connection here until Grace
// after their last one here closed; with Redis, PresenceSync adds what the other nodes say
// (remote). A user is online while online here or on any live node.
//
// The hub calls connected and disconnected under its lock (lock order: hub, then tracker, then a
// connection's queue); the tracker never calls back into the hub.
type PresenceTracker struct {
	cfg     PresenceConfig
	clock   clockwork.Clock
	visible PresenceVisibility // nil: only one's own presence is visible
	// visibleSlots bounds the visibility reads under way (presenceVisibleReads).
	visibleSlots chan struct{}
	metrics      *presenceMetrics
	logger       *slog.Logger

	mu       sync.Mutex
	local    map[string]*localUser
	remote   map[string]map[string]struct{} // user → the other nodes they are online on
	byNode   map[string]map[string]struct{} // node → its users in remote
	lastSeen map[string]time.Time
	watchers map[string]map[*presenceWatch]struct{} // visible watched user → watches
	watches  map[*Conn]*presenceWatch
	// leaving is set while the hub stops: connections closing then are not users leaving, and
	// the node's lease (with Redis) says when they are gone.
	leaving bool
	closed  bool // no timer callback runs any more
	// resyncing holds remote changes that arrive while a resync reads Redis, applied after it.
	resyncing []remoteChange
	// sync is set while a PresenceSync writes this node's transitions to Redis: changes holds
	// those not yet written (the latest per user) and wake tells the sync there are some.
	sync    bool
	changes map[string]localChange
	wake    chan struct{}
	// seen reads last-seen times kept in Redis, for offline users this node knows nothing of.
	seen func(ctx context.Context, users []string) (map[string]time.Time, error)
	// callbacks are the timer callbacks (grace, coalescing) running: close waits for them.
	callbacks sync.WaitGroup
	// fired counts the timer callbacks run, so tests on a fake clock know when they are done.
	fired atomic.Int64
}

// localUser is a user online on this node: conns open, or none and the grace running.
type localUser struct {
	conns int
	grace clockwork.Timer
	gen   int // which arming of grace is current: an older callback finds it changed
}

// localChange is a user going online or offline on this node, for the sync to write.
type localChange struct {
	online bool
	at     time.Time
}

// remoteChange is a user going online or offline on another node.
type remoteChange struct {
	user, node string
	online     bool
	at         time.Time
}

// PresenceVisibility says whose presence a user may see: those who share a conversation with
// them.
type PresenceVisibility interface {
	PresenceVisible(ctx context.Context, viewer string, users []string) ([]string, error)
}

// newPresenceTracker returns a tracker of a node alone; a PresenceSync attaches Redis to it.
func newPresenceTracker(cfg PresenceConfig, visible PresenceVisibility, clock clockwork.Clock, metrics *presenceMetrics, logger *slog.Logger) *PresenceTracker {
	return &PresenceTracker{
		cfg: cfg, clock: clock, visible: visible, metrics: metrics, logger: logger,
		local:    make(map[string]*localUser),
		remote:   make(map[string]map[string]struct{}),
		byNode:   make(map[string]map[string]struct{}),
		lastSeen: make(map[string]time.Time),
		watchers: make(map[string]map[*presenceWatch]struct{}),
		watches:  make(map[*Conn]*presenceWatch),
		changes:  make(map[string]localChange),
		wake:     make(chan struct{}, 1),

		visibleSlots: make(chan struct{}, presenceVisibleReads),
	}
}

// open readies the tracker for a hub (re)starting: no connection is left from a previous run.
func (p *PresenceTracker) open() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leaving, p.closed = false, false
	clear(p.local)
}

// leave is the hub stopping: from here connections closing change nothing, and pending graces
// are dropped. Alone, the node is going away anyway; with Redis, its lease lapses Grace after
// the stop (PresenceSync.Stop), and the other nodes take its users offline then, unless they
// came back elsewhere: not everyone at once the moment the node stops.
func (p *PresenceTracker) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leaving = true
	for _, u := range p.local {
		if u.grace != nil {
			u.grace.Stop()
			u.grace = nil
		}
	}
}

// close stops every timer and waits for callbacks under way, once the hub's connections are gone.
func (p *PresenceTracker) close() {
	p.mu.Lock()
	p.closed = true
	for _, w := range p.watches {
		w.stopTimer()
	}
	p.mu.Unlock()
	p.callbacks.Wait()
}

// afterFunc runs f after d on the tracker's clock, as a callback close waits for. Call it with
// p.mu held.
func (p *PresenceTracker) afterFunc(d time.Duration, f func()) clockwork.Timer {
	return p.clock.AfterFunc(d, func() {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.callbacks.Add(1)
		p.mu.Unlock()
		defer p.callbacks.Done()
		f()
		p.fired.Add(1)
	})
}

// connected counts a new connection of user on this node: the first makes them online here, one
// within the grace after the last closed cancels it, and nothing shows.
func (p *PresenceTracker) connected(user string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.local[user]
	if u == nil {
		was := p.onlineLocked(user)
		u = &localUser{}
		p.local[user] = u
		p.metrics.online.Inc()
		p.queueLocked(user, localChange{online: true, at: p.clock.Now()})
		if !was {
			p.changedLocked(user)
		}
	} else if u.grace != nil {
		u.grace.Stop()
		u.grace = nil
		u.gen++
	}
	u.conns++
}

// disconnected counts a connection of user on this node gone; after the last, the grace starts.
func (p *PresenceTracker) disconnected(user string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.local[user]
	if u == nil {
		return
	}
	if u.conns--; u.conns > 0 || p.leaving {
		return
	}
	u.gen++
	gen := u.gen
	u.grace = p.afterFunc(p.cfg.Grace, func() { p.graceOver(user, u, gen) })
}

// graceOver takes user offline on this node, unless a connection came back meanwhile.
func (p *PresenceTracker) graceOver(user string, u *localUser, gen int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.local[user] != u || u.gen != gen || u.conns > 0 || p.leaving {
		return
	}
	delete(p.local, user)
	now := p.clock.Now()
	p.metrics.offline.Inc()
	p.queueLocked(user, localChange{online: false, at: now})
	if !p.onlineLocked(user) {
		p.lastSeen[user] = now
		p.changedLocked(user)
	}
}

func (p *PresenceTracker) onlineLocked(user string) bool {
	return p.local[user] != nil || len(p.remote[user]) > 0
}

// queueLocked hands a transition of this node to the sync, which writes the latest per user.
func (p *PresenceTracker) queueLocked(user string, ch localChange) {
	if !p.sync {
		return
	}
	p.changes[user] = ch
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// changedLocked tells the watches of user that their status changed (or may have: a change
// undone before the watch's frame leaves is not sent).
func (p *PresenceTracker) changedLocked(user string) {
	for w := range p.watchers[user] {
		p.markLocked(w, user)
	}
}

// noteOfflineLocked records when user was last seen, keeping the latest.
func (p *PresenceTracker) noteOfflineLocked(user string, at time.Time) {
	if at.After(p.lastSeen[user]) {
		p.lastSeen[user] = at
	}
}
