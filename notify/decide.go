package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/internal/lifecycle"
	"github.com/parleyhq/parley/realtime"
)

// ShardHolder says which shards this node works on now (Leases).
type ShardHolder interface {
	Held() []int16
}

// Decider requests push notifications: for each new message of the shards this node holds, once
// its notification delay has passed, every recipient who is not its sender, has not muted the
// conversation, does not block the sender, has not read it and whose sockets did not receive it
// gets one notification.requested webhook. Each message is decided once, in the transaction that
// takes its job and writes its webhooks, whichever node decides it. A lifecycle service.
type Decider struct {
	cfg      Config
	pool     *pgxpool.Pool
	receipts ReceiptBook
	shards   ShardHolder
	// settle is how long past a job's due time the decider waits for the receipts of the
	// delay's last moments to reach the book (one flush of the nodes' receipts).
	settle time.Duration
	// wake tells this node's sender that webhooks were written.
	wake    func()
	metrics decisionMetrics
	logger  *slog.Logger
	life    lifecycle.Base
}

// decideBatch is how many due messages one pass takes.
const decideBatch = 100

// NewDecider returns a stopped decider; its metrics are registered on reg.
func NewDecider(cfg Config, pool *pgxpool.Pool, receipts ReceiptBook, shards ShardHolder, settle time.Duration, wake func(), reg prometheus.Registerer, logger *slog.Logger) *Decider {
	return &Decider{
		cfg: cfg, pool: pool, receipts: receipts, shards: shards, settle: settle, wake: wake,
		metrics: newDecisionMetrics(reg), logger: logger,
	}
}

// Start runs the decider's loop.
func (d *Decider) Start(context.Context) error {
	return d.life.Start("notification decider", func(run *lifecycle.Run) error {
		run.Go(func(ctx context.Context) {
			lifecycle.Every(ctx, d.cfg.PollInterval, func(ctx context.Context) {
				if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
					d.logger.WarnContext(ctx, "notify: decide notifications", "error", err)
				}
			})
		})
		return nil
	})
}

// Stop ends the loop and waits for it.
func (d *Decider) Stop(ctx context.Context) error { return d.life.Stop(ctx, nil) }

// RunOnce decides the due messages of the held shards and returns how many it decided. A message
// whose receipts cannot be read (Redis away) waits for the next pass.
func (d *Decider) RunOnce(ctx context.Context) (int, error) {
	shards := d.shards.Held()
	if len(shards) == 0 {
		return 0, nil
	}
	q := db.New(d.pool)
	decided := 0
	for {
		jobs, err := q.NotifyDueJobs(ctx, db.NotifyDueJobsParams{Shards: shards, SettleSeconds: d.settle.Seconds(), MaxRows: decideBatch})
		if err != nil {
			return decided, fmt.Errorf("read due notification jobs: %w", err)
		}
		for _, job := range jobs {
			if err := d.decide(ctx, job); err != nil {
				return decided, fmt.Errorf("decide %s/%d: %w", job.ConversationID, job.Seq, err)
			}
			decided++
		}
		if len(jobs) < decideBatch {
			if decided > 0 && d.wake != nil {
				d.wake()
			}
			return decided, nil
		}
	}
}

// decide writes the notification requests of one message and deletes its job, in one
// transaction; a job another node took meanwhile is left to it.
func (d *Decider) decide(ctx context.Context, job db.NotifyDueJobsRow) error {
	received, err := d.receipts.ReceivedBy(ctx, realtime.EventRef{ConversationID: job.ConversationID, Seq: job.Seq})
	if err != nil {
		return err
	}
	var skipped [skipReasons]int
	requested := 0
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		taken, err := q.NotifyJobTake(ctx, db.NotifyJobTakeParams{ConversationID: job.ConversationID, Seq: job.Seq})
		if err != nil {
			return fmt.Errorf("take job: %w", err)
		}
		if taken == 0 {
			return nil
		}
		recipients, err := q.NotifyRecipients(ctx, db.NotifyRecipientsParams{ConversationID: job.ConversationID, Seq: job.Seq})
		if err != nil {
			return fmt.Errorf("read recipients: %w", err)
		}
		ids, bodies := make([]string, 0, len(recipients)), make([]string, 0, len(recipients))
		for _, r := range recipients {
			if reason, skip := skipReason(r, received); skip {
				skipped[reason]++
				continue
			}
			id, body, err := notificationBody(job.ConversationID, job.Seq, r)
			if err != nil {
				return err
			}
			ids, bodies = append(ids, id), append(bodies, body)
		}
		if len(ids) > 0 && d.cfg.Wants(NotificationRequested) {
			if err := q.NotificationInsert(ctx, db.NotificationInsertParams{
				ConversationID: job.ConversationID, Seq: job.Seq, Shard: job.Shard, Ids: ids, Bodies: bodies,
			}); err != nil {
				return fmt.Errorf("write notification requests: %w", err)
			}
			requested = len(ids)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.metrics.requested.Add(float64(requested))
	for reason, n := range skipped {
		if n > 0 {
			d.metrics.skipped[reason].Add(float64(n))
		}
	}
	return nil
}

// Why a recipient gets no notification request.
const (
	skipMuted = iota
	skipBlocked
	skipReceived
	skipRead
	skipReasons
)

func skipReason(r db.NotifyRecipientsRow, received map[string]bool) (int, bool) {
	switch {
	case r.Muted:
		return skipMuted, true
	case r.BlocksSender:
		return skipBlocked, true
	case received[r.UserID]:
		return skipReceived, true
	case r.Read:
		return skipRead, true
	}
	return 0, false
}

// notificationBody is the webhook of one recipient: its id, one per recipient and message, and
// its JSON.
func notificationBody(conv uuid.UUID, seq int64, r db.NotifyRecipientsRow) (string, string, error) {
	id := conv.String() + ":" + strconv.FormatInt(seq, 10) + ":" + r.UserID
	body, err := json.Marshal(api.NotificationRequested{
		Id:   id,
		Type: api.NotificationRequestedTypeNotificationRequested,
		Notification: api.Notification{
			UserId: r.UserID, ConversationId: conv, Seq: seq, MessageId: r.MessageID,
			SenderId: r.SenderID, Mention: r.Mentioned, UnreadCount: max(r.UnreadCount, 0),
		},
	})
	if err != nil {
		return "", "", fmt.Errorf("encode notification: %w", err)
	}
	return id, string(body), nil
}

// decisionMetrics count what the decider requested and skipped.
type decisionMetrics struct {
	requested prometheus.Counter
	skipped   [skipReasons]prometheus.Counter
}

func newDecisionMetrics(reg prometheus.Registerer) decisionMetrics {
	requested := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_notifications_requested_total",
		Help: "notification.requested webhooks written: recipients whose sockets did not receive a new message in time.",
	})
	skipped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_notifications_skipped_total",
		Help: "Recipients of new messages who got no notification request, by reason (muted, blocked: they block the sender, received: a socket of theirs got it in time, read: they marked it read).",
	}, []string{"reason"})
	reg.MustRegister(requested, skipped)
	m := decisionMetrics{requested: requested}
	for reason, label := range [skipReasons]string{skipMuted: "muted", skipBlocked: "blocked", skipReceived: "received", skipRead: "read"} {
		m.skipped[reason] = skipped.WithLabelValues(label)
	}
	return m
}
