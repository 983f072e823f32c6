package sqlutil

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// Migration is one numbered schema change of a component. Versions start at 1 and never
// change once released; a new change is a new version.
type Migration struct {
	Version int
	// SQL runs when Up is nil. Several statements may be separated by ";".
	SQL string
	// Up, when set, runs instead of SQL; it gets the dialect for the few statements that differ.
	Up func(ctx context.Context, tx *sql.Tx, d Dialect) error
}

// migrationLockKey is the key of the Postgres session advisory lock Migrate holds. It is a
// one-key (bigint) lock; the two-key locks other code takes (sync instances, the outbox's
// per-key locks) live in a separate key space and never collide with it.
const migrationLockKey = 7171

// Migrate brings component's tables up to the newest of migrations. Each migration runs in
// its own transaction together with the row that records it, so a crash leaves either the
// old or the new schema, never half of one.
//
// Several processes may call it at once against one Postgres database (the polylith's
// binaries starting together, every one of them migrating its own tables and the shared
// ones, such as the embedded event log's): the whole run — including the creation of the
// axon_schema_migrations table, whose concurrent CREATE TABLE IF NOT EXISTS otherwise fails
// with a unique violation on pg_type — happens on one connection holding a session
// advisory lock, so the runs take turns. Advisory locks belong to one database, so
// processes on different databases of one server do not wait for each other. SQLite needs
// no lock: its one writer connection and BEGIN IMMEDIATE serialise writers already.
func Migrate(ctx context.Context, db *DB, component string, migrations []Migration) (err error) {
	var q TxBeginner = db.DB
	var ex interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	} = db.DB
	if db.Dialect == Postgres {
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("sqlutil: migrating %s: %w", component, err)
		}
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockKey)); err != nil {
			conn.Close()
			return fmt.Errorf("sqlutil: migrating %s: taking the migration lock: %w", component, err)
		}
		defer func() {
			_, uerr := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLockKey))
			if uerr != nil {
				// A pooled connection must never keep the lock: drop the connection, which
				// ends its session and with it the lock.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			err = errors.Join(err, conn.Close())
		}()
		q, ex = conn, conn
	}
	if _, err := ex.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS axon_schema_migrations (
		component TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("sqlutil: creating migrations table: %w", err)
	}
	for _, m := range migrations {
		err := WithTransaction(ctx, q, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM axon_schema_migrations WHERE component=$1 AND version=$2`,
				component, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if m.Up != nil {
				if err := m.Up(ctx, tx, db.Dialect); err != nil {
					return err
				}
			} else if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO axon_schema_migrations (component, version) VALUES ($1, $2)`, component, m.Version)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlutil: migrating %s to version %d: %w", component, m.Version, err)
		}
	}
	return nil
}
