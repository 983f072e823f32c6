package sqlutil

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"sync"

	sqlite "modernc.org/sqlite"
)

// sqliteDriverName is the database/sql driver Open uses for SQLite: modernc.org/sqlite with
// a prepared statement cache per connection.
//
// Why: modernc.org/sqlite parses and plans every statement it is handed without a prepared
// statement (db.QueryContext(ctx, query, args...)), and Axon's storage code does exactly
// that. The load tool's profile of the send path (docs/benchmarks.md, "Monolith") showed
// SQLite's parser (sqlite3Prepare → sqlite3RunParser) at a quarter of the server's CPU.
// Caching the prepared statement per (connection, query text) removes that cost for every
// caller at once, transactions included, without touching the storage code.
//
// One thing defeats the cache: SQLite re-prepares a statement whose LIMIT is a bare bound
// parameter (LIMIT $4) each time it runs, as the planner takes the limit's value into
// account. Write LIMIT CAST($4 AS INTEGER) instead (Postgres accepts it too); the profile
// showed those re-prepares at a tenth of the CPU before the three hot queries changed.
const sqliteDriverName = "axon-sqlite"

// maxCachedStmts caps the statements one connection keeps prepared. Queries built with a
// variable number of placeholders (IN lists) have many texts; once the cache is full, new
// texts run unprepared as before. Cached statements are never evicted, so none is ever
// finalised while a caller still reads its rows.
const maxCachedStmts = 512

func init() {
	sql.Register(sqliteDriverName, &cachingDriver{base: &sqlite.Driver{}})
}

// cachingDriver opens modernc.org/sqlite connections wrapped in a statement cache.
type cachingDriver struct{ base driver.Driver }

func (d *cachingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return newCachingConn(c)
}

// baseConn is what the wrapped modernc.org/sqlite connection implements.
type baseConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
}

// cachedStmt is one prepared statement; busy while rows read from it are open, when a
// second use of the same text (a query inside the loop over its own rows) runs unprepared
// instead of resetting the statement under the reader.
type cachedStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy bool
}

// cachingConn is one SQLite connection with its prepared statements. database/sql uses a
// connection from one goroutine at a time; the mutex guards the map anyway (Rows.Close
// may come from another goroutine than the query).
type cachingConn struct {
	base baseConn

	mu    sync.Mutex
	stmts map[string]*cachedStmt
}

func newCachingConn(c driver.Conn) (driver.Conn, error) {
	b, ok := c.(baseConn)
	if !ok {
		_ = c.Close()
		return nil, errors.New("sqlutil: the sqlite driver lacks the context interfaces")
	}
	return &cachingConn{base: b, stmts: map[string]*cachedStmt{}}, nil
}

// acquire returns the cached statement for query, preparing it on first use, marked busy;
// nil when the query must run unprepared (cache full, statement busy, or a script).
func (c *cachingConn) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs, ok := c.stmts[query]; ok {
		if cs == nil || cs.busy {
			return nil, nil
		}
		cs.busy = true
		return cs, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.base.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s, ok := st.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		_ = st.Close()
		c.stmts[query] = nil // never cacheable: remember, so it is not prepared twice
		return nil, nil
	}
	cs := &cachedStmt{stmt: s, busy: true}
	c.stmts[query] = cs
	return cs, nil
}

func (c *cachingConn) release(cs *cachedStmt) {
	c.mu.Lock()
	cs.busy = false
	c.mu.Unlock()
}

// ExecContext runs a statement through the cache. A multi-statement script (migrations)
// is cached too; modernc.org/sqlite runs it statement by statement each time.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.base.ExecContext(ctx, query, args)
	}
	defer c.release(cs)
	return cs.stmt.ExecContext(ctx, args)
}

// QueryContext runs a query through the cache; the statement stays busy
// until its rows are closed.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.base.QueryContext(ctx, query, args)
	}
	r, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(cs)
		return nil, err
	}
	return &cachedRows{Rows: r, release: func() { c.release(cs) }}, nil
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.base.Prepare(query) }

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.base.PrepareContext(ctx, query)
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.base.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.base.BeginTx(ctx, opts)
}

// Close finalises the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	var errs []error
	for q, cs := range c.stmts {
		if cs != nil {
			errs = append(errs, cs.stmt.Close())
		}
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	errs = append(errs, c.base.Close())
	return errors.Join(errs...)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.base.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.base.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.base.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// cachedRows releases its statement on Close (database/sql closes rows exactly once, but
// the release is idempotent anyway).
type cachedRows struct {
	driver.Rows
	release func()
	closed  bool
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.release()
	}
	return err
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
