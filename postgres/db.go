// Package postgres implements the domain services over Postgres with pgx:
// every mutation and its audit event (and any River job it needs) commit in
// one transaction. It maps pgx.ErrNoRows to ENOTFOUND and unique violations
// to ECONFLICT so callers only ever see switchboard errors.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/switchboardhq/switchboard"
)

// DB holds the pool and what every service needs.
type DB struct {
	Pool   *pgxpool.Pool
	Now    func() time.Time
	Logger *slog.Logger
	// Jobs enqueues River jobs inside a service's transaction (an
	// insert-only River client is enough). Services that enqueue need it.
	Jobs JobInserter
}

// JobInserter is the part of *river.Client[pgx.Tx] services use.
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Open connects a pool to url.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping postgres: %w", err)
	}
	return pool, nil
}

// now returns the clock's time truncated to what Postgres stores.
func (db *DB) now() time.Time { return db.Now().UTC().Truncate(time.Microsecond) }

// inTx runs fn in a transaction and commits it when fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.Pool, fn)
}

// mapErr turns driver errors into domain errors; what names the thing looked up.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return switchboard.Errorf(switchboard.ENOTFOUND, "%s not found", what)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return switchboard.Errorf(switchboard.ECONFLICT, "%s already exists", what)
	}
	return err
}

// audit writes an audit event inside tx.
func (db *DB) audit(ctx context.Context, tx pgx.Tx, orgID, actor, action, resourceID string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	now := db.now()
	_, err := tx.Exec(ctx, `INSERT INTO audit_events (id, organization_id, actor, action, resource_id, details, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		switchboard.NewID(switchboard.PrefixAuditEvent, now), orgID, actor, action, resourceID, details, now)
	if err != nil {
		return fmt.Errorf("write audit event %s: %w", action, err)
	}
	return nil
}

// pageOf trims a limit+1 result to limit items and returns the token for the
// next page, taken from the last item's key.
func pageOf[T any](items []T, limit int, key func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, switchboard.PageToken(key(items[limit-1]))
}
