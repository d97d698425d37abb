package realtime

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/gen/api"
)

// catchUp brings the connection, in one conversation, from after to just before `before` (0: to
// the end of the log) from the log; when more than ResumeLimit events are missing it tells the
// client to page them itself (resync) instead. It reports whether it replayed, and the last seq
// it sent.
func (w *writer) catchUp(where string, conv uuid.UUID, after, before int64) (last int64, replayed bool, err error) {
	limit := w.c.env.cfg.ResumeLimit
	missing := int64(limit) + 1 // to the end: one more than may be replayed says there is more
	if before > 0 {
		if missing = before - after - 1; missing > int64(limit) {
			return 0, false, w.resync(conv, after)
		}
	}
	if err := w.pause(); err != nil { // reading the log is not writing
		return 0, false, err
	}
	events, err := w.c.env.log.read(w.c.ctx, where, conv, after, before, int(missing))
	if err != nil {
		return 0, false, err
	}
	if before == 0 && len(events) > limit || before > 0 && int64(len(events)) != missing {
		return 0, false, w.resync(conv, after)
	}
	last = after
	for _, e := range events {
		if err := w.sendParts(frameEvent, []byte(eventFramePrefix), e.Payload, []byte(eventFrameSuffix)); err != nil {
			return 0, false, err
		}
		w.noteReplayed(conv, e)
		last = e.Seq
	}
	return last, true, nil
}

// resync tells the client to page the conversation's log from after, while live events keep
// flowing from the next one.
func (w *writer) resync(conv uuid.UUID, after int64) error {
	delete(w.cursors, conv)
	delete(w.floors, conv)
	return w.sendResync(conv, after)
}

// startLive applies the client's resume cursors (nil when it sent none in time), answers resumed,
// and releases the live events held meanwhile.
func (w *writer) startLive(cursors map[uuid.UUID]int64) error {
	wasAwaiting := w.awaiting
	w.awaiting = false
	if cursors != nil {
		if err := w.resume(cursors); err != nil {
			return err
		}
	}
	if !wasAwaiting {
		return nil
	}
	held := w.held
	w.held = nil
	for _, f := range held {
		if err := w.sendEvent(f); err != nil {
			return err
		}
	}
	return nil
}

// resume replays each listed conversation after the client's seq, or tells it to resync. At most
// MaxConcurrentResumes run at once on the node; a client that waits longer than ResumeSlotWait
// for its turn is closed with 1013 and tries again.
func (w *writer) resume(cursors map[uuid.UUID]int64) error {
	env := w.c.env
	if err := w.pause(); err != nil { // waiting for a slot is not writing
		return err
	}
	slotWait := time.NewTimer(env.cfg.ResumeSlotWait)
	select {
	case env.resumeSlots <- struct{}{}:
		slotWait.Stop()
		defer func() { <-env.resumeSlots }()
	case <-slotWait.C:
		return errResumeBusy
	case <-w.c.ctx.Done():
		slotWait.Stop()
		return context.Cause(w.c.ctx)
	}
	ids := make([]uuid.UUID, 0, len(cursors))
	for id := range cursors {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	resumed := make(api.Cursors, len(ids))
	for _, id := range ids {
		after := cursors[id]
		outcome, last, err := w.resumeOne(id, after)
		if err != nil {
			return err
		}
		env.metrics.resumes.WithLabelValues(outcome).Inc()
		if outcome == "replayed" {
			w.cursors[id] = last
			resumed[id.String()] = last
		}
	}
	data, err := json.Marshal(api.ResumedFrame{Type: api.ResumedFrameTypeResumed, Cursors: resumed})
	if err != nil {
		return err
	}
	return w.send(data, frameControl)
}

// resumeOne replays one conversation and says how it went (replayed, resync or not_member).
func (w *writer) resumeOne(id uuid.UUID, after int64) (string, int64, error) {
	if !w.c.env.hub.isMember(w.c, id) {
		return "not_member", 0, nil
	}
	if sent, started := w.cursors[id]; started && sent > after {
		// Live events past the client's cursor went out already; what lies before them can no
		// longer arrive in order here.
		return "resync", 0, w.sendResync(id, after)
	}
	last, replayed, err := w.catchUp(readResume, id, after, 0)
	switch {
	case err != nil:
		return "", 0, err
	case !replayed:
		return "resync", 0, nil
	}
	return "replayed", last, nil
}
