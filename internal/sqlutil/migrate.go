package sqlutil

import (
	"context"
	"database/sql"
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

// Migrate brings component's tables up to the newest of migrations. Each migration runs in
// its own transaction together with the row that records it, so a crash leaves either the
// old or the new schema, never half of one. Safe to call from several processes at once on
// Postgres (an advisory lock serialises them).
func Migrate(ctx context.Context, db *DB, component string, migrations []Migration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS axon_schema_migrations (
		component TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("sqlutil: creating migrations table: %w", err)
	}
	for _, m := range migrations {
		err := WithTransaction(ctx, db.DB, func(tx *sql.Tx) error {
			if db.Dialect == Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7171)`); err != nil {
					return err
				}
			}
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
