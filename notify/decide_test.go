package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/realtime"
)

// allShards holds every shard, as a node alone does.
type allShards struct{}

func (allShards) Held() []int16 {
	out := make([]int16, Shards)
	for i := range out {
		out[i] = int16(i)
	}
	return out
}

type noShards struct{}

func (noShards) Held() []int16 { return nil }

// chat is a conversation of the decider tests: alice sends to everyone else.
type chat struct {
	pool *pgxpool.Pool
	conv uuid.UUID
}

// newChat stores a group with alice and the given other members, as the API would have.
func newChat(t *testing.T, pool *pgxpool.Pool, others ...string) chat {
	t.Helper()
	c := chat{pool: pool, conv: uuid.New()}
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO conversations (id, type, title, created_by, member_count) VALUES ($1, 'group', 't', 'alice', $2)`,
		c.conv, len(others)+1)
	require.NoError(t, err)
	for _, u := range append([]string{"alice"}, others...) {
		_, err := pool.Exec(ctx, `INSERT INTO members (conversation_id, user_id, role, joined_at) VALUES ($1, $2, 'member', now() - interval '1 hour')`, c.conv, u)
		require.NoError(t, err)
	}
	return c
}

// send stores alice's next message (mentioning mentioned) and its notification job, due dueIn
// from now; it returns the message's seq and id.
func (c chat) send(t *testing.T, dueIn time.Duration, mentioned ...string) (int64, uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	var seq int64
	err := c.pool.QueryRow(ctx, `
		WITH next AS (
			UPDATE conversations SET last_seq = last_seq + 1, message_count = message_count + 1 WHERE id = $1
			RETURNING last_seq, message_count)
		INSERT INTO messages (id, conversation_id, seq, ordinal, sender_id, client_msg_id, body, mentions)
		SELECT $2::uuid, $1, last_seq, message_count, 'alice', $4, 'hello', $3 FROM next
		RETURNING seq`, c.conv, id, append([]string{}, mentioned...), id.String()).Scan(&seq)
	require.NoError(t, err)
	_, err = c.pool.Exec(ctx, `UPDATE members SET own_unread = own_unread + 1 WHERE conversation_id = $1 AND user_id = 'alice'`, c.conv)
	require.NoError(t, err)
	_, err = c.pool.Exec(ctx, `INSERT INTO notify_jobs (conversation_id, seq, shard, due_at) VALUES ($1, $2, $3, now() + $4::interval)`,
		c.conv, seq, ShardOf(c.conv), dueIn.String())
	require.NoError(t, err)
	return seq, id
}

// requests returns the notification requests stored for the conversation's message seq (all
// messages when seq is 0), by recipient.
func (c chat) requests(t *testing.T, seq int64) []api.NotificationRequested {
	t.Helper()
	rows, err := c.pool.Query(context.Background(), `
		SELECT id, body FROM webhook_deliveries
		WHERE conversation_id = $1 AND type = $2 AND ($3 = 0 OR seq = $3)
		ORDER BY seq, id`, c.conv, NotificationRequested, seq)
	require.NoError(t, err)
	defer rows.Close()
	var out []api.NotificationRequested
	for rows.Next() {
		var id, body string
		require.NoError(t, rows.Scan(&id, &body))
		var n api.NotificationRequested
		require.NoError(t, json.Unmarshal([]byte(body), &n))
		require.Equal(t, id, n.Id, "the row's id is the body's")
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

func recipients(requests []api.NotificationRequested) []string {
	out := make([]string, len(requests))
	for i, r := range requests {
		out[i] = r.Notification.UserId
	}
	return out
}

func (c chat) pendingJobs(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, c.pool.QueryRow(context.Background(), `SELECT count(*) FROM notify_jobs WHERE conversation_id = $1`, c.conv).Scan(&n))
	return n
}

func enabledConfig() Config {
	cfg := DefaultConfig()
	cfg.URL, cfg.Secret = "http://127.0.0.1:1/hooks", "test-secret"
	return cfg
}

func newTestDecider(t *testing.T, cfg Config, pool *pgxpool.Pool, receipts ReceiptBook, shards ShardHolder) (*Decider, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return NewDecider(cfg, pool, receipts, shards, 0, nil, reg, slog.New(slog.DiscardHandler)), reg
}

func TestDeciderRequestsOnlyForRecipientsWhoDidNotGetTheMessage(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	c := newChat(t, pool, "bob", "carol", "dave", "erin", "frank", "gina")
	ctx := context.Background()
	_, err := pool.Exec(ctx, `UPDATE members SET muted = true WHERE conversation_id = $1 AND user_id = 'dave'`, c.conv)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO blocks (user_id, blocked_id) VALUES ('erin', 'alice')`)
	require.NoError(t, err)
	first, _ := c.send(t, -time.Minute)
	seq, msgID := c.send(t, -time.Minute, "frank")
	// gina read both; carol's socket received the second.
	_, err = pool.Exec(ctx, `UPDATE members SET last_read_seq = $2, read_ordinal = 2 WHERE conversation_id = $1 AND user_id = 'gina'`, c.conv, seq)
	require.NoError(t, err)
	receipts := NewMemoryReceipts(time.Hour, time.Now)
	receipts.Received("carol", []realtime.EventRef{{ConversationID: c.conv, Seq: seq}})

	d, reg := newTestDecider(t, enabledConfig(), pool, receipts, allShards{})
	decided, err := d.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, decided)

	require.Equal(t, []string{"bob", "carol", "frank"}, recipients(c.requests(t, first)),
		"the first message: not alice (the sender), dave (muted), erin (blocks alice), gina (read it)")
	second := c.requests(t, seq)
	require.Equal(t, []string{"bob", "frank"}, recipients(second), "carol's socket received the second")
	bob, frank := second[0], second[1]
	require.Equal(t, c.conv.String()+":2:bob", bob.Id)
	require.Equal(t, api.Notification{
		UserId: "bob", ConversationId: c.conv, Seq: seq, MessageId: msgID, SenderId: "alice", Mention: false, UnreadCount: 2,
	}, bob.Notification)
	require.True(t, frank.Notification.Mention, "frank is mentioned")
	require.Equal(t, api.NotificationRequestedTypeNotificationRequested, frank.Type)
	require.Zero(t, c.pendingJobs(t), "each job is decided once and gone")

	skipped := func(reason string) float64 {
		return testutil.ToFloat64(d.metrics.skipped[map[string]int{"muted": skipMuted, "blocked": skipBlocked, "received": skipReceived, "read": skipRead}[reason]])
	}
	require.Equal(t, 5.0, testutil.ToFloat64(d.metrics.requested))
	require.Equal(t, 2.0, skipped("muted"))
	require.Equal(t, 2.0, skipped("blocked"))
	require.Equal(t, 1.0, skipped("received"))
	require.Equal(t, 2.0, skipped("read"))
	require.Equal(t, 1, testutil.CollectAndCount(reg, "parley_notifications_requested_total"))
}

