// Package storage holds the userapi's tables — accounts, devices and hashed access tokens,
// profiles, account data, filters and counters — on SQLite or Postgres. Functions take a
// sqlutil.Querier so the caller (userapi/internal) decides which of them share a
// transaction; inside a transaction always pass the *sql.Tx (SQLite has one connection).
package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Database is the userapi's database.
type Database struct {
	DB *sqlutil.DB
}

// Open migrates db to the newest userapi schema and returns it.
func Open(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	return &Database{DB: db}, nil
}

// WithTransaction runs fn in one transaction of the database.
func (d *Database) WithTransaction(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, fn)
}

// ErrNotFound is returned when a row asked for does not exist.
var ErrNotFound = errors.New("storage: not found")

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// CounterValue returns the named counter's current value (the last one NextCounter gave).
func CounterValue(ctx context.Context, q sqlutil.Querier, name string) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT value FROM userapi_counters WHERE name = $1`, name).Scan(&v)
	return v, notFound(err)
}

// NextCounter increments the named counter and returns its new value. Inside a transaction
// the row stays locked until commit, so values are dense (a rollback also rolls back the
// increment) and committed in increasing order.
func NextCounter(ctx context.Context, q sqlutil.Querier, name string) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx,
		`UPDATE userapi_counters SET value = value + 1 WHERE name = $1 RETURNING value`, name).Scan(&v)
	return v, notFound(err)
}
