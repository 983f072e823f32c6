package outbox

import (
	"context"
	"database/sql"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// migrations create the component's outbox table, <component>_outbox. The dialects differ
// only in the auto-incrementing id column, whose order is the relay order.
func migrations(table string) []sqlutil.Migration {
	return []sqlutil.Migration{{
		Version: 1,
		Up: func(ctx context.Context, tx *sql.Tx, d sqlutil.Dialect) error {
			id, blob := "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"
			if d == sqlutil.Postgres {
				id, blob = "BIGSERIAL PRIMARY KEY", "BYTEA"
			}
			_, err := tx.ExecContext(ctx, `CREATE TABLE `+table+` (
				id `+id+`,
				topic TEXT NOT NULL,
				msg_key TEXT NOT NULL,
				value `+blob+` NOT NULL,
				headers TEXT NOT NULL,
				created_ms BIGINT NOT NULL
			)`)
			return err
		},
	}}
}
