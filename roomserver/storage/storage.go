// Package storage holds the roomserver's tables (SQLite and Postgres): rooms, events and
// their DAG edges, forward extremities, state snapshots, current state, memberships,
// transaction IDs, the topic 2 stream counter, redactions and aliases. The schema and its
// one dialect difference are in schema.go; each other file holds the statements of one
// table group. Every statement is written once for both dialects.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Database is the roomserver's database.
type Database struct {
	db *sqlutil.DB
}

// Open runs the roomserver's migrations on db and returns the Database.
func Open(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	return &Database{db: db}, nil
}

// Store runs the roomserver's statements on a database handle or inside a transaction.
type Store struct {
	q       sqlutil.Querier
	dialect sqlutil.Dialect
	// writes counts the statements inside the transaction that may have changed a row.
	writes int
}

// Writes is the number of statements this Store ran in its transaction that may have
// changed a row (every statement but SELECT and WITH queries): a group commit uses it to
// tell a write that failed before changing anything from one that must fail the group.
func (s *Store) Writes() int { return s.writes }

// countingTx is a transaction that counts its writes on its Store.
type countingTx struct {
	tx *sql.Tx
	s  *Store
}

func (c countingTx) count(query string) {
	q := strings.TrimLeft(query, " \t\n")
	if !strings.HasPrefix(q, "SELECT") && !strings.HasPrefix(q, "WITH") {
		c.s.writes++
	}
}

func (c countingTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.count(query)
	return c.tx.ExecContext(ctx, query, args...)
}

func (c countingTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.count(query)
	return c.tx.QueryContext(ctx, query, args...)
}

func (c countingTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.count(query)
	return c.tx.QueryRowContext(ctx, query, args...)
}

// Reader returns a Store that reads outside any transaction. On SQLite (one connection)
// never use it while a transaction of this database is open in the same goroutine.
func (d *Database) Reader() *Store { return &Store{q: d.db.DB, dialect: d.db.Dialect} }

// WithTx runs fn in one transaction: committed if fn returns nil, rolled back otherwise,
// so a rejected request leaves nothing behind. fn gets both the Store bound to the
// transaction and the *sql.Tx itself (for the outbox).
func (d *Database) WithTx(ctx context.Context, fn func(s *Store, tx *sql.Tx) error) error {
	return sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		s := &Store{dialect: d.db.Dialect}
		s.q = countingTx{tx: tx, s: s}
		return fn(s, tx)
	})
}

// Dialect returns the database's SQL dialect.
func (d *Database) Dialect() sqlutil.Dialect { return d.db.Dialect }

func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
