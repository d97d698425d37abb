package realtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

// recordingBroker records the batches published to it and fails while told to.
type recordingBroker struct {
	mu      sync.Mutex
	fail    error
	calls   int
	batches [][]Envelope
}

func (b *recordingBroker) Publish(_ context.Context, batch []Envelope) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.fail != nil {
		return b.fail
	}
	b.batches = append(b.batches, slices.Clone(batch))
	return nil
}

func (b *recordingBroker) Signal(context.Context, Signal) error { return nil }

func (b *recordingBroker) setFail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = err
}

func (b *recordingBroker) callCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// published is every envelope published so far, in order.
func (b *recordingBroker) published() []Envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Envelope
	for _, batch := range b.batches {
		out = append(out, batch...)
	}
	return out
}

type pubRef struct {
	conv uuid.UUID
	seq  int64
}

func (r pubRef) String() string { return fmt.Sprintf("%s/%d", r.conv.String()[:8], r.seq) }

func pubRefs(envs []Envelope) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = pubRef{e.ConversationID, e.Seq}.String()
	}
	return out
}

type dispatcherBundle struct {
	pool   *pgxpool.Pool
	broker *recordingBroker
	d      *Dispatcher
}

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestDispatcher(t *testing.T, cfg DispatcherConfig, pool *pgxpool.Pool, broker Publisher) *Dispatcher {
	t.Helper()
	connect := func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	}
	d, err := NewDispatcher(cfg, pool, connect, broker, nil, NewMetrics(prometheus.NewRegistry()), testLogger())
	require.NoError(t, err)
	return d
}

// setupDispatcher returns a dispatcher over a database of its own; it is stopped when the test
// ends.
func setupDispatcher(t *testing.T, configure ...func(*DispatcherConfig)) dispatcherBundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	cfg := DefaultDispatcherConfig()
	cfg.ReconnectDelay = 50 * time.Millisecond
	for _, f := range configure {
		f(&cfg)
	}
	broker := &recordingBroker{}
	d := newTestDispatcher(t, cfg, pool, broker)
	t.Cleanup(func() { require.NoError(t, d.Stop(context.Background())) })
	return dispatcherBundle{pool: pool, broker: broker, d: d}
}

func insertConversation(t *testing.T, pool *pgxpool.Pool) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := pool.Exec(context.Background(),
		`INSERT INTO conversations (id, type, title, created_by) VALUES ($1, 'group', 'test', 'alice')`, id)
	require.NoError(t, err)
	return id
}

// insertEvent commits an event and its outbox row, as the write path does.
func insertEvent(t *testing.T, pool *pgxpool.Pool, conv uuid.UUID, seq int64) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO events (conversation_id, seq, type, actor_id, payload)
			VALUES ($1, $2, 'message.created', 'alice', jsonb_build_object('seq', $2::bigint))`, conv, seq); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO outbox (conversation_id, seq) VALUES ($1, $2)`, conv, seq)
		return err
	})
	require.NoError(t, err)
}

// insertEvents commits seqs from..to of a conversation in one statement each, outbox rows in seq
// order.
func insertEvents(t *testing.T, pool *pgxpool.Pool, conv uuid.UUID, from, to int64) {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO events (conversation_id, seq, type, actor_id, payload)
		SELECT $1, g, 'message.created', 'alice', jsonb_build_object('seq', g)
		FROM generate_series($2::bigint, $3::bigint) g`, conv, from, to)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO outbox (conversation_id, seq)
		SELECT $1, g FROM generate_series($2::bigint, $3::bigint) g ORDER BY g`, conv, from, to)
	require.NoError(t, err)
}

func outboxCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&n))
	return n
}

func TestDispatcherRunOncePublishesInOutboxOrder(t *testing.T) {
	t.Parallel()
	b := setupDispatcher(t)
	ctx := context.Background()
	convA, convB := insertConversation(t, b.pool), insertConversation(t, b.pool)
	insertEvent(t, b.pool, convA, 1)
	insertEvent(t, b.pool, convB, 1)
	insertEvent(t, b.pool, convA, 2)
	insertEvent(t, b.pool, convB, 2)
	insertEvent(t, b.pool, convA, 3)

	n, err := b.d.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	require.Zero(t, outboxCount(t, b.pool), "published rows are deleted")
	require.Equal(t, 1, b.broker.callCount(), "one batch")
	got := b.broker.published()
	want := []Envelope{{ConversationID: convA, Seq: 1}, {ConversationID: convB, Seq: 1}, {ConversationID: convA, Seq: 2}, {ConversationID: convB, Seq: 2}, {ConversationID: convA, Seq: 3}}
	require.Equal(t, pubRefs(want), pubRefs(got))
	for _, env := range got {
		require.JSONEq(t, fmt.Sprintf(`{"seq":%d}`, env.Seq), string(env.Payload), "the event's payload")
		require.False(t, env.CommittedAt.IsZero())
		require.WithinDuration(t, time.Now(), env.CommittedAt, time.Minute)
	}

	n, err = b.d.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left")
	require.Equal(t, 1, b.broker.callCount(), "an empty outbox publishes nothing")
}