func TestDeciderWaitsForTheDelayAndItsShards(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	c := newChat(t, pool, "bob")
	c.send(t, time.Hour)
	receipts := NewMemoryReceipts(time.Hour, time.Now)

	d, _ := newTestDecider(t, enabledConfig(), pool, receipts, allShards{})
	decided, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	require.Zero(t, decided, "not due for an hour")

	c.send(t, -time.Minute)
	idle, _ := newTestDecider(t, enabledConfig(), pool, receipts, noShards{})
	decided, err = idle.RunOnce(context.Background())
	require.NoError(t, err)
	require.Zero(t, decided, "a node without the shard leaves it alone")
	require.Empty(t, c.requests(t, 0))
	require.Equal(t, 2, c.pendingJobs(t))
}

func TestDeciderSkipsDeletedMessagesAndUnwantedType(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	c := newChat(t, pool, "bob")
	seq, _ := c.send(t, -time.Minute)
	_, err := pool.Exec(context.Background(), `UPDATE messages SET deleted_at = now(), body = '' WHERE conversation_id = $1 AND seq = $2`, c.conv, seq)
	require.NoError(t, err)
	c.send(t, -time.Minute)
	cfg := enabledConfig()
	cfg.Events = []string{"message.created"} // no notification.requested
	d, _ := newTestDecider(t, cfg, pool, NewMemoryReceipts(time.Hour, time.Now), allShards{})
	decided, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, decided)
	require.Empty(t, c.requests(t, 0), "a deleted message notifies no one; an operator who does not want requests gets none")
	require.Zero(t, c.pendingJobs(t))
}

// Nodes that decide at once (a lease handed over mid-pass) write each request once.
func TestDecidersOnTwoNodesRequestEachNotificationOnce(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	c := newChat(t, pool, "bob", "carol")
	const messages = 40
	for range messages {
		c.send(t, -time.Minute)
	}
	receipts := NewMemoryReceipts(time.Hour, time.Now)
	a, _ := newTestDecider(t, enabledConfig(), pool, receipts, allShards{})
	b, _ := newTestDecider(t, enabledConfig(), pool, receipts, allShards{})
	var wg sync.WaitGroup
	for _, d := range []*Decider{a, b} {
		wg.Go(func() {
			_, err := d.RunOnce(context.Background())
			require.NoError(t, err)
		})
	}
	wg.Wait()
	requested := testutil.ToFloat64(a.metrics.requested) + testutil.ToFloat64(b.metrics.requested)
	require.Equal(t, float64(2*messages), requested, "each message decided by one node")
	var rows int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE conversation_id = $1`, c.conv).Scan(&rows))
	require.Equal(t, 2*messages, rows)
}

func TestMemoryReceiptsForgetAfterTwoGenerations(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	r := NewMemoryReceipts(time.Minute, clock)
	ev := realtime.EventRef{ConversationID: uuid.New(), Seq: 3}
	r.Received("bob", []realtime.EventRef{ev})
	now = now.Add(90 * time.Second) // one swap: still in the previous generation
	got, err := r.ReceivedBy(context.Background(), ev)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"bob": true}, got)
	now = now.Add(61 * time.Second) // a second swap: gone
	got, err = r.ReceivedBy(context.Background(), ev)
	require.NoError(t, err)
	require.Empty(t, got)
}
