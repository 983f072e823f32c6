package routing

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/mediaapi/storage"
	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
)

// BenchmarkThumbnail4000x3000: GET of an 800×600 thumbnail of a 12-megapixel JPEG through
// the handler (SQLite, legacy path: no token check): cold (rendered and stored on each
// request: its row is deleted in between) and stored (a database read and the file).
func BenchmarkThumbnail4000x3000(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: "file:" + filepath.Join(dir, "media.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer sdb.Close()
	mdb, err := storage.Open(ctx, sdb)
	if err != nil {
		b.Fatal(err)
	}
	files, err := storage.NewFiles(filepath.Join(dir, "media"))
	if err != nil {
		b.Fatal(err)
	}
	data := thumbtest.JPEG(thumbtest.Photo(4000, 3000))
	hash, size, err := files.Write(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixMilli()
	if err := mdb.InsertMedia(ctx, &storage.Media{Origin: testServer, MediaID: "photo", ContentType: "image/jpeg",
		Size: size, SHA256: hash, Uploader: "@u:" + testServer, CreatedTS: now, UploadedTS: now}); err != nil {
		b.Fatal(err)
	}
	r := mux.NewRouter()
	h := New(Config{ServerName: testServer, MaxUploadSize: 1 << 30}, mdb, files, nil)
	h.Setup(r, r)
	get := func() {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_matrix/media/v3/thumbnail/"+testServer+"/photo?width=800&height=600", nil))
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if _, err := sdb.ExecContext(ctx, `DELETE FROM mediaapi_thumbnails`); err != nil {
				b.Fatal(err)
			}
			get()
		}
	})
	b.Run("stored", func(b *testing.B) {
		get()
		for b.Loop() {
			get()
		}
	})
}
