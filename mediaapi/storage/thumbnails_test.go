package storage

import (
	"context"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// TestThumbnailsAndPreviews: thumbnails stored once per size (a second insert keeps the
// first), looked up by the exact size; URL previews cached until they expire, replaced by
// a newer fetch.
func TestThumbnailsAndPreviews(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t, dsn(t))
			ctx := context.Background()
			th := &Thumbnail{Origin: "hs", MediaID: "a", Width: 96, Height: 96, Method: "crop", ContentType: "image/png",
				Size: 10, SHA256: "abc", ActualWidth: 50, ActualHeight: 50, CreatedTS: 5}
			if got, err := d.GetThumbnail(ctx, "hs", "a", 96, 96, "crop"); got != nil || err != nil {
				t.Fatalf("before insert: %+v %v", got, err)
			}
			if err := d.InsertThumbnail(ctx, th); err != nil {
				t.Fatal(err)
			}
			second := *th
			second.SHA256 = "def"
			if err := d.InsertThumbnail(ctx, &second); err != nil {
				t.Fatalf("second insert: %v", err)
			}
			got, err := d.GetThumbnail(ctx, "hs", "a", 96, 96, "crop")
			if err != nil || got == nil || *got != *th {
				t.Fatalf("GetThumbnail = %+v, %v; want %+v", got, err, th)
			}
			for _, miss := range [][3]any{{96, 96, "scale"}, {32, 32, "crop"}} {
				if got, err := d.GetThumbnail(ctx, "hs", "a", miss[0].(int), miss[1].(int), miss[2].(string)); got != nil || err != nil {
					t.Fatalf("%v: %+v %v", miss, got, err)
				}
			}

			if og, err := d.GetURLPreview(ctx, "https://x/", 0); og != nil || err != nil {
				t.Fatalf("empty cache: %s %v", og, err)
			}
			if err := d.StoreURLPreview(ctx, "https://x/", []byte(`{"og:title":"a"}`), 100, 200); err != nil {
				t.Fatal(err)
			}
			if og, err := d.GetURLPreview(ctx, "https://x/", 150); string(og) != `{"og:title":"a"}` || err != nil {
				t.Fatalf("fresh: %s %v", og, err)
			}
			if og, err := d.GetURLPreview(ctx, "https://x/", 200); og != nil || err != nil {
				t.Fatalf("expired: %s %v", og, err)
			}
			if err := d.StoreURLPreview(ctx, "https://x/", []byte(`{"og:title":"b"}`), 300, 400); err != nil {
				t.Fatal(err)
			}
			if og, err := d.GetURLPreview(ctx, "https://x/", 350); string(og) != `{"og:title":"b"}` || err != nil {
				t.Fatalf("replaced: %s %v", og, err)
			}
		})
	}
}
