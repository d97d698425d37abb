package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/parleyhq/parley/gen/api"
)

// presenceVisibleTimeout bounds the visibility read of a subscription or lookup: the reader waits
// on it, and must get back to reading before the client's pings time out.
const presenceVisibleTimeout = 3 * time.Second

// presenceVisibleReads bounds the visibility reads running at once on a node.
const presenceVisibleReads = 8

// presenceWatch is what one connection watches: users in the order asked, of whom the visible
// ones are indexed in the tracker's watchers (strangers never change, so nothing tracks them).
type presenceWatch struct {
	conn    *Conn
	users   []string
	visible map[string]struct{}
	// told is each visible user's status as the connection last heard it; dirty are the users
	// that changed since, to compare when the coalescing timer fires.
	told  map[string]bool
	dirty map[string]struct{}
	timer clockwork.Timer
}

func (w *presenceWatch) stopTimer() {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

// errTooManySubscriptions and errPresenceUnavailable refuse a subscription; the set stays.
var (
	errTooManySubscriptions = errors.New("too many users watched")
	errPresenceUnavailable  = errors.New("presence visibility unavailable")
)

// subscribe replaces the users c watches with users (deduplicated, in order) and queues the whole
// set's presence; from here c gets their changes, coalesced. Refused (too many users, or the
// visibility read failed), the connection keeps what it watched.
func (p *PresenceTracker) subscribe(ctx context.Context, c *Conn, users []string) error {
	if len(users) > p.cfg.MaxSubscriptions {
		return errTooManySubscriptions
	}
	users = dedupe(users)
	visible, err := p.visibleTo(ctx, c.userID, users)
	if err != nil {
		return err
	}
	p.fillLastSeen(ctx, users, visible)

	p.mu.Lock()
	defer p.mu.Unlock()
	p.unwatchLocked(c)
	w := &presenceWatch{conn: c, users: users, visible: visible, told: make(map[string]bool, len(visible)), dirty: make(map[string]struct{})}
	if len(users) > 0 {
		p.watches[c] = w
		p.metrics.subscriptions.Inc()
		p.metrics.watched.Add(float64(len(users)))
		for user := range visible {
			set := p.watchers[user]
			if set == nil {
				set = make(map[*presenceWatch]struct{})
				p.watchers[user] = set
			}
			set[w] = struct{}{}
			w.told[user] = p.onlineLocked(user)
		}
	}
	p.sendLocked(w, p.presenceLocked(users, visible), "full")
	return nil
}

// unwatch ends what c watches: its connection has ended.
func (p *PresenceTracker) unwatch(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unwatchLocked(c)
}

func (p *PresenceTracker) unwatchLocked(c *Conn) {
	w := p.watches[c]
	if w == nil {
		return
	}
	w.stopTimer()
	delete(p.watches, c)
	p.metrics.subscriptions.Dec()
	p.metrics.watched.Sub(float64(len(w.users)))
	for user := range w.visible {
		if set := p.watchers[user]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(p.watchers, user)
			}
		}
	}
}

// markLocked notes that a watched user may have changed, and starts the watch's window: what
// changed within it leaves in one frame at its end.
func (p *PresenceTracker) markLocked(w *presenceWatch, user string) {
	w.dirty[user] = struct{}{}
	if w.timer == nil {
		w.timer = p.afterFunc(p.cfg.Coalesce, func() { p.flush(w) })
	}
}

// flush sends a watch's users whose status differs from what the connection was told last; a
// change undone within the window is no difference.
func (p *PresenceTracker) flush(w *presenceWatch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watches[w.conn] != w {
		return // replaced or ended
	}
	w.timer = nil
	var changed []string
	for _, user := range w.users {
		if _, ok := w.dirty[user]; !ok {
			continue
		}
		if online := p.onlineLocked(user); online != w.told[user] {
			w.told[user] = online
			changed = append(changed, user)
		}
	}
	clear(w.dirty)
	if len(changed) > 0 {
		p.sendLocked(w, p.presenceLocked(changed, w.visible), "change")
	}
}

