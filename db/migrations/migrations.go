// Package migrations embeds Parley's SQL migrations and applies them with goose. The same files are
// the schema sqlc reads to generate gen/db.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// FS holds the migration files; read-only.
//
//go:embed *.sql
var FS embed.FS

// Status is the state of one migration.
type Status struct {
	Version int64
	Source  string
	Applied bool
}

// newProvider builds a goose provider over the pool. A session lock (a PostgreSQL advisory lock)
// keeps nodes that start together from migrating at the same time.
func newProvider(pool *pgxpool.Pool) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration locker: %w", err)
	}
	// Closing the sql.DB opened from the pool leaves the pool open.
	provider, err := goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(pool), FS,
		goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("migration provider: %w", err)
	}
	return provider, nil
}

// Up applies every pending migration and returns the versions it applied.
func Up(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	provider, err := newProvider(pool)
	if err != nil {
		return nil, err
	}
	defer provider.Close()
	results, err := provider.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// List reports every known migration and whether it is applied.
func List(ctx context.Context, pool *pgxpool.Pool) ([]Status, error) {
	provider, err := newProvider(pool)
	if err != nil {
		return nil, err
	}
	defer provider.Close()
	statuses, err := provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Status, 0, len(statuses))
	for _, s := range statuses {
		out = append(out, Status{Version: s.Source.Version, Source: s.Source.Path, Applied: s.State == goose.StateApplied})
	}
	return out, nil
}

// EnsureDatabase creates the database that url names when it does not exist, connecting to the
// server's maintenance database (postgres) to do so. It lets a first `parley serve` start on a
// bare server, and is safe when several nodes start together: they take turns on an advisory lock
// named after the database, so one creates it and the others find it; and when something else
// creates it meanwhile, each way PostgreSQL reports that race counts as found.
func EnsureDatabase(ctx context.Context, url string) (created bool, err error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return false, fmt.Errorf("parse database URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return false, conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.InvalidCatalogName { // no such database
		return false, fmt.Errorf("connect to database: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect to maintenance database: %w", err)
	}
	defer admin.Close(ctx) // ending the session releases the lock too
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended('parley: create database ' || $1, 0))", name); err != nil {
		return false, fmt.Errorf("lock database creation: %w", err)
	}
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return false, nil // another node created it while this one waited for the lock
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if createdByAnother(err) {
			return false, nil
		}
		return false, fmt.Errorf("create database %s: %w", name, err)
	}
	return true, nil
}

// createdByAnother reports whether CREATE DATABASE failed because someone outside the lock created
// the same database at the same time: PostgreSQL says duplicate_database when the other commit
// came first, and a unique violation on pg_database's name index when both were in flight.
func createdByAnother(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == pgerrcode.DuplicateDatabase ||
		(pgErr.Code == pgerrcode.UniqueViolation && pgErr.ConstraintName == "pg_database_datname_index")
}
