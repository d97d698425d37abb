package notify

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/gen/db"
	"github.com/parleyhq/parley/realtime"
)

func TestDeliversEverythingInOrderAfterReceiverOutage(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recv := newReceiver(t)
	recv.setAnswer(func(string) int { return -1 }) // down: every connection is cut
	cfg := testConfig(recv.URL(), "n1")
	n := startNode(t, pool, cfg)

	convs := make([]uuid.UUID, 5)
	for i := range convs {
		convs[i] = uuid.New()
		for seq := int64(1); seq <= 20; seq += 5 {
			handOff(t, pool, cfg, convs[i], seq, seq+1, seq+2, seq+3, seq+4)
		}
	}
	waitFor(t, 5*time.Second, "failed attempts while the receiver is down", func() bool {
		return testutil.ToFloat64(n.metrics.attempts.WithLabelValues(outcomeConnectionError)) >= 10
	})
	require.Zero(t, recv.ackedCount())

	recv.setAnswer(nil)
	waitFor(t, 10*time.Second, "every webhook acknowledged", func() bool { return recv.ackedCount() == 100 })
	waitFor(t, 5*time.Second, "the outbox of webhooks empty", func() bool { return countRows(t, pool, "webhook_deliveries") == 0 })
	recv.checkContract()
	require.GreaterOrEqual(t, testutil.ToFloat64(n.metrics.attempts.WithLabelValues(outcomeOK)), 100.0)

	backlog, err := testutil.GatherAndCount(n.reg, "parley_webhook_backlog", "parley_webhook_oldest_age_seconds", "parley_webhook_dead_letters", "parley_notify_jobs_pending")
	require.NoError(t, err)
	require.Equal(t, 4, backlog)
	require.NoError(t, testutil.GatherAndCompare(n.reg, strings.NewReader(`
# HELP parley_webhook_backlog Webhooks waiting to be sent or retried.
# TYPE parley_webhook_backlog gauge
parley_webhook_backlog 0
`), "parley_webhook_backlog"))
	var latency dto.Metric
	require.NoError(t, n.metrics.latency.Write(&latency))
	require.Equal(t, uint64(100), latency.GetHistogram().GetSampleCount())
}