// sendLocked queues a presence frame as a control frame: never shed.
func (p *PresenceTracker) sendLocked(w *presenceWatch, users []api.Presence, kind string) {
	data, err := json.Marshal(api.PresenceFrame{Type: api.PresenceFrameTypePresence, Users: users})
	if err != nil {
		p.logger.Error("presence: encode frame", "error", err)
		return
	}
	p.metrics.frames.WithLabelValues(kind).Inc()
	w.conn.enqueue(&outFrame{kind: frameControl, data: data})
}

// presenceLocked is the presence of users as viewer sees it: strangers (not in visible) offline
// without a last-seen time.
func (p *PresenceTracker) presenceLocked(users []string, visible map[string]struct{}) []api.Presence {
	out := make([]api.Presence, len(users))
	for i, user := range users {
		out[i] = api.Presence{UserId: user, Status: api.PresenceStatusOffline}
		if _, ok := visible[user]; !ok {
			continue
		}
		if p.onlineLocked(user) {
			out[i].Status = api.PresenceStatusOnline
		} else if at, ok := p.lastSeen[user]; ok {
			at = at.UTC().Truncate(time.Millisecond)
			out[i].LastSeenAt = &at
		}
	}
	return out
}

// Lookup is the presence of users (deduplicated, in order) as viewer sees them, for GET
// /v1/presence.
func (p *PresenceTracker) Lookup(ctx context.Context, viewer string, users []string) ([]api.Presence, error) {
	users = dedupe(users)
	visible, err := p.visibleTo(ctx, viewer, users)
	if err != nil {
		return nil, err
	}
	p.fillLastSeen(ctx, users, visible)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.presenceLocked(users, visible), nil
}

// visibleTo reads which of users viewer may see; one's own presence is always visible.
func (p *PresenceTracker) visibleTo(ctx context.Context, viewer string, users []string) (map[string]struct{}, error) {
	visible := make(map[string]struct{})
	var others []string
	for _, u := range users {
		if u == viewer {
			visible[u] = struct{}{}
		} else {
			others = append(others, u)
		}
	}
	if len(others) == 0 || p.visible == nil {
		return visible, nil
	}
	ctx, cancel := context.WithTimeout(ctx, presenceVisibleTimeout)
	defer cancel()
	// A slot first: when a node's clients all reconnect and subscribe at once, their reads queue
	// here, in order, instead of taking every connection of the pool from the API's requests.
	select {
	case p.visibleSlots <- struct{}{}:
		defer func() { <-p.visibleSlots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: wait for a visibility read: %w", errPresenceUnavailable, ctx.Err())
	}
	seen, err := p.visible.PresenceVisible(ctx, viewer, others)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPresenceUnavailable, err)
	}
	for _, u := range seen {
		visible[u] = struct{}{}
	}
	return visible, nil
}

// fillLastSeen reads from Redis when the visible offline users this node knows nothing of were
// last seen (they went offline before it started, say). Best effort: without it, last_seen_at is
// left out, as the schema allows.
func (p *PresenceTracker) fillLastSeen(ctx context.Context, users []string, visible map[string]struct{}) {
	p.mu.Lock()
	seen := p.seen
	var unknown []string
	for _, u := range users {
		if _, ok := visible[u]; !ok || p.onlineLocked(u) {
			continue
		}
		if _, ok := p.lastSeen[u]; !ok {
			unknown = append(unknown, u)
		}
	}
	p.mu.Unlock()
	if seen == nil || len(unknown) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, presenceVisibleTimeout)
	defer cancel()
	times, err := seen(ctx, unknown)
	if err != nil {
		p.logger.Debug("presence: read last seen", "error", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for u, at := range times {
		p.noteOfflineLocked(u, at)
	}
}

func dedupe(users []string) []string {
	seen := make(map[string]struct{}, len(users))
	out := make([]string, 0, len(users))
	for _, u := range users {
		if _, dup := seen[u]; !dup {
			seen[u] = struct{}{}
			out = append(out, u)
		}
	}
	return out
}
