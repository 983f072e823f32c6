package storage

import (
	"context"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// TestUsage: the per-user sum of uploads, the remote cache's sum and least-recently-used
// order (a touch renews, but only once it is stale), and deleting media with its
// thumbnails, which returns the files they named.
func TestUsage(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t, dsn(t))
			ctx := context.Background()
			ins := func(origin, id, uploader, hash string, size, ts int64) {
				t.Helper()
				if err := d.InsertMedia(ctx, &Media{Origin: origin, MediaID: id, Size: size, SHA256: hash, Uploader: uploader,
					CreatedTS: ts, UploadedTS: ts}); err != nil {
					t.Fatal(err)
				}
			}
			ins("hs", "l1", "@u:hs", "h1", 10, 1)
			ins("hs", "l2", "@u:hs", "h1", 10, 2) // the same bytes count again
			ins("hs", "l3", "@v:hs", "h2", 5, 3)
			ins("r1", "x", "", "h2", 100, 4)
			ins("r2", "y", "", "h3", 200, 5)
			ins("r2", "z", "", "h4", 300, 6)
			if err := d.CreatePending(ctx, "hs", "p", "@u:hs", 7, 100, 5); err != nil {
				t.Fatal(err)
			}
			if n, err := d.UploadedBytes(ctx, "hs", "@u:hs"); err != nil || n != 20 {
				t.Fatalf("UploadedBytes %d %v", n, err)
			}
			if n, err := d.RemoteBytes(ctx, "hs"); err != nil || n != 600 {
				t.Fatalf("RemoteBytes %d %v", n, err)
			}
			order := func(want ...string) {
				t.Helper()
				ms, err := d.LeastRecentlyUsedRemote(ctx, "hs", 10)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, m := range ms {
					got = append(got, m.MediaID)
				}
				if len(got) != len(want) {
					t.Fatalf("order %v, want %v", got, want)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("order %v, want %v", got, want)
					}
				}
			}
			order("x", "y", "z")
			if err := d.TouchMedia(ctx, "r1", "x", 10, 5); err != nil {
				t.Fatal(err)
			}
			order("y", "z", "x")
			if err := d.TouchMedia(ctx, "r2", "y", 13, 5); err != nil {
				t.Fatal(err)
			}
			if err := d.TouchMedia(ctx, "r1", "x", 12, 5); err != nil { // touched at 10: not stale yet
				t.Fatal(err)
			}
			order("z", "x", "y")
			if err := d.InsertThumbnail(ctx, &Thumbnail{Origin: "r1", MediaID: "x", Width: 1, Height: 1, Method: "crop",
				ContentType: "image/png", Size: 1, SHA256: "t1", CreatedTS: 1}); err != nil {
				t.Fatal(err)
			}
			hashes, err := d.DeleteMedia(ctx, "r1", "x")
			if err != nil || len(hashes) != 2 {
				t.Fatalf("DeleteMedia %v %v", hashes, err)
			}
			if m, _ := d.GetMedia(ctx, "r1", "x"); m != nil {
				t.Fatal("media row left")
			}
			for hash, want := range map[string]bool{"h2": true, "t1": false, "h1": true, "nothing": false} {
				if got, err := d.Referenced(ctx, hash); err != nil || got != want {
					t.Fatalf("Referenced(%s) = %v %v", hash, got, err)
				}
			}
		})
	}
}
