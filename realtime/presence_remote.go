package realtime

import (
	"context"
	"maps"
	"slices"
	"time"
)

// What PresenceSync does to the tracker: the other nodes' users in, this node's transitions out.

// attachSync has the tracker queue its transitions for a sync; seen reads last-seen times the
// other nodes wrote.
func (p *PresenceTracker) attachSync(seen func(ctx context.Context, users []string) (map[string]time.Time, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sync, p.seen = true, seen
}

// detachSync stops queueing transitions, and forgets the other nodes: this node no longer hears
// of them.
func (p *PresenceTracker) detachSync() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sync, p.seen = false, nil
	clear(p.changes)
	p.resyncing = nil
	p.replaceRemoteLocked(nil, p.clock.Now())
}

// takeChanges returns this node's transitions not yet written, the latest per user.
func (p *PresenceTracker) takeChanges() map[string]localChange {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.changes) == 0 {
		return nil
	}
	out := p.changes
	p.changes = make(map[string]localChange)
	return out
}

// requeue puts back transitions a sync could not write, unless a later one replaced them.
func (p *PresenceTracker) requeue(changes map[string]localChange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for user, ch := range changes {
		if _, newer := p.changes[user]; !newer && p.sync {
			p.changes[user] = ch
		}
	}
}

// localUsers are the users online on this node now, for a sync that writes them all again; the
// transitions queued so far are dropped, as what it writes includes them.
func (p *PresenceTracker) localUsers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.changes)
	return slices.Collect(maps.Keys(p.local))
}

// applyRemote records another node's transition.
func (p *PresenceTracker) applyRemote(ch remoteChange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resyncing != nil {
		p.resyncing = append(p.resyncing, ch)
		return
	}
	p.applyRemoteLocked(ch)
}

func (p *PresenceTracker) applyRemoteLocked(ch remoteChange) {
	was := p.onlineLocked(ch.user)
	if ch.online {
		addTo(p.remote, ch.user, ch.node)
		addTo(p.byNode, ch.node, ch.user)
	} else {
		removeFrom(p.remote, ch.user, ch.node)
		removeFrom(p.byNode, ch.node, ch.user)
	}
	if now := p.onlineLocked(ch.user); now != was {
		if !now {
			p.noteOfflineLocked(ch.user, ch.at)
		}
		p.changedLocked(ch.user)
	}
}

// nodeGone takes every user of a node whose lease lapsed off it; those online nowhere else go
// offline, last seen at.
func (p *PresenceTracker) nodeGone(node string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for user := range p.byNode[node] {
		p.applyRemoteLocked(remoteChange{user: user, node: node, online: false, at: at})
	}
	delete(p.byNode, node)
}

// beginResync holds remote changes back while the sync reads every node's users.
func (p *PresenceTracker) beginResync() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resyncing == nil {
		p.resyncing = make([]remoteChange, 0, 8)
	}
}

// endResync replaces the other nodes' users with what the sync read (nil: it failed, and the view
// stays), then applies the changes held back meanwhile: any of them may be older than what was
// read, but each node's changes come in order, so the last one of a user wins as it should.
func (p *PresenceTracker) endResync(nodes map[string][]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	held := p.resyncing
	p.resyncing = nil
	if nodes != nil {
		p.replaceRemoteLocked(nodes, p.clock.Now())
	}
	for _, ch := range held {
		p.applyRemoteLocked(ch)
	}
}

func (p *PresenceTracker) replaceRemoteLocked(nodes map[string][]string, now time.Time) {
	old := p.remote
	p.remote = make(map[string]map[string]struct{})
	p.byNode = make(map[string]map[string]struct{})
	for node, users := range nodes {
		for _, user := range users {
			addTo(p.remote, user, node)
			addTo(p.byNode, node, user)
		}
	}
	check := func(user string, wasRemote bool) {
		was := p.local[user] != nil || wasRemote
		if online := p.onlineLocked(user); online != was {
			if !online {
				p.noteOfflineLocked(user, now)
			}
			p.changedLocked(user)
		}
	}
	for user := range old {
		check(user, true)
	}
	for user := range p.remote {
		if _, seen := old[user]; !seen {
			check(user, false)
		}
	}
}

func addTo(m map[string]map[string]struct{}, key, value string) {
	set := m[key]
	if set == nil {
		set = make(map[string]struct{}, 1)
		m[key] = set
	}
	set[value] = struct{}{}
}

func removeFrom(m map[string]map[string]struct{}, key, value string) {
	if set := m[key]; set != nil {
		delete(set, value)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}