func TestRetriesFailuresWithBackoffThenDelivers(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recv := newReceiver(t)
	conv := uuid.New()
	failing := EventWebhookID(conv, 1)
	const failures = 4
	tries := 0
	recv.setAnswer(func(id string) int { // called with the receiver's requests one at a time per conversation
		if id == failing {
			if tries++; tries <= failures {
				return 500
			}
		}
		return 200
	})
	cfg := testConfig(recv.URL(), "n1")
	cfg.BackoffMin, cfg.BackoffMax = 20*time.Millisecond, 160*time.Millisecond
	n := startNode(t, pool, cfg)

	handOff(t, pool, cfg, conv, 1, 2)
	waitFor(t, 5*time.Second, "two failures recorded", func() bool {
		var attempts int
		err := pool.QueryRow(t.Context(), `SELECT attempts FROM webhook_deliveries WHERE id = $1`, failing).Scan(&attempts)
		return err == nil && attempts >= 2
	})
	var lastError string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT last_error FROM webhook_deliveries WHERE id = $1`, failing).Scan(&lastError))
	require.True(t, strings.HasPrefix(lastError, "HTTP 500: xxx"), lastError)
	require.LessOrEqual(t, len(lastError), 220, "only an excerpt of the answer is kept")

	waitFor(t, 10*time.Second, "both delivered", func() bool { return recv.ackedCount() == 2 })
	recv.checkContract()

	var times []time.Time
	for _, d := range recv.all() {
		if d.ID == failing {
			times = append(times, d.At)
		}
	}
	require.Len(t, times, failures+1)
	for k := 1; k < len(times); k++ {
		// Equal jitter: at least half of BackoffMin doubled k-1 times.
		least := min(cfg.BackoffMin<<(k-1), cfg.BackoffMax) / 2
		require.GreaterOrEqual(t, times[k].Sub(times[k-1]), least, "wait before try %d", k+1)
	}
	require.Equal(t, float64(failures), testutil.ToFloat64(n.metrics.attempts.WithLabelValues(outcomeHTTPError)))
}

func TestDeadLettersAfterTheRetryPeriodAndTheKeyGoesOn(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recv := newReceiver(t)
	conv := uuid.New()
	dead := EventWebhookID(conv, 1)
	recv.setAnswer(func(id string) int {
		if id == dead {
			return 503
		}
		return 200
	})
	cfg := testConfig(recv.URL(), "n1")
	cfg.RetryFor = 300 * time.Millisecond
	n := startNode(t, pool, cfg)

	handOff(t, pool, cfg, conv, 1, 2, 3)
	waitFor(t, 10*time.Second, "the rows after the dead letter delivered", func() bool {
		return recv.isAcked(EventWebhookID(conv, 2)) && recv.isAcked(EventWebhookID(conv, 3))
	})
	q := db.New(pool)
	letters, err := q.WebhookDeadLetterList(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, letters, 1)
	require.Equal(t, dead, letters[0].ID)
	require.Positive(t, letters[0].Attempts)
	require.NotNil(t, letters[0].LastError)
	require.Contains(t, *letters[0].LastError, "HTTP 503")
	require.Equal(t, 1.0, testutil.ToFloat64(n.metrics.deadLetters))

	// Nothing of the key was sent before the dead letter's last try.
	var lastTry, firstNext time.Time
	for _, d := range recv.all() {
		if d.ID == dead {
			lastTry = d.At
		} else if firstNext.IsZero() {
			firstNext = d.At
		}
	}
	require.False(t, firstNext.Before(lastTry))

	recv.setAnswer(nil)
	moved, err := q.WebhookDeadLetterRetry(t.Context(), nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), moved)
	n.sender.Wake()
	waitFor(t, 5*time.Second, "the retried dead letter delivered", func() bool { return recv.isAcked(dead) })
	require.Zero(t, countRows(t, pool, "webhook_dead_letters"))
}

func TestAnEventWaitsForAnEarlierOneStillInTheOutbox(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recv := newReceiver(t)
	cfg := testConfig(recv.URL(), "n1")
	startNode(t, pool, cfg)
	ctx := t.Context()

	// Seq 1 of conv is committed but not published yet (another node's dispatcher holds it);
	// seq 2 was published and handed off.
	conv, other := uuid.New(), uuid.New()
	_, err := pool.Exec(ctx, `INSERT INTO conversations (id, type, title, created_by) VALUES ($1, 'group', 't', 'alice')`, conv)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO events (conversation_id, seq, type, actor_id, payload) VALUES ($1, 1, 'message.created', 'alice', '{}')`, conv)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO outbox (conversation_id, seq) VALUES ($1, 1)`, conv)
	require.NoError(t, err)
	handOff(t, pool, cfg, conv, 2)

	// Rounds go on for another conversation: two of them, each after conv's seq 2 was waiting.
	handOff(t, pool, cfg, other, 1)
	waitFor(t, 5*time.Second, "the other conversation's first webhook", func() bool { return recv.isAcked(EventWebhookID(other, 1)) })
	handOff(t, pool, cfg, other, 2)
	waitFor(t, 5*time.Second, "the other conversation's second webhook", func() bool { return recv.isAcked(EventWebhookID(other, 2)) })
	for _, d := range recv.all() {
		require.NotEqual(t, EventWebhookID(conv, 2), d.ID, "sent before seq 1 left the outbox")
	}

	// The dispatcher publishes seq 1: its hand-off and the outbox delete commit together.
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		batch := handOffBatch(conv, 1)
		if _, err := NewHandOff(cfg, nil).HandOff(ctx, tx, batch); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM outbox WHERE conversation_id = $1`, conv)
		return err
	}))
	waitFor(t, 5*time.Second, "both of conv's webhooks", func() bool { return recv.ackedCount() == 4 })
	recv.checkContract() // seq 2 only after seq 1 was acknowledged
}

func TestTwoNodesSendEachWebhookOnce(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recv := newReceiver(t)
	// Leases long enough that a loaded machine never lets one lapse: each webhook once.
	cfgA, cfgB := testConfig(recv.URL()+"/a", "a"), testConfig(recv.URL()+"/b", "b")
	cfgA.LeaseTTL, cfgB.LeaseTTL = 3*time.Second, 3*time.Second
	a := startNode(t, pool, cfgA)
	b := startNode(t, pool, cfgB)
	waitFor(t, 10*time.Second, "the shards split between the nodes", func() bool {
		return len(a.leases.Held()) == Shards/2 && len(b.leases.Held()) == Shards/2
	})
	require.Empty(t, intersect(a.leases.Held(), b.leases.Held()))

	cfg := testConfig(recv.URL(), "writer")
	const convs, seqs = 24, 10
	for range convs {
		conv := uuid.New()
		for seq := int64(1); seq <= seqs; seq += 2 {
			handOff(t, pool, cfg, conv, seq, seq+1)
		}
	}
	waitFor(t, 20*time.Second, "every webhook acknowledged", func() bool { return recv.ackedCount() == convs*seqs })
	recv.checkContract()
	perID := map[string]int{}
	perNode := map[string]int{}
	for _, d := range recv.all() {
		perID[d.ID]++
		perNode[d.Path]++
	}
	for id, count := range perID {
		require.Equal(t, 1, count, "%s sent %d times", id, count)
	}
	require.Positive(t, perNode["/a"])
	require.Positive(t, perNode["/b"])
}

