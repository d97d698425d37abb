package realtime

import (
	"github.com/google/uuid"
)

// subscriber is the hub's record of one connection: what the hub knows of its user's
// memberships. Only the hub touches it, under its lock.
type subscriber struct {
	conn       *Conn
	membership map[uuid.UUID]membership
	// pending is set from registration until the initial subscriptions are made; membership
	// changes that arrive meanwhile are recorded in changes and applied then.
	pending bool
	changes []membershipChange
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

// register adds a new connection, not yet subscribed to anything. It refuses once the hub is
// stopping and beyond the user's connection cap.
func (h *Hub) register(c *Conn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := c.ctx.Err(); err != nil {
		return err
	}
	set := h.users[c.userID]
	if h.cfg.MaxConnsPerUser > 0 && len(set) >= h.cfg.MaxConnsPerUser {
		return errTooManyConns
	}
	if set == nil {
		set = make(map[*Conn]*subscriber)
		h.users[c.userID] = set
	}
	set[c] = &subscriber{conn: c, membership: make(map[uuid.UUID]membership), pending: true}
	c.presence = h.presence
	h.presence.connected(c.userID)
	return nil
}

// subscribeInitial subscribes a registered connection to the conversations read for its user,
// then applies the membership changes recorded since it registered, in order; a change older than
// what the read saw is ignored. It returns the seq after which the connection starts each
// conversation, for its writer: a later event it misses is read back from the log.
func (h *Hub) subscribeInitial(c *Conn, memberships []Membership) map[uuid.UUID]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.users[c.userID][c]
	floors := make(map[uuid.UUID]int64, len(memberships))
	for _, m := range memberships {
		if conv := h.applyLocked(s, m.ConversationID, true, m.AsOf); conv != nil && conv.order.next == 0 {
			conv.order.next = m.AsOf + 1
		}
		floors[m.ConversationID] = m.AsOf
	}
	for _, ch := range s.changes {
		was := s.membership[ch.conv].member
		h.applyLocked(s, ch.conv, ch.added, ch.asOf)
		if ch.added && !was && s.membership[ch.conv].member {
			floors[ch.conv] = ch.floor
		}
		if ch.event != nil && (was || s.membership[ch.conv].member) {
			// The event that brought the change: the new member's first, or the removed
			// member's last. Held by the writer until the client's resume, like any live event.
			c.enqueue(ch.event)
		}
	}
	s.pending, s.changes = false, nil
	return floors
}

func (h *Hub) unregister(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.users[c.userID]
	s := set[c]
	if s == nil {
		return
	}
	for id, m := range s.membership {
		if m.member {
			h.leaveLocked(c, id)
		}
	}
	delete(set, c)
	if len(set) == 0 {
		delete(h.users, c.userID)
	}
	h.presence.unwatch(c)
	h.presence.disconnected(c.userID)
}

// applyLocked records that s's user is (or is no longer) a member of the conversation as of seq
// asOf, and (un)subscribes its connection; a change not newer than what s knows is stale and
// ignored, so membership events that arrive late or twice cannot undo a later change. It
// returns the conversation when the connection is subscribed to it.
func (h *Hub) applyLocked(s *subscriber, id uuid.UUID, member bool, asOf int64) *conversation {
	if m, ok := s.membership[id]; ok && asOf <= m.asOf {
		if m.member {
			return h.convs[id]
		}
		return nil
	}
	s.membership[id] = membership{member: member, asOf: asOf}
	if !member {
		h.leaveLocked(s.conn, id)
		return nil
	}
	conv := h.conversationLocked(id)
	conv.subs[s.conn] = struct{}{}
	return conv
}

// conversationLocked returns the conversation's state here, made when missing.
func (h *Hub) conversationLocked(id uuid.UUID) *conversation {
	conv := h.convs[id]
	if conv == nil {
		conv = &conversation{subs: make(map[*Conn]struct{})}
		h.convs[id] = conv
		h.unknown.Remove(id)
	}
	return conv
}

func (h *Hub) leaveLocked(c *Conn, id uuid.UUID) {
	conv := h.convs[id]
	if conv == nil {
		return
	}
	delete(conv.subs, c)
	h.dropIfEmptyLocked(id, conv)
}

func (h *Hub) dropIfEmptyLocked(id uuid.UUID, conv *conversation) {
	if len(conv.subs) == 0 {
		h.metrics.reorderHeld.Sub(float64(conv.order.heldCount()))
		delete(h.convs, id)
	}
}

// isMember reports whether the connection is subscribed to the conversation.
func (h *Hub) isMember(c *Conn, id uuid.UUID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.users[c.userID][c]
	return s != nil && s.membership[id].member
}

// applyMembershipLocked applies a member.* event to the member's connections on this node.
func (h *Hub) applyMembershipLocked(id uuid.UUID, d delivery) {
	added := d.kind == eventMemberAdded
	if !added && d.kind != eventMemberRemoved {
		return
	}
	for c, s := range h.users[d.member] {
		if s.pending {
			s.changes = append(s.changes, membershipChange{conv: id, added: added, asOf: d.env.Seq, floor: d.env.Seq - 1, event: eventFrame(id, d)})
			continue
		}
		was := s.membership[id].member
		h.applyLocked(s, id, added, d.env.Seq)
		if added && !was && s.membership[id].member {
			// The connection starts the conversation with this event.
			c.enqueue(&outFrame{kind: frameSubscribe, conv: id, seq: d.env.Seq - 1})
		}
	}
}

// subscribeMembersLocked subscribes the connected members of a conversation new to this node,
// read from the store as of seq asOf (event is the event that made the hub look). It reports
// whether a connection still connecting will subscribe.
func (h *Hub) subscribeMembersLocked(id uuid.UUID, members []string, asOf int64, event *outFrame) (connecting bool) {
	for _, user := range members {
		for c, s := range h.users[user] {
			if s.pending {
				s.changes = append(s.changes, membershipChange{conv: id, added: true, asOf: asOf, floor: 0, event: event})
				connecting = true
				continue
			}
			was := s.membership[id].member
			if h.applyLocked(s, id, true, asOf) != nil && !was {
				// New to the connection: everything of the conversation is, up to this event. A
				// connection that had it already (its own read of its conversations saw it while
				// this read was under way) keeps where it started.
				c.enqueue(&outFrame{kind: frameSubscribe, conv: id, seq: 0})
			}
		}
	}
	return connecting
}
