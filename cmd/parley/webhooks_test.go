package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/db/dbtest"
)

// deadLetters makes a database holding n dead letters of one conversation, seqs 1..n, and returns
// its URL and their ids.
func deadLetters(t *testing.T, n int) (string, []string) {
	t.Helper()
	url := dbtest.NewDatabase(t)
	pool, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	defer pool.Close()
	conv := uuid.New()
	var ids []string
	for seq := 1; seq <= n; seq++ {
		var id string
		require.NoError(t, pool.QueryRow(t.Context(), `
			INSERT INTO webhook_dead_letters (id, ordering_key, conversation_id, seq, shard, type, body, created_at, attempts, last_error)
			VALUES ($1::uuid::text || ':' || $2::bigint, $1::uuid::text, $1, $2, 0, 'message.created', '{}', now() - interval '25 hours', 31,
			        'HTTP 500: internal
			         error')
			RETURNING id`, conv, seq).Scan(&id))
		ids = append(ids, id)
	}
	return url, ids
}

func runWebhooks(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"webhooks"}, args...), &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

func TestWebhooksListShowsDeadLetters(t *testing.T) {
	url, ids := deadLetters(t, 3)

	out, err := runWebhooks(t, "list", "--database-url", url)
	require.NoError(t, err)
	require.Contains(t, out, "ID")
	require.Contains(t, out, "LAST ERROR")
	for _, id := range ids {
		require.Contains(t, out, id)
	}
	require.Contains(t, out, "HTTP 500: internal error", "the error on one line")

	out, err = runWebhooks(t, "list", "--database-url", url, "--json", "--limit", "2")
	require.NoError(t, err)
	var letters []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &letters))
	require.Len(t, letters, 2)
	require.Equal(t, ids[0], letters[0]["id"])
	require.Equal(t, "message.created", letters[0]["type"])
	require.EqualValues(t, 31, letters[0]["attempts"])
	require.Contains(t, letters[0], "dead_at")

	_, err = runWebhooks(t, "list", "--database-url", url, "--limit", "0")
	var usage usageError
	require.ErrorAs(t, err, &usage)
	require.Contains(t, usage.msg, "--limit")
}

func TestWebhooksRetryMovesDeadLettersBack(t *testing.T) {
	url, ids := deadLetters(t, 3)

	out, err := runWebhooks(t, "retry", "--database-url", url, ids[1], "no-such-id")
	require.NoError(t, err)
	require.Contains(t, out, "1 dead letter(s) queued to be sent again")
	require.Contains(t, out, "1 id(s) named no dead letter")

	out, err = runWebhooks(t, "retry", "--database-url", url, "--all")
	require.NoError(t, err)
	require.Contains(t, out, "2 dead letter(s) queued")

	pool, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	defer pool.Close()
	var pending, attempts int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*), max(attempts) FROM webhook_deliveries`).Scan(&pending, &attempts))
	require.Equal(t, 3, pending)
	require.Zero(t, attempts, "a new retry period")

	out, err = runWebhooks(t, "list", "--database-url", url)
	require.NoError(t, err)
	require.NotContains(t, out, ids[0])
}

func TestWebhooksRetryNeedsAllOrIds(t *testing.T) {
	for _, args := range [][]string{{"retry"}, {"retry", "--all", "some-id"}} {
		_, err := runWebhooks(t, args...)
		var usage usageError
		require.ErrorAs(t, err, &usage, "%v", args)
	}
}