func TestSenderStopWaitsForPOSTsInFlight(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recv := newReceiver(t)
	release := make(chan struct{})
	recv.mu.Lock()
	recv.hold = release
	recv.mu.Unlock()
	cfg := testConfig(recv.URL(), "n1")
	n := startNode(t, pool, cfg)
	conv := uuid.New()
	handOff(t, pool, cfg, conv, 1, 2)
	waitFor(t, 5*time.Second, "a POST in flight", func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		return len(recv.inFlight) == 1
	})
	stopped := make(chan error, 1)
	go func() { stopped <- n.sender.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned with a POST in flight: %v", err)
	case <-time.After(50 * time.Millisecond): // Stop is expected to block: give it a moment to
	}
	close(release)
	require.NoError(t, <-stopped)
	// The acknowledged POST was recorded; the next one was not started.
	require.Equal(t, 1, countRows(t, pool, "webhook_deliveries"))
	require.Len(t, recv.all(), 1)
}

func handOffBatch(conv uuid.UUID, seqs ...int64) []realtime.Envelope {
	out := make([]realtime.Envelope, len(seqs))
	for i, seq := range seqs {
		out[i] = realtime.Envelope{ConversationID: conv, Seq: seq, Payload: payload(conv, seq, "message.created"), CommittedAt: time.Now()}
	}
	return out
}

func intersect(a, b []int16) []int16 {
	var out []int16
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
			}
		}
	}
	return out
}

func TestReceiverBackAfterAnOutageEndsTheBackoffs(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recv := newReceiver(t)
	recv.setAnswer(func(string) int { return -1 })
	cfg := testConfig(recv.URL(), "n1")
	cfg.BackoffMin, cfg.BackoffMax = time.Minute, time.Minute // far longer than the test
	n := startNode(t, pool, cfg)

	during := uuid.New()
	handOff(t, pool, cfg, during, 1, 2, 3)
	waitFor(t, 5*time.Second, "a failed attempt", func() bool {
		return testutil.ToFloat64(n.metrics.attempts.WithLabelValues(outcomeConnectionError)) >= 1
	})
	recv.setAnswer(nil)
	// A webhook that never failed goes at once; its acknowledgement shows the receiver is back.
	after := uuid.New()
	handOff(t, pool, cfg, after, 1)
	waitFor(t, 5*time.Second, "the outage's webhooks delivered without waiting out their backoff", func() bool {
		return recv.ackedCount() == 4
	})
	recv.checkContract()
}

func TestReceiverDownIsProbedWhateverTheBackoffs(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recv := newReceiver(t)
	recv.setAnswer(func(string) int { return http.StatusServiceUnavailable })
	cfg := testConfig(recv.URL(), "n1")
	cfg.BackoffMin, cfg.BackoffMax = time.Minute, time.Minute // far longer than the test
	leases := NewLeases(cfg, pool, testLogger())
	sender, err := NewSender(cfg, pool, leases, NewMetrics(prometheus.NewRegistry(), pool), testLogger())
	require.NoError(t, err)
	sender.probeEvery = 50 * time.Millisecond
	require.NoError(t, leases.Start(t.Context()))
	require.NoError(t, sender.Start(t.Context()))
	t.Cleanup(func() {
		require.NoError(t, sender.Stop(context.Background()))
		require.NoError(t, leases.Stop(context.Background()))
	})

	convs := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for _, c := range convs {
		handOff(t, pool, cfg, c, 1, 2)
	}
	waitFor(t, 5*time.Second, "probes of the receiver while it is down", func() bool { return len(recv.all()) >= 6 })
	recv.setAnswer(nil)
	waitFor(t, 5*time.Second, "everything delivered once a probe got through", func() bool { return recv.ackedCount() == 6 })
	recv.checkContract()
}

func TestWebhooksAfterAGapInTheOutboxWait(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recv := newReceiver(t)
	cfg := testConfig(recv.URL(), "n1")
	ctx := t.Context()

	// Two dispatchers: one published seqs 1, 2 and 4 of conv; the other still holds seq 3.
	conv := uuid.New()
	_, err := pool.Exec(ctx, `INSERT INTO conversations (id, type, title, created_by) VALUES ($1, 'group', 't', 'alice')`, conv)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO events (conversation_id, seq, type, actor_id, payload) VALUES ($1, 3, 'message.created', 'alice', '{}')`, conv)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO outbox (conversation_id, seq) VALUES ($1, 3)`, conv)
	require.NoError(t, err)
	handOff(t, pool, cfg, conv, 1, 2, 4)
	startNode(t, pool, cfg)

	waitFor(t, 5*time.Second, "the webhooks before the gap", func() bool { return recv.ackedCount() == 2 })
	waitFor(t, 5*time.Second, "their rows deleted", func() bool { return countRows(t, pool, "webhook_deliveries") == 1 })
	require.False(t, recv.isAcked(EventWebhookID(conv, 4)), "seq 4 overtook seq 3, still in the outbox")

	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := NewHandOff(cfg, nil).HandOff(ctx, tx, handOffBatch(conv, 3)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM outbox WHERE conversation_id = $1`, conv)
		return err
	}))
	waitFor(t, 5*time.Second, "seqs 3 and 4", func() bool { return recv.ackedCount() == 4 })
	recv.checkContract()
}
