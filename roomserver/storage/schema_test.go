package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestMigrationWithoutRowid upgrades a SQLite database that has version 1 and rows in every
// table migration 2 rebuilds: afterwards each table is WITHOUT ROWID, holds the same rows,
// still rejects a duplicate key and has its indexes back.
func TestMigrationWithoutRowid(t *testing.T) {
	ctx := context.Background()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "upgrade")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlutil.Migrate(ctx, db, component, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	seed := map[string]string{
		"roomserver_prev_edges":          `INSERT INTO roomserver_prev_edges VALUES (1, '$a'), (2, '$b'), (2, '$c')`,
		"roomserver_auth_edges":          `INSERT INTO roomserver_auth_edges VALUES (2, '$a'), (3, '$a')`,
		"roomserver_forward_extremities": `INSERT INTO roomserver_forward_extremities VALUES ('!r:x', '$c')`,
		"roomserver_state_entries":       `INSERT INTO roomserver_state_entries VALUES (1, 'm.room.create', '', 1), (2, 'm.room.member', '@a:x', NULL)`,
		"roomserver_current_state":       `INSERT INTO roomserver_current_state VALUES ('!r:x', 'm.room.create', '', 1)`,
		"roomserver_memberships":         `INSERT INTO roomserver_memberships VALUES ('!r:x', '@a:x', 'join', 2, FALSE), ('!r:x', '@b:x', 'leave', 3, TRUE)`,
		"roomserver_transactions":        `INSERT INTO roomserver_transactions VALUES ('!r:x', '@a:x', 'D', 't1', '$c')`,
	}
	if len(seed) != len(withoutRowidTables) {
		t.Fatalf("seed covers %d tables, migration 2 rebuilds %d", len(seed), len(withoutRowidTables))
	}
	before := map[string]string{}
	for _, table := range withoutRowidTables {
		if _, err := db.ExecContext(ctx, seed[table]); err != nil {
			t.Fatal(err)
		}
		before[table] = dumpTable(t, db, table)
	}

	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		t.Fatal(err)
	}
	for _, table := range withoutRowidTables {
		var create string
		if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1`, table).Scan(&create); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if !strings.HasSuffix(create, "WITHOUT ROWID") || !strings.Contains(create, "CREATE TABLE "+table+" ") &&
			!strings.Contains(create, `CREATE TABLE "`+table+`"`) {
			t.Fatalf("%s is now %s", table, create)
		}
		if got := dumpTable(t, db, table); got != before[table] {
			t.Fatalf("%s rows changed:\n%s\nwant\n%s", table, got, before[table])
		}
		if _, err := db.ExecContext(ctx, seed[table]); err == nil {
			t.Fatalf("%s accepted a duplicate primary key after the rebuild", table)
		}
	}
	for _, ix := range []string{"roomserver_prev_edges_prev_idx", "roomserver_memberships_user_idx"} {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = $1`, ix).Scan(&n); err != nil || n != 1 {
			t.Fatalf("index %s: %d, %v", ix, n, err)
		}
	}
	var leftovers int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%\_v2' ESCAPE '\'`).Scan(&leftovers); err != nil || leftovers != 0 {
		t.Fatalf("%d leftover twin tables (%v)", leftovers, err)
	}
	// The database opens (and migrates, a no-op now) as the roomserver opens it.
	if _, err := Open(ctx, db); err != nil {
		t.Fatal(err)
	}
}

// dumpTable renders every row of table, sorted.
func dumpTable(t *testing.T, db *sqlutil.DB, table string) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT * FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprint(vals...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
