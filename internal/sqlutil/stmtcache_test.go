package sqlutil

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func openTestSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := Open(Options{ConnectionString: "file:" + filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);
		CREATE TABLE u (k INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// cacheSize reports how many statements the (single) SQLite connection holds prepared.
func cacheSize(t *testing.T, db *DB) int {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := -1
	err = conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		c.mu.Lock()
		n = len(c.stmts)
		c.mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStmtCache runs the ways a cached statement could go wrong against a real SQLite
// file: reuse after an error, the same text queried inside the loop over its own rows, a
// script without arguments, and a full cache.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, db *DB)
	}{
		{"reused statement sees new arguments", func(t *testing.T, db *DB) {
			before := cacheSize(t, db)
			for i := range 5 {
				if _, err := db.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ($1, $2)`, i, fmt.Sprint("v", i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				var v string
				if err := db.QueryRowContext(ctx, `SELECT v FROM t WHERE k = $1`, i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
					t.Fatalf("k=%d: %q, %v", i, v, err)
				}
			}
			if n := cacheSize(t, db) - before; n != 2 {
				t.Fatalf("cached %d new statements, want 2", n)
			}
		}},
		{"constraint error leaves the statement usable", func(t *testing.T, db *DB) {
			ins := `INSERT INTO t (k, v) VALUES ($1, $2)`
			if _, err := db.ExecContext(ctx, ins, 1, "a"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, ins, 1, "b"); err == nil {
				t.Fatal("duplicate key accepted")
			}
			if _, err := db.ExecContext(ctx, ins, 2, "c"); err != nil {
				t.Fatalf("after an error: %v", err)
			}
		}},
		{"same query inside the loop over its own rows", func(t *testing.T, db *DB) {
			for i := range 3 {
				if _, err := db.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ($1, $2)`, i, fmt.Sprint(i)); err != nil {
					t.Fatal(err)
				}
			}
			q := `SELECT k FROM t WHERE k >= $1 ORDER BY k`
			err := WithTransaction(ctx, db.DB, func(tx *sql.Tx) error {
				outer, err := tx.QueryContext(ctx, q, 0)
				if err != nil {
					return err
				}
				defer outer.Close()
				var got []string
				for outer.Next() {
					var k int
					if err := outer.Scan(&k); err != nil {
						return err
					}
					inner, err := tx.QueryContext(ctx, q, k)
					if err != nil {
						return err
					}
					n := 0
					for inner.Next() {
						n++
					}
					inner.Close()
					got = append(got, fmt.Sprintf("%d:%d", k, n))
				}
				if s := strings.Join(got, ","); s != "0:3,1:2,2:1" {
					return fmt.Errorf("outer rows disturbed by the inner query: %s", s)
				}
				return outer.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"script runs every statement, each time", func(t *testing.T, db *DB) {
			script := `INSERT INTO u (k) VALUES ($1); INSERT INTO u (k) VALUES ($1 + 1)`
			for _, k := range []int{1, 3} {
				if _, err := db.ExecContext(ctx, script, k); err != nil {
					t.Fatal(err)
				}
			}
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM u WHERE k > $1`, 0).Scan(&n); err != nil || n != 4 {
				t.Fatalf("count %d, %v", n, err)
			}
		}},
		{"full cache runs new texts unprepared", func(t *testing.T, db *DB) {
			for i := range maxCachedStmts + 10 {
				var k int
				err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d + $1`, i), 1).Scan(&k)
				if err != nil || k != i+1 {
					t.Fatalf("query %d: %d, %v", i, k, err)
				}
			}
			if n := cacheSize(t, db); n != maxCachedStmts {
				t.Fatalf("cached %d statements, want the cap %d", n, maxCachedStmts)
			}
		}},
		{"syntax error is returned and not cached", func(t *testing.T, db *DB) {
			before := cacheSize(t, db)
			if _, err := db.ExecContext(ctx, `INSERT INTO nope VALUES ($1)`, 1); err == nil {
				t.Fatal("no error for a missing table")
			}
			if n := cacheSize(t, db) - before; n != 0 {
				t.Fatalf("cached %d statements after an error", n)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, openTestSQLite(t)) })
	}
}

// BenchmarkSQLiteQuery is the cost the cache removes: a point query by key, prepared once
// (the cached driver) versus parsed every time (modernc.org/sqlite as registered by itself).
func BenchmarkSQLiteQuery(b *testing.B) {
	for _, drv := range []string{sqliteDriverName, "sqlite"} {
		b.Run(drv, func(b *testing.B) {
			db, err := sql.Open(drv, "file:"+filepath.Join(b.TempDir(), "b.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			if _, err := db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO t VALUES (1, 'x')`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				var v string
				if err := db.QueryRow(`SELECT v FROM t WHERE k = $1 AND v <> $2`, 1, "").Scan(&v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestReaderSeesCommitsAndRefusesWrites checks SQLite's read pool: it reads what the writer
// committed, not what an open transaction has written, and it refuses writes.
func TestReaderSeesCommitsAndRefusesWrites(t *testing.T) {
	ctx := context.Background()
	db := openTestSQLite(t)
	if db.Reader() == db.DB {
		t.Fatal("SQLite has no separate read pool")
	}
	count := func() int {
		var n int
		if err := db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE k >= $1`, 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ($1, $2)`, 1, "a"); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("reader sees %d rows of an uncommitted transaction", n)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("reader sees %d rows after the commit, want 1", n)
	}
	if _, err := db.Reader().ExecContext(ctx, `INSERT INTO t (k, v) VALUES ($1, $2)`, 2, "b"); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}
