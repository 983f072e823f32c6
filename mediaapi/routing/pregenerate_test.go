package routing

import (
	"bytes"
	"image"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/axon-matrix/axon/mediaapi/thumbnail"
	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// TestThumbnailsOnUpload: with media_api.thumbnails_on_upload, every configured size of an
// uploaded image (POST, and PUT to a created ID) is rendered and stored in the background,
// so thumbnails are served without the original; content of another type, or not an
// image, gets none; off, nothing is rendered before a request.
func TestThumbnailsOnUpload(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		rows := func(h *harness) int {
			var n int
			if err := h.h.db.DB.QueryRow(`SELECT COUNT(*) FROM mediaapi_thumbnails`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		off := newH(t)
		_, tok := off.user("alice", uapi.AccountTypeUser)
		off.upload(tok, "image/png", "", thumbtest.PNG(thumbtest.Quadrants(400, 300)))
		off.h.background.Wait()
		if n := rows(off); n != 0 {
			t.Fatalf("off: %d thumbnails rendered", n)
		}

		h := newH(t, func(c *Config) { c.ThumbnailsOnUpload = true })
		_, tok = h.user("alice", uapi.AccountTypeUser)
		jpg := h.upload(tok, "image/jpeg", "q.jpg", thumbtest.JPEG(thumbtest.Quadrants(400, 300)))
		c := h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusOK)
		created := c.body["content_uri"].(string)[len("mxc://"):]
		h.must(h.req(http.MethodPut, "/_matrix/media/v3/upload/"+created, tok, bytes.NewReader(thumbtest.PNG(thumbtest.Quadrants(40, 30))),
			map[string]string{"Content-Type": "image/png"}), http.StatusOK)
		h.upload(tok, "text/plain", "", []byte("no image"))
		h.upload(tok, "image/png", "", []byte("not a PNG at all"))
		h.h.background.Wait()
		if n := rows(h); n != 2*len(thumbnail.DefaultSizes) {
			t.Fatalf("%d thumbnails, want %d", n, 2*len(thumbnail.DefaultSizes))
		}
		m, err := h.h.db.GetMedia(t.Context(), testServer, jpg[len(testServer)+1:])
		if err != nil || m == nil {
			t.Fatal(m, err)
		}
		p, _ := h.h.files.Path(m.SHA256)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		for _, s := range thumbnail.DefaultSizes {
			path := "/_matrix/client/v1/media/thumbnail/" + jpg + "?width=" + strconv.Itoa(s.Width) + "&height=" + strconv.Itoa(s.Height) + "&method=" + s.Method
			r := h.must(h.req(http.MethodGet, path, tok, nil, nil), http.StatusOK)
			img, _, err := image.Decode(bytes.NewReader(r.raw))
			if err != nil || thumbtest.Signature(img) != thumbtest.QuadrantSignature {
				t.Fatalf("%v: %v", s, err)
			}
		}
	})
}
