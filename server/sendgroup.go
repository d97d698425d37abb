package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/internal/batch"
)

const (
	// maxSendGroup bounds the sends written together: one round trip and one commit for all.
	maxSendGroup = 64
	// maxSendWriters is how many groups are written at once; the sends that arrive meanwhile wait
	// for a writer and form the next group.
	maxSendWriters = 4
	// sendGroupTimeout bounds a group's write: it outlives any one send's request, whose client
	// may go away while the others wait for the same commit.
	sendGroupTimeout = 15 * time.Second
)

// sendGroup writes concurrent sends in groups (group commit, see package batch): the MessageSend
// statements of a group go as one batch, one implicit transaction, so they share one round trip
// and one commit. Each send keeps its own seq, idempotency and answer: should the group fail (a
// repeated client_msg_id aborts the whole transaction), each of its sends is written again on its
// own, so that one send's failure never fails the others.
type sendGroup struct {
	pool    *pgxpool.Pool
	sizes   prometheus.Histogram
	batcher *batch.Batcher[db.MessageSendParams, int64]
}

func newSendGroup(pool *pgxpool.Pool, reg prometheus.Registerer) *sendGroup {
	g := &sendGroup{pool: pool, sizes: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "parley_send_group_size",
		Help:    "Sends written in one transaction and commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
	})}
	reg.MustRegister(g.sizes)
	g.batcher = batch.New(maxSendGroup, maxSendWriters, sendGroupTimeout, g.write)
	return g
}

// send writes one send, grouped with those that arrive at the same time, and returns its seq;
// pgx.ErrNoRows when the sender is not a member.
func (g *sendGroup) send(ctx context.Context, params db.MessageSendParams) (int64, error) {
	return g.batcher.Do(ctx, params)
}

// write writes a group in one batch; when that fails, each send of it alone.
func (g *sendGroup) write(ctx context.Context, params []db.MessageSendParams, seqs []int64, errs []error) {
	g.sizes.Observe(float64(len(params)))
	// Conversations in one order, so that groups written at once, on this node or another, lock
	// their rows in the same order and never deadlock; a conversation's sends in arrival order.
	order := make([]int, len(params))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(params[a].ConversationID.String(), params[b].ConversationID.String())
	})
	if err := g.writeBatch(ctx, params, seqs, errs, order); err == nil || len(order) == 1 {
		return
	}
	for _, i := range order {
		_ = g.writeBatch(ctx, params, seqs, errs, []int{i})
	}
}

// writeBatch writes the sends which names in one batch, one implicit transaction: all or none.
// It records each send's outcome and returns the first error of any.
func (g *sendGroup) writeBatch(ctx context.Context, params []db.MessageSendParams, seqs []int64, errs []error, which []int) error {
	batchParams := make([]db.MessageSendParams, len(which))
	for k, i := range which {
		batchParams[k] = params[i]
	}
	// The batch runs on a connection held until its outcome is read: sent through the pool, the
	// connection would go back to it when the generated QueryRow closes the batch, and the Close
	// below (the only way to learn whether the implicit transaction committed) would then touch
	// a connection another request is using.
	conn, err := g.pool.Acquire(ctx)
	if err != nil {
		err = fmt.Errorf("acquire a connection for a send group: %w", err)
		for _, i := range which {
			seqs[i], errs[i] = 0, err
		}
		return err
	}
	defer conn.Release()
	var first error
	results := db.New(conn).MessageSend(ctx, batchParams)
	results.QueryRow(func(k int, seq int64, err error) {
		seqs[which[k]], errs[which[k]] = seq, err
		if err != nil && !errors.Is(err, pgx.ErrNoRows) && first == nil {
			first = err
		}
	})
	if err := results.Close(); err != nil && first == nil {
		first = err
	}
	if first != nil {
		for _, i := range which {
			if errs[i] == nil || errors.Is(errs[i], pgx.ErrNoRows) {
				// Rolled back with the rest: nothing of it was stored.
				seqs[i], errs[i] = 0, fmt.Errorf("send in a failed group: %w", first)
			}
		}
	}
	return first
}
