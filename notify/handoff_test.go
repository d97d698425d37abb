package notify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/realtime"
)

func TestHandOffWritesWantedWebhooksAndNotificationJobs(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	cfg := testConfig("http://127.0.0.1:1/hook", "n1")
	cfg.Events = []string{"message.created", "member.added", NotificationRequested}
	conv := uuid.New()
	committed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	batch := []realtime.Envelope{
		{ConversationID: conv, Seq: 1, Payload: payload(conv, 1, "message.created"), CommittedAt: committed},
		{ConversationID: conv, Seq: 2, Payload: payload(conv, 2, "reaction.added"), CommittedAt: committed},
		{ConversationID: conv, Seq: 3, Payload: payload(conv, 3, "member.added"), CommittedAt: committed},
	}
	woken := 0
	var after func()
	require.NoError(t, pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		var err error
		after, err = NewHandOff(cfg, func() { woken++ }).HandOff(t.Context(), tx, batch)
		return err
	}))
	require.NotNil(t, after)
	after()
	require.Equal(t, 1, woken)

	rows, err := pool.Query(t.Context(), `SELECT id, ordering_key, conversation_id, seq, shard, type, body FROM webhook_deliveries ORDER BY seq`)
	require.NoError(t, err)
	type row struct {
		ID, Key    string
		Conv       uuid.UUID
		Seq        int64
		Shard      int16
		Type, Body string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	require.NoError(t, err)
	require.Len(t, got, 2, "reaction.added is not wanted")
	for i, seq := range []int64{1, 3} {
		r := got[i]
		require.Equal(t, EventWebhookID(conv, seq), r.ID)
		require.Equal(t, conv.String(), r.Key)
		require.Equal(t, ShardOf(conv), r.Shard)
		var body map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(r.Body), &body))
		require.JSONEq(t, `"`+r.ID+`"`, string(body["id"]))
		require.JSONEq(t, `"`+r.Type+`"`, string(body["type"]))
		require.JSONEq(t, string(batch[seq-1].Payload), string(body["event"]), "the event as the API serves it")
	}

	var due time.Time
	var seq int64
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT seq, due_at FROM notify_jobs`).Scan(&seq, &due))
	require.Equal(t, int64(1), seq, "one job, for the message")
	require.True(t, committed.Add(cfg.NotifyDelay).Equal(due), "due at commit + delay, got %s", due)
}

func TestHandOffWithoutNotificationsOrWebhooksWritesNothing(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	conv := uuid.New()
	batch := []realtime.Envelope{{ConversationID: conv, Seq: 1, Payload: payload(conv, 1, "message.created"), CommittedAt: time.Now()}}

	webhooksOnly := testConfig("http://127.0.0.1:1/hook", "n1")
	webhooksOnly.Events = []string{"message.updated"}
	disabled := DefaultConfig()
	for _, cfg := range []Config{webhooksOnly, disabled} {
		require.NoError(t, pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
			after, err := NewHandOff(cfg, func() { t.Error("woken for nothing") }).HandOff(t.Context(), tx, batch)
			require.Nil(t, after)
			return err
		}))
	}
	require.Zero(t, countRows(t, pool, "webhook_deliveries"))
	require.Zero(t, countRows(t, pool, "notify_jobs"))
}
