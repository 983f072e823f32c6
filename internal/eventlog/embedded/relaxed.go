package embedded

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// sqliteSyncFull is PRAGMA synchronous's value for FULL (EXTRA is 3).
const sqliteSyncFull = 2

// relaxedTx runs fn in a transaction on the SQLite writer with synchronous=NORMAL for that
// one commit, then gives the connection back with the database's own setting. Publishing
// costs no fsync this way; the outbox calls Sync (a FULL commit) before it forgets what it
// relayed, so nothing it staged can be lost (eventlog.Syncer, ARCHITECTURE.md §5).
//
// The setting is per connection and the writer is shared (other components may keep their
// tables in the same file), so it is put back before the connection returns to the pool;
// if that fails, the connection is discarded instead of handed on in NORMAL.
func (l *Log) relaxedTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return err
	}
	defer func() {
		if _, rerr := conn.ExecContext(context.Background(), `PRAGMA synchronous = `+l.syncMode); rerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return sqlutil.WithTransaction(ctx, conn, fn)
}
