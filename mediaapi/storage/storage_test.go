package storage

import (
	"context"
	"errors"
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
	if _, err := Open(context.Background(), db); err != nil {
		t.Fatalf("second Open: %v", err)
	}
	return d
}

// TestMediaLifecycle: direct inserts, taken IDs, pending IDs bounded per user and by
// expiry, and completing a pending ID once, by its uploader, before it expires.
func TestMediaLifecycle(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t, dsn(t))
			ctx := context.Background()
			m := &Media{Origin: "hs", MediaID: "a", ContentType: "image/png", FileName: "a.png", Size: 3,
				SHA256: "abc", Uploader: "@u:hs", CreatedTS: 10, UploadedTS: 10}
			if err := d.InsertMedia(ctx, m); err != nil {
				t.Fatal(err)
			}
			if err := d.InsertMedia(ctx, m); !errors.Is(err, ErrExists) {
				t.Fatalf("second insert: %v", err)
			}
			got, err := d.GetMedia(ctx, "hs", "a")
			if err != nil || got == nil || *got != *m {
				t.Fatalf("GetMedia = %+v, %v; want %+v", got, err, m)
			}
			if got, err := d.GetMedia(ctx, "other", "a"); got != nil || err != nil {
				t.Fatalf("other origin: %+v %v", got, err)
			}

			steps := []struct {
				name     string
				id, user string
				now      int64
				wantErr  error
			}{
				{"first", "p1", "@u:hs", 100, nil},
				{"second", "p2", "@u:hs", 100, nil},
				{"third over the bound", "p3", "@u:hs", 100, ErrTooManyPending},
				{"another user", "q1", "@v:hs", 100, nil},
				{"after p1 and p2 expired", "p4", "@u:hs", 1000, nil},
			}
			for _, s := range steps {
				err := d.CreatePending(ctx, "hs", s.id, s.user, s.now, s.now+500, 2)
				if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
					t.Fatalf("%s: %v, want %v", s.name, err, s.wantErr)
				}
			}
			p, _ := d.GetMedia(ctx, "hs", "p4")
			if p == nil || !p.Pending() || p.ExpiresTS != 1500 {
				t.Fatalf("pending %+v", p)
			}
			fill := func(id, user string, now int64) error {
				return d.CompleteUpload(ctx, &Media{Origin: "hs", MediaID: id, Uploader: user, ContentType: "text/plain",
					Size: 1, SHA256: "def", UploadedTS: now})
			}
			if err := fill("p4", "@v:hs", 1100); !errors.Is(err, ErrNotPending) {
				t.Fatalf("other uploader: %v", err)
			}
			if err := fill("p1", "@u:hs", 1100); !errors.Is(err, ErrNotPending) {
				t.Fatalf("expired: %v", err)
			}
			if err := fill("p4", "@u:hs", 1100); err != nil {
				t.Fatal(err)
			}
			if err := fill("p4", "@u:hs", 1200); !errors.Is(err, ErrNotPending) {
				t.Fatalf("second fill: %v", err)
			}
			p, _ = d.GetMedia(ctx, "hs", "p4")
			if p.Pending() || p.SHA256 != "def" || p.UploadedTS != 1100 || p.ContentType != "text/plain" {
				t.Fatalf("filled %+v", p)
			}
		})
	}
}
