package notify

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/internal/redistest"
	"github.com/parleyhq/parley/realtime"
)

// Receipts gathered on one node are read on another once flushed, and expire on their own.
func TestRedisReceiptsAreSharedAndExpire(t *testing.T) {
	t.Parallel()
	ns, client := redistest.Namespace(t)
	a := NewRedisReceipts(client, ns, time.Minute, 10*time.Millisecond, testLogger())
	b := NewRedisReceipts(client, ns, time.Minute, 10*time.Millisecond, testLogger())
	require.NoError(t, a.Start(context.Background()))
	ev := realtime.EventRef{ConversationID: uuid.New(), Seq: 7}
	other := realtime.EventRef{ConversationID: ev.ConversationID, Seq: 8}
	a.Received("bob", []realtime.EventRef{ev, other})
	a.Received("carol", []realtime.EventRef{ev})
	require.Eventually(t, func() bool {
		got, err := b.ReceivedBy(context.Background(), ev)
		return err == nil && len(got) == 2
	}, 5*time.Second, 5*time.Millisecond)
	got, err := b.ReceivedBy(context.Background(), ev)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"bob": true, "carol": true}, got)
	ttl, err := client.PTTL(context.Background(), a.key(ev)).Result()
	require.NoError(t, err)
	require.True(t, ttl > 0 && ttl <= time.Minute, "the receipt expires on its own (ttl %s)", ttl)
	require.NoError(t, a.Stop(context.Background()))
}

// While Redis is away receipts wait on the node, and reach Redis once it is back.
func TestRedisReceiptsWaitOutAnOutage(t *testing.T) {
	t.Parallel()
	ns, client := redistest.Namespace(t)
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { down.Close() })
	book := NewRedisReceipts(down, ns, time.Minute, time.Hour, testLogger())
	ev := realtime.EventRef{ConversationID: uuid.New(), Seq: 1}
	book.Received("bob", []realtime.EventRef{ev})
	book.flush(context.Background())
	_, err := book.ReceivedBy(context.Background(), ev)
	require.Error(t, err, "the decider waits rather than guess while Redis is away")

	book.client = client // Redis is back
	book.flush(context.Background())
	got, err := book.ReceivedBy(context.Background(), ev)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"bob": true}, got)
}
