package storage

import (
	"context"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

func open(t *testing.T, dsn string) *Database {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	// Migrating again is a no-op.
	if _, err := Open(context.Background(), db); err != nil {
		t.Fatalf("second Open: %v", err)
	}
	return d
}

// TestTokenLookupUsesIndex guards the hot path: the token lookup must go through the
// unique token-hash index, never scan the devices table.
func TestTokenLookupUsesIndex(t *testing.T) {
	d := open(t, testenv.SQLitePath(t, "plan"))
	rows, err := d.DB.Query(`EXPLAIN QUERY PLAN SELECT d.localpart, d.device_id, d.display_name, d.created_ts, d.last_seen_ts, d.last_seen_ip, a.account_type
		FROM userapi_devices d JOIN userapi_accounts a ON a.localpart = d.localpart
		WHERE d.access_token_hash = $1`, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "; ")
	if !strings.Contains(joined, "userapi_devices_token_idx") || strings.Contains(joined, "SCAN") {
		t.Fatalf("token lookup plan = %q, want searches through userapi_devices_token_idx and no scan", joined)
	}
}

func TestCounters(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t, dsn(t))
			ctx := context.Background()
			for want := int64(1); want <= 3; want++ {
				got, err := NextCounter(ctx, d.DB, "account_data")
				if err != nil || got != want {
					t.Fatalf("NextCounter = %d, %v; want %d", got, err, want)
				}
			}
			if _, err := NextCounter(ctx, d.DB, "no_such_counter"); err != ErrNotFound {
				t.Fatalf("unknown counter: err = %v, want ErrNotFound", err)
			}
		})
	}
}
