package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-retry"

	"github.com/parleyhq/parley/db/migrations"
)

// connectTryTimeout bounds one try at reaching PostgreSQL, so that a host that drops packets
// costs a try rather than the whole start-up.
const connectTryTimeout = 10 * time.Second

// openDatabase creates the database when missing and migrating, opens the pool and migrates.
// Under compose or Kubernetes PostgreSQL often comes up after Parley, so while it does not answer
// (or answers that it is starting) each try is logged and retried with backoff for
// StartupTimeout; a refusal that waiting cannot change (a wrong password, an error in a
// migration) ends the start at once.
func (s *Server) openDatabase(ctx context.Context, poolCfg *pgxpool.Config) error {
	timeout := s.cfg.StartupTimeout
	backoff := retry.WithMaxDuration(timeout,
		retry.WithJitterPercent(10, retry.WithCappedDuration(5*time.Second, retry.NewExponential(250*time.Millisecond))))
	start, tries := time.Now(), 0
	err := retry.Do(ctx, backoff, func(ctx context.Context) error {
		tries++
		err := s.tryDatabase(ctx, poolCfg)
		if err == nil || !transient(err, s.cfg.Migrate) {
			return err
		}
		if left := timeout - time.Since(start); left > 0 { // else this was the last try
			s.logger.WarnContext(ctx, "PostgreSQL is not reachable yet; retrying", "try", tries,
				"gives_up_in", left.Round(time.Second), "error", err)
		}
		return retry.RetryableError(err)
	})
	if err != nil && ctx.Err() == nil && transient(err, s.cfg.Migrate) {
		return fmt.Errorf("PostgreSQL not reachable after %s and %s (--startup-timeout %s): %w",
			time.Since(start).Round(time.Second), plural(tries, "try", "tries"), timeout, err)
	}
	return err
}

// tryDatabase is one try of openDatabase: on success s.pool is open and migrated.
func (s *Server) tryDatabase(ctx context.Context, poolCfg *pgxpool.Config) error {
	connectCtx, cancel := context.WithTimeout(ctx, connectTryTimeout)
	defer cancel()
	if s.cfg.Migrate {
		created, err := migrations.EnsureDatabase(connectCtx, s.cfg.DatabaseURL)
		if err != nil {
			return err
		}
		if created {
			s.logger.InfoContext(ctx, "created database", "database", poolCfg.ConnConfig.Database)
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(connectCtx); err != nil {
		pool.Close()
		return fmt.Errorf("connect to database: %w", err)
	}
	if s.cfg.Migrate {
		applied, err := migrations.Up(ctx, pool)
		if err != nil {
			pool.Close()
			return err
		}
		if len(applied) > 0 {
			s.logger.InfoContext(ctx, "applied migrations", "versions", applied)
		}
	}
	s.pool = pool
	return nil
}

// transient reports whether waiting may cure err: PostgreSQL did not answer (refused, unreachable,
// timed out), said it is starting, stopping or out of connections, or has no database yet that
// someone else (a migration job) is to create.
func transient(err error, migrate bool) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	switch {
	case pgerrcode.IsConnectionException(pgErr.Code), pgerrcode.IsInsufficientResources(pgErr.Code),
		pgerrcode.IsOperatorIntervention(pgErr.Code):
		return true
	case pgErr.Code == pgerrcode.InvalidCatalogName:
		return !migrate
	}
	return false
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
