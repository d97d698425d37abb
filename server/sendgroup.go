package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/gen/db"
)

const (
	// maxSendGroup bounds the sends written together: one round trip and one commit for all.
	maxSendGroup = 64
	// maxSendWriters is how many groups are written at once; the sends that arrive meanwhile wait
	// for a writer and form the next group. So a lone send is written at once, and under load
	// sends are grouped by as many as arrived during one commit, with no timer.
	maxSendWriters = 4
	// sendGroupTimeout bounds a group's write: it outlives any one send's request, whose client
	// may go away while the others wait for the same commit.
	sendGroupTimeout = 15 * time.Second
)

// sendGroup writes concurrent sends in groups (group commit): the MessageSend statements of a
// group go as one batch, one implicit transaction, so they share one round trip and one commit.
// Each send keeps its own seq, idempotency and answer: should the group fail (a repeated
// client_msg_id aborts the whole transaction), each of its sends is written again on its own, so
// that one send's failure never fails the others. It has no goroutine of its own: the senders
// take turns writing, a writer writing the group that waited for it.
type sendGroup struct {
	queries *db.Queries
	sizes   prometheus.Histogram

	mu      sync.Mutex
	pending []*groupedSend
	writers int
}

type groupedSend struct {
	params db.MessageSendParams
	// Exactly one of these is signalled: done once the send is written (seq and err are then
	// set), or lead when the send is to write the next group itself.
	done chan struct{}
	lead chan struct{}
	seq  int64
	err  error
}

func newSendGroup(queries *db.Queries, reg prometheus.Registerer) *sendGroup {
	sizes := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "parley_send_group_size",
		Help:    "Sends written in one transaction and commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
	})
	reg.MustRegister(sizes)
	return &sendGroup{queries: queries, sizes: sizes}
}

// send writes one send, grouped with those that arrive at the same time, and returns its seq;
// pgx.ErrNoRows when the sender is not a member.
func (g *sendGroup) send(ctx context.Context, params db.MessageSendParams) (int64, error) {
	s := &groupedSend{params: params, done: make(chan struct{}), lead: make(chan struct{})}
	g.mu.Lock()
	write := g.writers < maxSendWriters
	if write {
		g.writers++
	} else {
		g.pending = append(g.pending, s)
	}
	g.mu.Unlock()
	if !write {
		// The write is under way, or will be, whatever this request's context says.
		select {
		case <-s.done:
			return s.seq, s.err
		case <-s.lead:
		}
	}
	g.writeGroup(ctx, s)
	return s.seq, s.err
}

// writeGroup writes first and the sends waiting behind it, then hands the writer's turn to the
// first send still waiting, if any: a writer writes one group and returns with its answer.
func (g *sendGroup) writeGroup(ctx context.Context, first *groupedSend) {
	g.mu.Lock()
	n := min(len(g.pending), maxSendGroup-1)
	group := append([]*groupedSend{first}, g.pending[:n]...)
	g.pending = slices.Delete(g.pending, 0, n)
	g.mu.Unlock()

	writeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendGroupTimeout)
	g.write(writeCtx, group)
	cancel()
	for _, s := range group {
		close(s.done)
	}

	g.mu.Lock()
	var next *groupedSend
	if len(g.pending) > 0 {
		next = g.pending[0]
		g.pending = slices.Delete(g.pending, 0, 1)
	} else {
		g.writers--
	}
	g.mu.Unlock()
	if next != nil {
		next.lead <- struct{}{}
	}
}

// write writes a group in one batch; when that fails, each send of it alone.
func (g *sendGroup) write(ctx context.Context, group []*groupedSend) {
	g.sizes.Observe(float64(len(group)))
	// Conversations in one order, so that groups written at once, on this node or another, lock
	// their rows in the same order and never deadlock; a conversation's sends in arrival order.
	ordered := slices.Clone(group)
	slices.SortStableFunc(ordered, func(a, b *groupedSend) int {
		return cmp.Compare(a.params.ConversationID.String(), b.params.ConversationID.String())
	})
	if err := g.writeBatch(ctx, ordered); err == nil || len(ordered) == 1 {
		return
	}
	for _, s := range ordered {
		_ = g.writeBatch(ctx, []*groupedSend{s})
	}
}

// writeBatch writes sends in one batch, one implicit transaction: all or none. It records each
// send's outcome and returns the first error of any.
func (g *sendGroup) writeBatch(ctx context.Context, sends []*groupedSend) error {
	params := make([]db.MessageSendParams, len(sends))
	for i, s := range sends {
		params[i] = s.params
	}
	var first error
	results := g.queries.MessageSend(ctx, params)
	results.QueryRow(func(i int, seq int64, err error) {
		sends[i].seq, sends[i].err = seq, err
		if err != nil && !errors.Is(err, pgx.ErrNoRows) && first == nil {
			first = err
		}
	})
	if err := results.Close(); err != nil && first == nil {
		first = err
	}
	if first != nil {
		for _, s := range sends {
			if s.err == nil || errors.Is(s.err, pgx.ErrNoRows) {
				// Rolled back with the rest: nothing of it was stored.
				s.seq, s.err = 0, fmt.Errorf("send in a failed group: %w", first)
			}
		}
	}
	return first
}
