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
	// SQLiteSynchronous is SQLite's synchronous setting in WAL mode: SQLiteSyncFull (the
	// default, "") or SQLiteSyncNormal. Postgres ignores it.
	SQLiteSynchronous string
}

// SQLite synchronous settings (Options.SQLiteSynchronous).
const (
	// SQLiteSyncFull fsyncs the WAL on every commit: an acknowledged write survives a
	// process crash, an OS crash and a power loss.
	SQLiteSyncFull = "full"
	// SQLiteSyncNormal writes the WAL on every commit but fsyncs only at checkpoints: an
	// acknowledged write survives a process crash (kill -9, panic, OOM), but an OS crash or
	// power loss can lose the commits since the last checkpoint. Roughly 10 µs instead of
	// 170 µs per commit on the development machine's disk (docs/benchmarks.md).
	SQLiteSyncNormal = "normal"
)

// DB is an open database and its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
	// reader is the pool of connections for reads outside transactions (see Reader).
	reader *sql.DB
}

// readerConns caps SQLite's read-only connections per database file.
const readerConns = 4

// Reader returns the pool for reads that need no transaction: a pool of its own, so that a
// burst of reads (every /sync woken by one event) never queues the writes behind it.
//
// On SQLite the DB has a single connection, so that writes are serialised; the read pool's
// connections are read-only and, in WAL mode, read the last committed state while the
// writer works. On Postgres the read pool has the DB's limits again (so a process may hold
// twice MaxOpenConns connections); in the monolith every component shares one DB per
// connection string, and before the split 1,000 long-polling /sync requests took the ten
// connections that sends, the outbox relay and the topic 2 consumer needed.
//
// A read here sees what a read on the DB outside a transaction would: committed data.
// Connections open on first use, so a component that never calls Reader costs nothing.
func (d *DB) Reader() *sql.DB {
	if d.reader != nil {
		return d.reader
	}
	return d.DB
}

// Close closes the database and its read pool.
func (d *DB) Close() error {
	err := d.DB.Close()
	if d.reader != nil {
		if rerr := d.reader.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// Open opens the database that opts names, applying pool limits.
func Open(opts Options) (*DB, error) {
	cs := strings.TrimSpace(opts.ConnectionString)
	if cs == "" {
		return nil, fmt.Errorf("sqlutil: empty connection string")
	}
	if isPostgres(cs) {
		db, err := sql.Open("postgres", withBinaryParameters(cs))
		if err != nil {
			return nil, err
		}
		maxOpen := opts.MaxOpenConns
		if maxOpen <= 0 {
			maxOpen = 10
		}
		// Idle connections are kept up to the open limit: a pool that closes them after a
		// burst dials them again on the next (a Postgres backend process each).
		maxIdle := opts.MaxIdleConns
		if maxIdle <= 0 {
			maxIdle = maxOpen
		}
		db.SetMaxOpenConns(maxOpen)
		db.SetMaxIdleConns(maxIdle)
		db.SetConnMaxLifetime(opts.ConnMaxLifetime)
		if err := db.Ping(); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlutil: connecting to postgres: %w", err)
		}
		// The read pool has the same limits; it opens connections only when Reader is used.
		reader, err := sql.Open("postgres", withBinaryParameters(cs))
		if err != nil {
			db.Close()
			return nil, err
		}
		reader.SetMaxOpenConns(maxOpen)
		reader.SetMaxIdleConns(maxIdle)
		reader.SetConnMaxLifetime(opts.ConnMaxLifetime)
		return &DB{DB: db, Dialect: Postgres, reader: reader}, nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(cs, "sqlite:"), "file:")
	// WAL lets readers run beside the single writer; busy_timeout makes a second writer wait
	// instead of failing; one open connection serialises writes inside this process.
	//
	// synchronous: FULL by default, so nothing acknowledged is lost even on power loss;
	// NORMAL when the operator chooses throughput over that window (SQLiteSyncNormal).
	var sync string
	switch strings.ToLower(opts.SQLiteSynchronous) {
	case "", SQLiteSyncFull:
		sync = "FULL"
	case SQLiteSyncNormal:
		sync = "NORMAL"
	default:
		return nil, fmt.Errorf("sqlutil: SQLite synchronous must be %q or %q, got %q", SQLiteSyncFull, SQLiteSyncNormal, opts.SQLiteSynchronous)
	}
	params := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=synchronous(" + sync + ")"
	db, err := sql.Open(sqliteDriverName, "file:"+path+"?"+params+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlutil: opening sqlite %s: %w", path, err)
	}
	// The read pool opens after the writer made the file WAL; query_only refuses writes.
	reader, err := sql.Open(sqliteDriverName, "file:"+path+"?"+params+"&_pragma=query_only(1)")
	if err != nil {
		db.Close()
		return nil, err
	}
	reader.SetMaxOpenConns(readerConns)
	reader.SetMaxIdleConns(2)
	return &DB{DB: db, Dialect: SQLite, reader: reader}, nil
}

// withBinaryParameters turns on lib/pq's binary_parameters unless the connection string
// sets it. Without it lib/pq runs every statement with arguments as two round trips
// (Parse+Describe, then Bind+Execute); with it, one (Parse+Bind+Execute). The send path
// runs about twenty statements, so on Postgres this halves its network waits. The option
// also sends []byte arguments in binary, which is right for bytea and text columns (no
// column here is jsonb, whose binary form would need a version byte).
func withBinaryParameters(cs string) string {
	if strings.Contains(cs, "binary_parameters") {
		return cs
	}
	if strings.HasPrefix(cs, "postgres://") || strings.HasPrefix(cs, "postgresql://") {
		if strings.Contains(cs, "?") {
			return cs + "&binary_parameters=yes"
		}
		return cs + "?binary_parameters=yes"
	}
	return cs + " binary_parameters=yes"
}

func isPostgres(cs string) bool {
	return strings.HasPrefix(cs, "postgres://") || strings.HasPrefix(cs, "postgresql://") ||
		strings.Contains(cs, "dbname=") || strings.Contains(cs, "host=")
}

// TxBeginner is what starts a transaction: a *sql.DB, or a *sql.Conn pinned for settings
// that belong to one connection.
type TxBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// WithTransaction runs fn in a transaction, committing if it returns nil and rolling back
// otherwise (so a rejected request leaves no half-written state).
func WithTransaction(ctx context.Context, db TxBeginner, fn func(tx *sql.Tx) error) (err error) {
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
