package realtime

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// eventLog is the one path from the delivery side to PostgreSQL's event log: the hub fills a
// conversation's gap through it, and a connection catches up (a resume, or the events it missed
// while joining) through it. Every read is counted by where it came from.
type eventLog struct {
	store   Store
	metrics *Metrics
	logger  *slog.Logger
}

// Where a read of the log comes from, as the gap-fill metric labels it.
const (
	readReorder    = "reorder"    // a conversation's gap waited on too long
	readCatchUp    = "catch_up"   // the bus lost events on their way here
	readConnection = "connection" // a connection missed events while joining, or after resync
	readResume     = "resume"     // a client's resume
)

// read returns up to limit events with after < seq (and seq < before when before > 0). A failure
// is errStoreUnavailable, wrapped: the caller's client is told to try again, not that it is gone.
func (l *eventLog) read(ctx context.Context, where string, conv uuid.UUID, after, before int64, limit int) ([]StoredEvent, error) {
	if where != readResume {
		l.metrics.gapFills.WithLabelValues(where).Inc()
	}
	events, err := l.store.EventsBetween(ctx, conv, after, before, limit)
	if err != nil {
		if ctx.Err() == nil {
			l.logger.WarnContext(ctx, "read event log", "where", where, "conversation", conv, "after", after, "error", err)
		}
		return nil, fmt.Errorf("%w: %w", errStoreUnavailable, err)
	}
	return events, nil
}

// catchUpPage is how many events a catch-up reads from the log at a time.
const catchUpPage = 500

// CatchUp hands on, for every conversation with connections here, the events committed after the
// last one handed on, read from the log. The broker calls it when its bus lost events on their
// way here (Redis restarted empty): the reorder buffer notices a missing event only when a later
// one arrives, so without this the last events of a conversation would wait for the next one,
// however long that takes.
func (h *Hub) CatchUp(ctx context.Context) error {
	h.mu.Lock()
	var from []gapToFill
	for id, conv := range h.convs {
		if conv.order.next > 0 {
			from = append(from, gapToFill{id: id, from: conv.order.next})
		}
	}
	h.mu.Unlock()
	for _, g := range from {
		for {
			n, err := h.fillGap(ctx, readCatchUp, g)
			if err != nil {
				return err
			}
			if n < catchUpPage {
				break
			}
			g.from += int64(n)
		}
	}
	return nil
}

// gapToFill is a conversation's missing seqs [from, to); to 0 is open-ended.
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
		if _, err := h.fillGap(ctx, readReorder, g); err != nil && ctx.Err() == nil {
			h.logger.WarnContext(ctx, "reorder: fill gap", "conversation", g.id, "from", g.from, "to", g.to, "error", err)
		}
	}
}

// fillGap reads a conversation's gap from the log and hands on what is then in order; a copy the
// bus delivers as well is dropped by the conversation's stream. It returns how many events it
// read.
func (h *Hub) fillGap(ctx context.Context, where string, g gapToFill) (int, error) {
	limit := catchUpPage
	if g.to > 0 {
		limit = int(g.to - g.from)
	}
	stored, err := h.log.read(ctx, where, g.id, g.from-1, g.to, limit)
	if err != nil {
		return 0, err
	}
	fill := make([]delivery, 0, len(stored))
	for _, e := range stored {
		d, err := newDelivery(Envelope{ConversationID: g.id, Seq: e.Seq, Payload: e.Payload})
		if err != nil {
			return 0, err
		}
		fill = append(fill, d)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	conv := h.convs[g.id]
	if conv == nil {
		return len(stored), nil
	}
	if from, _, held := conv.order.gap(); g.to > 0 && (!held || from != g.from) {
		return len(stored), nil // filled meanwhile by events the bus delivered
	}
	before := conv.order.heldCount()
	ready := conv.order.fill(fill, time.Now())
	h.metrics.reorderHeld.Add(float64(conv.order.heldCount() - before))
	for _, r := range ready {
		h.fanOutLocked(g.id, conv, r)
	}
	return len(stored), nil
}
