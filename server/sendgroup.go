package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/internal/batch"
)

const (
	// maxSendGroup bounds the sends written together: one statement and one commit for all.
	maxSendGroup = 64
	// maxSendWriters is how many groups are written at once; the sends that arrive meanwhile wait
	// for a writer and form the next group. Two, measured against one, three, four and eight
	// (BENCHMARKS.md): fewer, larger groups cost PostgreSQL less and wait less on each other's
	// conversation locks, and a second writer fills the wait for the first one's commit.
	maxSendWriters = 2
	// sendGroupTimeout bounds a group's write: it outlives any one send's request, whose client
	// may go away while the others wait for the same commit.
	sendGroupTimeout = 15 * time.Second
)

// sendGroup writes concurrent sends in groups (group commit, see package batch): a group is one
// MessageSendGroup statement, so its sends share one round trip, one execution of the statement
// and one commit. Each send keeps its own seq, idempotency and answer: should the group fail (a
// repeated client_msg_id fails the whole statement), each of its sends is written again on its
// own, so that one send's failure never fails the others.
type sendGroup struct {
	pool    *pgxpool.Pool
	sizes   prometheus.Histogram
	batcher *batch.Batcher[db.MessageSendParams, int64]
}

func newSendGroup(pool *pgxpool.Pool, reg prometheus.Registerer) *sendGroup {
	g := &sendGroup{pool: pool, sizes: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "parley_send_group_size",
		Help:    "Sends written in one statement and commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
	})}
	reg.MustRegister(g.sizes)
	g.batcher = batch.New(maxSendGroup, maxSendWriters, sendGroupTimeout, g.write)
	return g
}

// send writes one send, grouped with those that arrive at the same time, and returns its seq;
// pgx.ErrNoRows when send_refusal refused it.
func (g *sendGroup) send(ctx context.Context, params db.MessageSendParams) (int64, error) {
	return g.batcher.Do(ctx, params)
}

// write writes a group in one statement; when that fails, each send of it alone.
func (g *sendGroup) write(ctx context.Context, params []db.MessageSendParams, seqs []int64, errs []error) {
	g.sizes.Observe(float64(len(params)))
	all := make([]int, len(params))
	for i := range all {
		all[i] = i
	}
	if err := g.writeGroup(ctx, params, seqs, errs, all); err == nil || len(all) == 1 {
		return
	}
	for _, i := range all {
		_ = g.writeGroup(ctx, params, seqs, errs, []int{i})
	}
}

// writeGroup writes the sends which names, in that order, in one statement: all or none. It
// records each send's outcome and returns the statement's error.
func (g *sendGroup) writeGroup(ctx context.Context, params []db.MessageSendParams, seqs []int64, errs []error, which []int) error {
	if len(which) == 1 {
		return g.writeAlone(ctx, params, seqs, errs, which[0])
	}
	rows, err := db.New(g.pool).MessageSendGroup(ctx, groupParams(params, which))
	if err != nil {
		err = fmt.Errorf("send group of %d: %w", len(which), err)
		for _, i := range which {
			seqs[i], errs[i] = 0, err
		}
		return err
	}
	for _, i := range which {
		seqs[i], errs[i] = 0, pgx.ErrNoRows // refused, unless a row says otherwise
	}
	for _, row := range rows {
		i := which[row.Ord-1]
		seqs[i], errs[i] = row.Seq, nil
	}
	return nil
}

// writeAlone writes send i by the one-send statement, which costs PostgreSQL less than a group
// of one: sends that find no other waiting are as quick as they were before grouping.
func (g *sendGroup) writeAlone(ctx context.Context, params []db.MessageSendParams, seqs []int64, errs []error, i int) error {
	seqs[i], errs[i] = db.New(g.pool).MessageSend(ctx, params[i])
	if errs[i] != nil && !errors.Is(errs[i], pgx.ErrNoRows) {
		return errs[i]
	}
	return nil
}

// groupParams lays the sends which names out as the statement's parallel arrays.
func groupParams(params []db.MessageSendParams, which []int) db.MessageSendGroupParams {
	n := len(which)
	arg := db.MessageSendGroupParams{
		Ids: make([]uuid.UUID, n), ConversationIds: make([]uuid.UUID, n), SenderIds: make([]string, n),
		ClientMsgIds: make([]string, n), Bodies: make([]string, n), CreatedAts: make([]time.Time, n),
		ReplyToSeqs: make([]int64, n), Payloads: make([]string, n), TraceContexts: make([]string, n),
		MentionUsers: []string{}, MentionSends: []int32{},
	}
	for k, i := range which {
		p := params[i]
		arg.Ids[k], arg.ConversationIds[k], arg.SenderIds[k] = p.ID, p.ConversationID, p.SenderID
		arg.ClientMsgIds[k], arg.Bodies[k], arg.CreatedAts[k] = p.ClientMsgID, p.Body, p.CreatedAt
		arg.Payloads[k] = string(p.Payload)
		if p.ReplyToSeq != nil {
			arg.ReplyToSeqs[k] = *p.ReplyToSeq
		}
		if p.TraceContext != nil {
			arg.TraceContexts[k] = *p.TraceContext
		}
		for _, m := range p.Mentions {
			arg.MentionUsers = append(arg.MentionUsers, m)
			arg.MentionSends = append(arg.MentionSends, int32(k+1))
		}
	}
	return arg
}
