package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/gen/api"
)

const (
	eventMemberAdded    = string(api.EventTypeMemberAdded)
	eventMemberRemoved  = string(api.EventTypeMemberRemoved)
	eventMessageCreated = string(api.EventTypeMessageCreated)
)

// conversation is the hub's state for one conversation with members connected here: who is
// subscribed, and the stream that hands its events on in seq order, exactly once.
type conversation struct {
	subs  map[*Conn]struct{}
	order reorder
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
	d := delivery{env: env, kind: hdr.Type, frame: eventFrameBytes(env.Payload)}
	if hdr.Member != nil {
		d.member = hdr.Member.UserID
	}
	return d, nil
}

// An event frame is the event's JSON between these two.
const (
	eventFramePrefix = `{"type":"event","event":`
	eventFrameSuffix = `}`
)

// eventFrameBytes wraps an event's JSON in an event frame.
func eventFrameBytes(payload []byte) []byte {
	frame := make([]byte, 0, len(eventFramePrefix)+len(payload)+len(eventFrameSuffix))
	frame = append(frame, eventFramePrefix...)
	frame = append(frame, payload...)
	return append(frame, eventFrameSuffix...)
}

// Deliver routes a batch of events to the connections of their conversations' members. It is
// called by the broker's consumer, one batch at a time and outside any transaction; an error asks
// the broker to deliver again later.
func (h *Hub) Deliver(ctx context.Context, batch []Envelope) error {
	for _, env := range batch {
		d, err := newDelivery(env)
		if err != nil {
			return err
		}
		if h.cfg.Tracer != nil && env.Trace.IsValid() {
			err = h.deliverTraced(ctx, d)
		} else {
			_, err = h.deliver(ctx, d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// deliverTraced delivers an event inside its delivery span on this node, which says how many
// connections here it went to (none when it is held for a gap, or no member is connected here).
func (h *Hub) deliverTraced(ctx context.Context, d delivery) error {
	ctx, span := h.cfg.Tracer.startDeliver(ctx, d.env)
	sc := span.SpanContext()
	d.span = &sc
	outcome, err := h.deliver(ctx, d)
	span.SetAttributes(attrConnections.Int(outcome.connections), attrHeld.Bool(outcome.held))
	endWithError(span, err)
	return err
}

// deliveryOutcome is what became of one delivered event: how many connections it was queued to
// now, and whether it waits in its conversation's reorder buffer for a gap to fill.
type deliveryOutcome struct {
	connections int
	held        bool
}

func (h *Hub) deliver(ctx context.Context, d delivery) (deliveryOutcome, error) {
	var outcome deliveryOutcome
	id := d.env.ConversationID
	conv, err := h.conversationFor(ctx, id, d)
	if conv == nil || err != nil {
		return outcome, err
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
	outcome.held = !duplicate
	for _, r := range ready {
		n := h.fanOutLocked(id, conv, r)
		if r.env.Seq == d.env.Seq {
			outcome.connections, outcome.held = n, false
		}
	}
	return outcome, nil
}

// conversationFor returns the conversation's state with the hub locked, or nil (unlocked) when no
// connection here is a member. A conversation created while its members were connected has had
// no event that subscribed them: its members are read once, and remembered as unknown here when
// none is connected.
func (h *Hub) conversationFor(ctx context.Context, id uuid.UUID, d delivery) (*conversation, error) {
	h.mu.Lock()
	if conv := h.convs[id]; conv != nil {
		return conv, nil
	}
	if d.kind == eventMemberAdded && len(h.users[d.member]) > 0 {
		return h.conversationLocked(id), nil
	}
	if h.unknown.Contains(id) {
		h.mu.Unlock()
		return nil, nil
	}
	h.mu.Unlock()
	members, asOf, err := h.log.store.MembersOf(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", id, err)
	}
	h.mu.Lock()
	connecting := h.subscribeMembersLocked(id, members, asOf, eventFrame(id, d))
	if conv := h.convs[id]; conv != nil {
		return conv, nil
	}
	if !connecting {
		// A connection still connecting will subscribe: its next events must find it.
		h.unknown.Add(id, struct{}{})
	}
	h.mu.Unlock()
	return nil, nil
}

// fanOutLocked hands one in-order event to every subscribed connection. A member.added event
// first subscribes the new member's connections, so they receive it; a member.removed event
// reaches the removed member's connections, which then stop receiving. It returns how many
// connections it queued the event to.
func (h *Hub) fanOutLocked(id uuid.UUID, conv *conversation, d delivery) int {
	if d.kind == eventMemberAdded {
		h.applyMembershipLocked(id, d)
	}
	item := eventFrame(id, d)
	for c := range conv.subs {
		c.enqueue(item)
	}
	n := len(conv.subs)
	if d.kind == eventMemberRemoved {
		h.applyMembershipLocked(id, d)
	}
	h.dropIfEmptyLocked(id, conv)
	return n
}

// eventFrame is the queue item of an in-order event, shared by every connection it goes to.
func eventFrame(id uuid.UUID, d delivery) *outFrame {
	item := &outFrame{kind: frameEvent, conv: id, seq: d.env.Seq, data: d.frame, committedAt: d.env.CommittedAt}
	if d.kind == eventMemberRemoved {
		item.removed = d.member
	}
	item.created = d.kind == eventMessageCreated
	item.span = d.span
	return item
}