func TestDispatcherRunOnceBatches(t *testing.T) {
	t.Parallel()
	b := setupDispatcher(t, func(cfg *DispatcherConfig) { cfg.BatchSize = 2 })
	ctx := context.Background()
	conv := insertConversation(t, b.pool)
	insertEvents(t, b.pool, conv, 1, 5)

	var sizes []int
	for {
		n, err := b.d.RunOnce(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		sizes = append(sizes, n)
	}
	require.Equal(t, []int{2, 2, 1}, sizes)
	require.Equal(t, pubRefs([]Envelope{{ConversationID: conv, Seq: 1}, {ConversationID: conv, Seq: 2}, {ConversationID: conv, Seq: 3}, {ConversationID: conv, Seq: 4}, {ConversationID: conv, Seq: 5}}), pubRefs(b.broker.published()))
	require.Zero(t, outboxCount(t, b.pool))
}

func TestDispatcherPublishFailureKeepsRows(t *testing.T) {
	t.Parallel()
	b := setupDispatcher(t)
	ctx := context.Background()
	conv := insertConversation(t, b.pool)
	insertEvents(t, b.pool, conv, 1, 3)
	down := errors.New("bus down")

	b.broker.setFail(down)
	n, err := b.d.RunOnce(ctx)
	require.ErrorIs(t, err, down)
	require.Zero(t, n)
	require.Equal(t, 3, outboxCount(t, b.pool), "nothing lost")

	b.broker.setFail(nil)
	n, err = b.d.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Zero(t, outboxCount(t, b.pool))
	require.Len(t, b.broker.published(), 3)
}

func TestDispatcherCircuitBreaker(t *testing.T) {
	t.Parallel()
	// The breaker's open time must outlast one RunOnce under -race on a busy machine, so that the
	// call right after it opens is reliably refused.
	const breakerTimeout = 300 * time.Millisecond
	b := setupDispatcher(t, func(cfg *DispatcherConfig) { cfg.BreakerTimeout = breakerTimeout })
	ctx := context.Background()
	conv := insertConversation(t, b.pool)
	insertEvents(t, b.pool, conv, 1, 2)
	down := errors.New("bus down")

	b.broker.setFail(down)
	for i := range 3 {
		_, err := b.d.RunOnce(ctx)
		require.ErrorIs(t, err, down, "failure %d reaches the broker", i+1)
	}
	require.Equal(t, 3, b.broker.callCount())
	require.Equal(t, gobreaker.StateOpen, b.d.breaker.State())

	_, err := b.d.RunOnce(ctx)
	require.ErrorIs(t, err, gobreaker.ErrOpenState)
	require.Equal(t, 3, b.broker.callCount(), "an open breaker does not call the broker")
	require.Equal(t, 2, outboxCount(t, b.pool), "nothing lost while open")

	b.broker.setFail(nil)
	require.Eventually(t, func() bool {
		n, err := b.d.RunOnce(ctx)
		return err == nil && n == 2
	}, 10*breakerTimeout, 10*time.Millisecond, "publishing resumes after the breaker's timeout")
	require.Equal(t, gobreaker.StateClosed, b.d.breaker.State())
	require.Zero(t, outboxCount(t, b.pool))
	require.Equal(t, 4, b.broker.callCount())
}

func TestDispatcherConcurrentRunOncePublishesEachRowOnce(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	var convs []uuid.UUID
	for range 5 {
		conv := insertConversation(t, pool)
		insertEvents(t, pool, conv, 1, 100)
		convs = append(convs, conv)
	}
	require.Equal(t, 500, outboxCount(t, pool))

	cfg := DefaultDispatcherConfig()
	cfg.BatchSize = 50
	brokers := []*recordingBroker{{}, {}}
	errs := make([]error, len(brokers))
	var wg sync.WaitGroup
	for i, broker := range brokers {
		d := newTestDispatcher(t, cfg, pool, broker)
		wg.Go(func() {
			for {
				n, err := d.RunOnce(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	count := make(map[pubRef]int)
	for i, broker := range brokers {
		published := broker.published()
		t.Logf("dispatcher %d published %d events", i, len(published))
		for _, env := range published {
			count[pubRef{env.ConversationID, env.Seq}]++
		}
	}
	for _, conv := range convs {
		for seq := int64(1); seq <= 100; seq++ {
			require.Equal(t, 1, count[pubRef{conv, seq}], "%s published", pubRef{conv, seq})
		}
	}
	require.Len(t, count, 500)
	require.Zero(t, outboxCount(t, pool))
}

func TestDispatcherStartCatchesUpWithBacklog(t *testing.T) {
	t.Parallel()
	b := setupDispatcher(t, func(cfg *DispatcherConfig) {
		cfg.PollInterval = time.Minute
		cfg.BatchSize = 10
	})
	conv := insertConversation(t, b.pool)
	insertEvents(t, b.pool, conv, 1, 25) // committed while no dispatcher ran

	require.NoError(t, b.d.Start(context.Background()))
	require.Eventually(t, func() bool {
		var rows int
		err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&rows)
		return err == nil && rows == 0 && len(b.broker.published()) == 25
	}, 5*time.Second, 10*time.Millisecond, "the backlog is published without a notification")
	require.NoError(t, b.d.Stop(context.Background()))
	require.Len(t, b.broker.published(), 25, "each once")
}

func TestDispatcherStartIsWokenByNotify(t *testing.T) {
	t.Parallel()
	b := setupDispatcher(t, func(cfg *DispatcherConfig) { cfg.PollInterval = time.Minute })
	ctx := context.Background()
	conv := insertConversation(t, b.pool)

	require.NoError(t, b.d.Start(ctx))
	// Wait for the LISTEN: a notification sent before it would be missed (the backlog pass
	// catches up then, but this test is about the notification).
	require.Eventually(t, func() bool {
		var n int
		err := b.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'listen "parley_outbox"'`).Scan(&n)
		return err == nil && n == 1
	}, 5*time.Second, 10*time.Millisecond, "the dispatcher listens")

	// Two rounds: whatever start-up wake-ups were pending are spent by the first, so only the
	// notification can publish the second before the minute's poll.
	for seq := int64(1); seq <= 2; seq++ {
		insertEvent(t, b.pool, conv, seq)
		_, err := b.pool.Exec(ctx, `SELECT pg_notify('parley_outbox', '')`)
		require.NoError(t, err)
		// Published, and its row deleted: the broker has the batch before the pass commits.
		require.Eventuallyf(t, func() bool {
			var rows int
			err := b.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&rows)
			return err == nil && rows == 0 && len(b.broker.published()) == int(seq)
		}, 5*time.Second, 10*time.Millisecond, "event %d published", seq)
	}

	require.NoError(t, b.d.Stop(context.Background())) // goleak in TestMain checks nothing is left running
	require.NoError(t, b.d.Stop(context.Background()))
	require.Equal(t, pubRefs([]Envelope{{ConversationID: conv, Seq: 1}, {ConversationID: conv, Seq: 2}}), pubRefs(b.broker.published()))
}

// A dispatcher's own notifications, sent for the other nodes after it woke its own loop, do not
// wake it a second time; every other node's (an older node's, without a payload, too) does.
func TestDispatcherSkipsItsOwnNotifications(t *testing.T) {
	t.Parallel()
	pokes := 0
	h := wakeHandler{poke: func() { pokes++ }, self: "3b1f0c52-self"}
	for _, payload := range []string{"3b1f0c52-self", "9d0e4a17-other", ""} {
		require.NoError(t, h.HandleNotification(t.Context(), &pgconn.Notification{Channel: outboxChannel, Payload: payload}, nil))
	}
	require.Equal(t, 2, pokes)
}

func TestDispatcherStartFailsFast(t *testing.T) {
	t.Parallel()
	refused := errors.New("connection refused")
	d, err := NewDispatcher(DefaultDispatcherConfig(), nil, func(context.Context) (*pgx.Conn, error) { return nil, refused },
		&recordingBroker{}, nil, NewMetrics(prometheus.NewRegistry()), testLogger())
	require.NoError(t, err)
	err = d.Start(context.Background())
	require.ErrorIs(t, err, refused)
	require.NoError(t, d.Stop(context.Background()), "safe after a failed start")
}

func TestNewDispatcherRefusesABadConfig(t *testing.T) {
	t.Parallel()
	cfg := DefaultDispatcherConfig()
	cfg.PollInterval = 0
	_, err := NewDispatcher(cfg, nil, nil, &recordingBroker{}, nil, NewMetrics(prometheus.NewRegistry()), testLogger())
	require.ErrorContains(t, err, "PollInterval")
}

func TestDispatcherStopBeforeStart(t *testing.T) {
	t.Parallel()
	d, err := NewDispatcher(DefaultDispatcherConfig(), nil, nil, &recordingBroker{}, nil, NewMetrics(prometheus.NewRegistry()), testLogger())
	require.NoError(t, err)
	require.NoError(t, d.Stop(context.Background()))
	require.NoError(t, d.Stop(context.Background()))
}
