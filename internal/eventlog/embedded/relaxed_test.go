package embedded

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

var _ eventlog.Syncer = (*producer)(nil)

func writerSync(t *testing.T, db *sqlutil.DB) int {
	t.Helper()
	var mode int
	if err := db.QueryRow(`PRAGMA synchronous`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

func barrierSyncs(t *testing.T, db *sqlutil.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT syncs FROM eventlog_barrier WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// On SQLite opened with FULL, a publish commits with NORMAL on the writer, which goes back
// to FULL afterwards (other components may share it), also when the transaction fails;
// Sync is a FULL write. Opened with NORMAL, or on Postgres, nothing is relaxed and Sync
// writes nothing.
func TestRelaxedPublishAndSync(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, sync   string
		relaxed      bool
		wantSyncMode string
	}{
		{"full", sqlutil.SQLiteSyncFull, true, "2"},
		{"default", "", true, "2"},
		{"normal", sqlutil.SQLiteSyncNormal, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "relaxed"), SQLiteSynchronous: tt.sync})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			l, err := New(ctx, db, testConfig)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.syncMode != tt.wantSyncMode {
				t.Fatalf("syncMode = %q, want %q", l.syncMode, tt.wantSyncMode)
			}
			before := writerSync(t, db)
			if tt.relaxed {
				var inside int
				if err := l.relaxedTx(ctx, func(tx *sql.Tx) error {
					return tx.QueryRow(`PRAGMA synchronous`).Scan(&inside)
				}); err != nil {
					t.Fatal(err)
				}
				if inside != 1 {
					t.Fatalf("synchronous inside a publish = %d, want 1 (NORMAL)", inside)
				}
				boom := errors.New("boom")
				if err := l.relaxedTx(ctx, func(tx *sql.Tx) error {
					if _, err := tx.Exec(`UPDATE eventlog_barrier SET syncs = 100`); err != nil {
						return err
					}
					return boom
				}); !errors.Is(err, boom) {
					t.Fatalf("relaxedTx = %v, want boom", err)
				}
				if n := barrierSyncs(t, db); n != 0 {
					t.Fatalf("a failed publish transaction was kept (syncs = %d)", n)
				}
			}
			if err := l.EnsureTopics(ctx, 2, "t"); err != nil {
				t.Fatal(err)
			}
			p := l.Producer()
			if err := p.Publish(ctx, eventlog.Message{Topic: "t", Key: "!r", Value: []byte("v")}); err != nil {
				t.Fatal(err)
			}
			if after := writerSync(t, db); after != before {
				t.Fatalf("writer's synchronous %d after a publish, was %d", after, before)
			}
			if err := p.(eventlog.Syncer).Sync(ctx); err != nil {
				t.Fatal(err)
			}
			want := 0
			if tt.relaxed {
				want = 1
			}
			if n := barrierSyncs(t, db); n != want {
				t.Fatalf("Sync wrote the barrier %d times, want %d", n, want)
			}
		})
	}
	t.Run("postgres", func(t *testing.T) {
		l := openLog(t, testenv.PostgresDSN(t), testConfig)
		if l.syncMode != "" {
			t.Fatalf("syncMode = %q on Postgres", l.syncMode)
		}
		if err := l.Producer().(eventlog.Syncer).Sync(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
