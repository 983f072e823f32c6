package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// TestPutBackupKeysConcurrent: uploads of one session's key racing from several clients
// (say a user's two devices backing up the same session) end with the best key stored,
// whatever their order, on SQLite and Postgres; every upload that stored a key gave the
// version a new etag.
func TestPutBackupKeysConcurrent(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sdb.Close() })
			db, err := storage.Open(ctx, sdb)
			if err != nil {
				t.Fatal(err)
			}
			const user = "@alice:test.local"
			v, err := db.CreateBackup(ctx, user, "alg", []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			const n = 12
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Index n-1-i: the best key (index 0) comes last in launch order.
					_, _, err := db.PutBackupKeys(ctx, user, v, []storage.BackupKey{{RoomID: "!r:test.local", SessionID: "s",
						FirstMessageIndex: int64(n - 1 - i), SessionData: []byte(fmt.Sprintf(`{"i":%d}`, n-1-i))}})
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			keys, err := db.BackupKeys(ctx, user, v, "", "")
			if err != nil || len(keys) != 1 || keys[0].FirstMessageIndex != 0 || string(keys[0].SessionData) != `{"i":0}` {
				t.Fatalf("stored: %+v %v", keys, err)
			}
			b, err := db.Backup(ctx, user, 0)
			if err != nil || b.Count != 1 || b.Etag < 1 || b.Etag > n {
				t.Fatalf("version: %+v %v", b, err)
			}
		})
	}
}
