package setup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// OpenDatabase opens the database config.DatabaseFor(component) names (a component name
// or config.ComponentEventLog) and checks that it belongs to this server name, recording
// the server identity on first use (identity.go). Components that resolve to the same connection string
// share one *sqlutil.DB (in the monolith on one Postgres database, or several components
// pointed at one SQLite file). The first open registers a /health ping and a shutdown hook
// that closes it; since hooks run in reverse, it closes after everything registered later.
func (b *Base) OpenDatabase(component string) (*sqlutil.DB, error) {
	opts := b.Cfg.DatabaseFor(component).Options()
	b.mu.Lock()
	if db, ok := b.dbs[opts.ConnectionString]; ok {
		b.mu.Unlock()
		return db, nil
	}
	b.mu.Unlock()
	if path, ok := sqlitePath(opts.ConnectionString); ok {
		// The defaults put SQLite files in global.data_dir, which may not exist yet.
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("setup: database directory for %s: %w", component, err)
		}
	}
	db, err := sqlutil.Open(opts)
	if err != nil {
		return nil, err
	}
	// Refuse a database made for another server name (identity.go).
	if err := b.checkDatabaseIdentity(context.Background(), component, opts.ConnectionString, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	b.mu.Lock()
	if other, ok := b.dbs[opts.ConnectionString]; ok { // opened concurrently
		b.mu.Unlock()
		_ = db.Close()
		return other, nil
	}
	b.dbs[opts.ConnectionString] = db
	b.mu.Unlock()
	b.AddHealthCheck("database:"+component, db.PingContext)
	b.AddShutdownHook("database:"+component, func(context.Context) error { return db.Close() })
	return db, nil
}

// sqlitePath returns the file a SQLite connection string names (ok false for Postgres).
func sqlitePath(cs string) (string, bool) {
	cs = strings.TrimSpace(cs)
	if strings.HasPrefix(cs, "postgres://") || strings.HasPrefix(cs, "postgresql://") ||
		strings.Contains(cs, "dbname=") || strings.Contains(cs, "host=") {
		return "", false
	}
	p := strings.TrimPrefix(strings.TrimPrefix(cs, "sqlite:"), "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p, p != "" && p != ":memory:"
}
