package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/realtime"
)

var _ realtime.HandOff = (*HandOff)(nil)

// HandOff turns the events the dispatcher published into durable work, in the dispatcher's
// transaction: a webhook_deliveries row for each event type the operator wants, and a
// notify_jobs row for each new message when notifications are wanted.
type HandOff struct {
	cfg  Config
	wake func()
}

// NewHandOff returns the hand-off for cfg. wake, when not nil, is called after a transaction that
// wrote webhooks committed (the sender's Wake), so they go out without waiting for a poll.
func NewHandOff(cfg Config, wake func()) *HandOff {
	return &HandOff{cfg: cfg, wake: wake}
}

// eventType is the part of an event's payload the hand-off reads.
type eventType struct {
	Type string `json:"type"`
}

// webhookBody is the JSON of an api.WebhookEvent with the event as the bytes the API serves:
// what is signed is exactly what was committed, and the payload (valid JSON from PostgreSQL) is
// copied rather than decoded and encoded again.
func webhookBody(id, typ string, payload []byte) ([]byte, error) {
	quotedID, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	quotedType, err := json.Marshal(typ)
	if err != nil {
		return nil, err
	}
	body := make([]byte, 0, len(payload)+len(quotedID)+len(quotedType)+24)
	body = append(append(append(body, `{"id":`...), quotedID...), `,"type":`...)
	body = append(append(append(body, quotedType...), `,"event":`...), payload...)
	return append(body, '}'), nil
}

// EventWebhookID is the webhook-id of an event: one per conversation and seq, so a resend is
// recognisably the same webhook.
func EventWebhookID(conversationID uuid.UUID, seq int64) string {
	return fmt.Sprintf("%s:%d", conversationID, seq)
}

// HandOff implements realtime.HandOff.
func (h *HandOff) HandOff(ctx context.Context, tx pgx.Tx, batch []realtime.Envelope) (func(), error) {
	if !h.cfg.Enabled() {
		return nil, nil
	}
	var hooks db.WebhookEnqueueParams
	var jobs db.NotifyJobEnqueueParams
	wantJobs := h.cfg.Wants(NotificationRequested)
	for _, e := range batch {
		var t eventType
		if err := json.Unmarshal(e.Payload, &t); err != nil {
			return nil, fmt.Errorf("read type of event %s: %w", EventWebhookID(e.ConversationID, e.Seq), err)
		}
		shard := ShardOf(e.ConversationID)
		if h.cfg.Wants(t.Type) {
			id := EventWebhookID(e.ConversationID, e.Seq)
			body, err := webhookBody(id, t.Type, e.Payload)
			if err != nil {
				return nil, fmt.Errorf("encode webhook %s: %w", id, err)
			}
			hooks.Ids = append(hooks.Ids, id)
			hooks.ConversationIds = append(hooks.ConversationIds, e.ConversationID)
			hooks.Seqs = append(hooks.Seqs, e.Seq)
			hooks.Shards = append(hooks.Shards, shard)
			hooks.Types = append(hooks.Types, t.Type)
			hooks.Bodies = append(hooks.Bodies, string(body))
		}
		if wantJobs && t.Type == string(api.EventTypeMessageCreated) {
			jobs.ConversationIds = append(jobs.ConversationIds, e.ConversationID)
			jobs.Seqs = append(jobs.Seqs, e.Seq)
			jobs.Shards = append(jobs.Shards, shard)
			jobs.Due = append(jobs.Due, e.CommittedAt.Add(h.cfg.NotifyDelay).UTC().Truncate(time.Microsecond))
		}
	}
	q := db.New(tx)
	if len(hooks.Ids) > 0 {
		if err := q.WebhookEnqueue(ctx, hooks); err != nil {
			return nil, fmt.Errorf("enqueue %d webhooks: %w", len(hooks.Ids), err)
		}
	}
	if len(jobs.Seqs) > 0 {
		if err := q.NotifyJobEnqueue(ctx, jobs); err != nil {
			return nil, fmt.Errorf("enqueue %d notification jobs: %w", len(jobs.Seqs), err)
		}
	}
	if len(hooks.Ids) == 0 || h.wake == nil {
		return nil, nil
	}
	return h.wake, nil
}
