// Package sqlutil opens the databases components keep their tables in (Postgres through
// lib/pq, SQLite through the pure-Go modernc.org/sqlite so ARM builds need no cgo) and runs
// each component's versioned migrations.
package sqlutil

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	_ "github.com/lib/pq" // Postgres driver
)

// Dialect is the SQL dialect of an open database.
type Dialect int

const (
	// Postgres is PostgreSQL through lib/pq.
	Postgres Dialect = iota + 1
	// SQLite is SQLite through modernc.org/sqlite.
	SQLite
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Options says how to open a database and size its connection pool. Dendrite ran Postgres
// out of connections (its issue #1611) because pools had no limit: every pool here has one.
type Options struct {
	// ConnectionString is "postgres://…" / "postgresql://…" / "host=… dbname=…" for Postgres,
	// or "file:PATH" / "sqlite:PATH" / a bare path for SQLite.
	ConnectionString string
	// MaxOpenConns caps open connections (default 10 for Postgres; SQLite always uses 1 writer).
	MaxOpenConns int
	// MaxIdleConns caps idle connections (default 2).
	MaxIdleConns int
	// ConnMaxLifetime closes connections older than this (0: never).
	ConnMaxLifetime time.Duration
}

// DB is an open database and its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
}

// Open opens the database that opts names, applying pool limits.
func Open(opts Options) (*DB, error) {
	cs := strings.TrimSpace(opts.ConnectionString)
	if cs == "" {
		return nil, fmt.Errorf("sqlutil: empty connection string")
	}
	if isPostgres(cs) {
		db, err := sql.Open("postgres", cs)
		if err != nil {
			return nil, err
		}
		maxOpen := opts.MaxOpenConns
		if maxOpen <= 0 {
			maxOpen = 10
		}
		maxIdle := opts.MaxIdleConns
		if maxIdle <= 0 {
			maxIdle = 2
		}
		db.SetMaxOpenConns(maxOpen)
		db.SetMaxIdleConns(maxIdle)
		db.SetConnMaxLifetime(opts.ConnMaxLifetime)
		if err := db.Ping(); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlutil: connecting to postgres: %w", err)
		}
		return &DB{DB: db, Dialect: Postgres}, nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(cs, "sqlite:"), "file:")
	// WAL lets readers run beside the single writer; busy_timeout makes a second writer wait
	// instead of failing; one open connection serialises writes inside this process.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open(sqliteDriverName, dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlutil: opening sqlite %s: %w", path, err)
	}
	return &DB{DB: db, Dialect: SQLite}, nil
}

func isPostgres(cs string) bool {
	return strings.HasPrefix(cs, "postgres://") || strings.HasPrefix(cs, "postgresql://") ||
		strings.Contains(cs, "dbname=") || strings.Contains(cs, "host=")
}

// WithTransaction runs fn in a transaction, committing if it returns nil and rolling back
// otherwise (so a rejected request leaves no half-written state).
func WithTransaction(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Querier is what *sql.DB and *sql.Tx share, so a statement can run inside or outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
