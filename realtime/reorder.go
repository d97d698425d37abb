package realtime

import (
	"time"

	"go.opentelemetry.io/otel/trace"
)

// delivery is an event ready for the hub: its envelope and what fan-out needs to know of it.
type delivery struct {
	env Envelope
	// kind is the event type; member is the user a member.* event is about.
	kind   string
	member string
	// frame is the encoded event frame, shared by every connection it goes to.
	frame []byte
	// span, when traced, is the event's delivery span on this node: the parent of its writes to
	// the sockets. nil when tracing is off.
	span *trace.SpanContext
}

// reorder puts one conversation's events back in seq order. An event ahead of the next expected
// seq is held until the gap fills or its time runs out (then the hub reads the gap from
// PostgreSQL); an event at or below it was handed on already and is dropped. The zero value starts
// at the first event offered.
type reorder struct {
	next  int64
	held  map[int64]delivery
	since time.Time // when the current gap opened
}

// offer takes an arriving event and returns the events now in order, oldest first.
func (r *reorder) offer(d delivery, now time.Time) (ready []delivery, duplicate bool) {
	seq := d.env.Seq
	if r.next == 0 {
		r.next = seq
	}
	if seq < r.next {
		return nil, true
	}
	if seq > r.next {
		if _, ok := r.held[seq]; ok {
			return nil, true
		}
		if r.held == nil {
			r.held = make(map[int64]delivery)
		}
		if len(r.held) == 0 {
			r.since = now
		}
		r.held[seq] = d
		return nil, false
	}
	r.next++
	return r.drain(append(ready, d), now), false
}

// drain appends the held events that have become consecutive.
func (r *reorder) drain(ready []delivery, now time.Time) []delivery {
	for {
		d, ok := r.held[r.next]
		if !ok {
			break
		}
		delete(r.held, r.next)
		ready = append(ready, d)
		r.next++
	}
	if len(r.held) > 0 {
		r.since = now // a later gap: its own clock
	}
	return ready
}

// gap returns the missing seqs [from, to) before the first held event, when there is one.
func (r *reorder) gap() (from, to int64, ok bool) {
	if len(r.held) == 0 {
		return 0, 0, false
	}
	to = 0
	for seq := range r.held {
		if to == 0 || seq < to {
			to = seq
		}
	}
	return r.next, to, true
}

// expired reports whether the gap has waited longer than timeout, or too much is held.
func (r *reorder) expired(now time.Time, timeout time.Duration, maxHeld int) bool {
	return len(r.held) > 0 && (now.Sub(r.since) >= timeout || len(r.held) > maxHeld)
}

// fill takes events read from the log for the gap and returns what is now in order. A held copy
// of an event the log returns is dropped, not handed on twice. Should the log lack part of the gap
// (it cannot for committed events), the missing seqs are skipped rather than waited for forever.
func (r *reorder) fill(events []delivery, now time.Time) []delivery {
	var ready []delivery
	for _, d := range events {
		seq := d.env.Seq
		if seq < r.next {
			continue // handed on already
		}
		for ; r.next < seq; r.next++ {
			if h, ok := r.held[r.next]; ok {
				delete(r.held, r.next)
				ready = append(ready, h)
			}
		}
		delete(r.held, seq)
		ready = append(ready, d)
		r.next++
	}
	if len(events) == 0 {
		if _, to, ok := r.gap(); ok {
			r.next = to
		}
	}
	return r.drain(ready, now)
}

func (r *reorder) heldCount() int { return len(r.held) }
