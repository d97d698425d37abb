package migrations_test

import (
	"context"
	"io/fs"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/parleyhq/parley/db/dbtest"
	"github.com/parleyhq/parley/db/migrations"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// freshDatabaseURL names a database that does not exist yet, dropped when the test ends.
func freshDatabaseURL(t *testing.T) string {
	t.Helper()
	name := "parley_migrate_" + uuid.NewString()[:8]
	u, err := url.Parse(dbtest.AdminURL())
	require.NoError(t, err)
	u.Path = "/" + name
	t.Cleanup(func() {
		admin, err := pgx.Connect(context.Background(), dbtest.AdminURL())
		require.NoError(t, err)
		defer admin.Close(context.Background())
		_, err = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		require.NoError(t, err)
	})
	return u.String()
}

// A first start against a server without Parley's database creates it, migrates it, and a second
// start changes nothing.
func TestEnsureDatabaseThenMigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := freshDatabaseURL(t)

	created, err := migrations.EnsureDatabase(ctx, dbURL)
	require.NoError(t, err, "is PostgreSQL running? see README, \"Running the tests\"")
	require.True(t, created)
	created, err = migrations.EnsureDatabase(ctx, dbURL)
	require.NoError(t, err)
	require.False(t, created)

	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	defer pool.Close()

	statuses, err := migrations.List(ctx, pool)
	require.NoError(t, err)
	require.NotEmpty(t, statuses)
	for _, s := range statuses {
		require.False(t, s.Applied)
	}

	applied, err := migrations.Up(ctx, pool)
	require.NoError(t, err)
	require.Len(t, applied, len(statuses))
	applied, err = migrations.Up(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, applied, "nothing left to apply")

	statuses, err = migrations.List(ctx, pool)
	require.NoError(t, err)
	for _, s := range statuses {
		require.True(t, s.Applied, s.Source)
	}
	for _, table := range []string{"conversations", "members", "messages", "events", "outbox"} {
		var exists bool
		require.NoError(t, pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists))
		require.True(t, exists, table)
	}
}

// Nodes starting together against a database that does not exist yet (as `parley migrate up` run
// by each, or by serve at start) all succeed: one creates it, each migration is applied once.
func TestNodesStartingTogetherCreateAndMigrateOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for round := range 3 {
		dbURL := freshDatabaseURL(t)
		const nodes = 4
		var (
			wg                sync.WaitGroup
			created, migrated atomic.Int64
			errs              = make(chan error, nodes)
		)
		for range nodes {
			wg.Go(func() {
				c, err := migrations.EnsureDatabase(ctx, dbURL)
				if err != nil {
					errs <- err
					return
				}
				if c {
					created.Add(1)
				}
				pool, err := pgxpool.New(ctx, dbURL)
				if err != nil {
					errs <- err
					return
				}
				defer pool.Close()
				applied, err := migrations.Up(ctx, pool)
				if err != nil {
					errs <- err
					return
				}
				migrated.Add(int64(len(applied)))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "round %d", round)
		}
		require.EqualValues(t, 1, created.Load(), "round %d: one node creates the database", round)
		files, err := fs.Glob(migrations.FS, "*.sql")
		require.NoError(t, err)
		require.EqualValues(t, len(files), migrated.Load(), "round %d: each migration applied once", round)
	}
}

// Seqs come only from the locked conversation row, and the schema refuses a second message with
// the same client_msg_id from the same sender, whatever the application does.
func TestSchemaEnforcesIdempotencyAndSeqUniqueness(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conv := uuid.New()
	_, err := pool.Exec(ctx, "INSERT INTO conversations (id, type, created_by) VALUES ($1, 'group', 'alice')", conv)
	require.NoError(t, err)
	insert := "INSERT INTO messages (id, conversation_id, seq, ordinal, sender_id, client_msg_id, body) VALUES ($1, $2, $3, $3, $4, $5, 'x')"
	_, err = pool.Exec(ctx, insert, uuid.New(), conv, 1, "alice", "c1")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, insert, uuid.New(), conv, 2, "alice", "c1")
	require.ErrorContains(t, err, "messages_client_msg_id_key")
	_, err = pool.Exec(ctx, insert, uuid.New(), conv, 1, "bob", "c2")
	require.ErrorContains(t, err, "duplicate key")
	_, err = pool.Exec(ctx, insert, uuid.New(), conv, 2, "bob", "c1")
	require.NoError(t, err, "another sender may use the same client_msg_id")
}
