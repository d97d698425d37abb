package realtime

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

// recordingHandOff writes a row per envelope in the dispatcher's transaction, or fails.
type recordingHandOff struct {
	fail    error
	batches int
	after   int
}

func (h *recordingHandOff) HandOff(ctx context.Context, tx pgx.Tx, batch []Envelope) (func(), error) {
	if h.fail != nil {
		return nil, h.fail
	}
	h.batches++
	for _, e := range batch {
		if _, err := tx.Exec(ctx, `INSERT INTO handed_off (conversation_id, seq) VALUES ($1, $2)`, e.ConversationID, e.Seq); err != nil {
			return nil, err
		}
	}
	return func() { h.after++ }, nil
}

func TestDispatcherHandsOffInThePublishingTransaction(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE TABLE handed_off (conversation_id uuid, seq bigint)`)
	require.NoError(t, err)
	handOff := &recordingHandOff{fail: errors.New("hand-off refused")}
	broker := &recordingBroker{}
	connect := func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	}
	d, err := NewDispatcher(DefaultDispatcherConfig(), pool, connect, broker, handOff, NewMetrics(prometheus.NewRegistry()), testLogger())
	require.NoError(t, err)
	conv := insertConversation(t, pool)
	insertEvents(t, pool, conv, 1, 3)

	// A failed hand-off rolls the batch back: the rows stay in the outbox, to be published (and
	// handed off) again.
	_, err = d.RunOnce(ctx)
	require.ErrorContains(t, err, "hand-off refused")
	require.Equal(t, 3, outboxCount(t, pool))
	require.Zero(t, handOff.after)

	handOff.fail = nil
	n, err := d.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Zero(t, outboxCount(t, pool))
	var handed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM handed_off`).Scan(&handed))
	require.Equal(t, 3, handed, "written with the outbox delete")
	require.Equal(t, 1, handOff.batches)
	require.Equal(t, 1, handOff.after, "called once the transaction committed")
}
