package routing

import (
	"bytes"
	"image"
	"image/gif"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/axon-matrix/axon/mediaapi/thumbnail"
	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// TestThumbnails: every format at both methods through the authenticated and the legacy
// paths, checked by type, size and pixels; each size rendered once and then served from
// the store (same file, one row, no new file), the same bytes for the same size.
func TestThumbnails(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		src := thumbtest.Quadrants(400, 300)
		uploads := []struct {
			name, contentType, thumbType string
			data                         []byte
		}{
			{"jpeg", "image/jpeg", "image/jpeg", thumbtest.JPEG(src)},
			{"png", "image/png", "image/png", thumbtest.PNG(src)},
			{"gif", "image/gif", "image/png", thumbtest.AnimatedGIF(src)},
			{"webp", "image/webp", "image/jpeg", thumbtest.WebP(src)},
		}
		asks := []struct {
			query string
			w, h  int
		}{
			{"width=20&height=20&method=crop", 32, 32}, // 32×32 crop
			{"width=64&height=64&method=crop", 96, 96}, // 96×96 crop
			{"width=96&height=96", 320, 240},           // scale by default: 320×240
			{"width=320&height=240&method=scale", 320, 240},
			{"width=2000&height=2000&method=scale", 400, 300}, // 800×600, never enlarged
			{"width=50&height=50&method=crop&animated=true", 96, 96},
		}
		for _, u := range uploads {
			id := h.upload(tok, u.contentType, "", u.data)
			for _, a := range asks {
				for _, legacy := range []bool{false, true} {
					path, token := "/_matrix/client/v1/media/thumbnail/"+id+"?"+a.query, tok
					if legacy {
						path, token = "/_matrix/media/v3/thumbnail/"+id+"?"+a.query, ""
					}
					r := h.must(h.req(http.MethodGet, path, token, nil, nil), http.StatusOK)
					wantType := u.thumbType
					animated := u.name == "gif" && strings.Contains(a.query, "animated=true")
					if animated {
						wantType = "image/gif" // both frames, scaled (TestAnimatedThumbnail)
					}
					if ct := r.header.Get("Content-Type"); ct != wantType {
						t.Fatalf("%s %s: Content-Type %q, want %q", u.name, path, ct, wantType)
					}
					if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("ETag") == "" {
						t.Errorf("%s %s: headers %v", u.name, path, r.header)
					}
					img, _, err := image.Decode(bytes.NewReader(r.raw))
					if err != nil {
						t.Fatalf("%s %s: %v", u.name, path, err)
					}
					if b := img.Bounds(); b.Dx() != a.w || b.Dy() != a.h {
						t.Fatalf("%s %s: %d×%d, want %d×%d", u.name, path, b.Dx(), b.Dy(), a.w, a.h)
					}
					if sig := thumbtest.Signature(img); sig != thumbtest.QuadrantSignature {
						t.Errorf("%s %s: pixels %s", u.name, path, sig)
					}
				}
			}
		}
		// 4 originals; each of the 5 configured sizes stored once per original (all
		// rendered from one decode on the first request), and the GIF's animated 96 crop:
		// 25 files at most (equal thumbnails would share one). animated=true on a still
		// format is the still thumbnail's row.
		stored, tmp := h.storedFiles()
		if stored > 25 || stored < 8 || tmp != 0 {
			t.Fatalf("%d files stored, %d in tmp", stored, tmp)
		}
		var rows int
		if err := h.h.db.DB.QueryRow(`SELECT COUNT(*) FROM mediaapi_thumbnails`).Scan(&rows); err != nil || rows != 21 {
			t.Fatalf("%d thumbnail rows (%v), want 21", rows, err)
		}
	})
}

// TestAnimatedThumbnail: animated=true on an animated GIF is an animated GIF of every
// frame, scaled (frame count, size, pixels of each frame), stored apart from the still
// thumbnail of the same size (animated=false and no animated: the first frame, PNG), and
// served from the store the second time.
func TestAnimatedThumbnail(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		id := h.upload(tok, "image/gif", "a.gif", thumbtest.AnimatedGIF(thumbtest.Quadrants(400, 300)))
		path := "/_matrix/client/v1/media/thumbnail/" + id + "?width=300&height=200&method=scale"
		for _, q := range []string{"", "&animated=false"} {
			r := h.must(h.req(http.MethodGet, path+q, tok, nil, nil), http.StatusOK)
			if r.header.Get("Content-Type") != "image/png" {
				t.Fatalf("%q: %s", q, r.header.Get("Content-Type"))
			}
		}
		first := h.must(h.req(http.MethodGet, path+"&animated=true", tok, nil, nil), http.StatusOK)
		if first.header.Get("Content-Type") != "image/gif" || first.header.Get("Content-Disposition") != "inline; filename=thumbnail.gif" {
			t.Fatalf("headers %v", first.header)
		}
		g, err := gif.DecodeAll(bytes.NewReader(first.raw))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{thumbtest.QuadrantSignature, "KKKK/KKKK/KKKK/KKKK"}
		if len(g.Image) != 2 || g.Config.Width != 320 || g.Config.Height != 240 {
			t.Fatalf("%d frames of %d×%d, want 2 of 320×240", len(g.Image), g.Config.Width, g.Config.Height)
		}
		for i, fr := range g.Image {
			if sig := thumbtest.Signature(fr); sig != want[i] || fr.Bounds().Dx() != 320 {
				t.Errorf("frame %d: %v %s, want %s", i, fr.Bounds(), sig, want[i])
			}
		}
		second := h.must(h.req(http.MethodGet, path+"&animated=true", tok, nil, nil), http.StatusOK)
		if !bytes.Equal(first.raw, second.raw) {
			t.Fatal("stored animated thumbnail differs")
		}
		var rows int
		if err := h.h.db.DB.QueryRow(`SELECT COUNT(*) FROM mediaapi_thumbnails`).Scan(&rows); err != nil || rows != 6 {
			t.Fatalf("%d thumbnail rows (%v), want 6 (5 still sizes, 1 animated)", rows, err)
		}
	})
}

// TestThumbnailStored: the second request is served from the stored file: removing the
// original's file does not stop it.
func TestThumbnailStored(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		data := thumbtest.PNG(thumbtest.Quadrants(100, 100))
		id := h.upload(tok, "image/png", "q.png", data)
		path := "/_matrix/client/v1/media/thumbnail/" + id + "?width=32&height=32&method=crop"
		first := h.must(h.req(http.MethodGet, path, tok, nil, nil), http.StatusOK)
		m, err := h.h.db.GetMedia(t.Context(), testServer, id[len(testServer)+1:])
		if err != nil || m == nil {
			t.Fatal(m, err)
		}
		p, _ := h.h.files.Path(m.SHA256)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		second := h.must(h.req(http.MethodGet, path, tok, nil, nil), http.StatusOK)
		if !bytes.Equal(first.raw, second.raw) || first.header.Get("ETag") != second.header.Get("ETag") {
			t.Fatal("second answer differs from the stored thumbnail")
		}
		h.must(h.req(http.MethodGet, path, tok, nil, map[string]string{"If-None-Match": first.header.Get("ETag")}), http.StatusNotModified)
		// Every other configured size was rendered from the same decode and stored.
		var rows int
		if err := h.h.db.DB.QueryRow(`SELECT COUNT(*) FROM mediaapi_thumbnails`).Scan(&rows); err != nil || rows != len(thumbnail.DefaultSizes) {
			t.Fatalf("%d thumbnail rows (%v), want %d", rows, err, len(thumbnail.DefaultSizes))
		}
		h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/thumbnail/"+id+"?width=300&height=200", tok, nil, nil), http.StatusOK)
		// A thumbnail not stored needs the original: gone, that is a server error, not a panic.
		if _, err := h.h.db.DB.Exec(`DELETE FROM mediaapi_thumbnails`); err != nil {
			t.Fatal(err)
		}
		h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/thumbnail/"+id+"?width=300&height=200", tok, nil, nil), http.StatusInternalServerError)
	})
}

// TestThumbnailErrors: parameters, unknown media, content that is no image (400 M_UNKNOWN,
// as Synapse answers when it has no thumbnail), bombs and truncated images refused before
// or while decoding, never a panic; the legacy freeze.
func TestThumbnailErrors(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t, func(c *Config) { c.MaxThumbnailPixels = 1_000_000 })
		_, tok := h.user("alice", uapi.AccountTypeUser)
		img := thumbtest.Quadrants(400, 300)
		jpg, png := thumbtest.JPEG(img), thumbtest.PNG(img)
		good := h.upload(tok, "image/png", "", png)
		text := h.upload(tok, "text/plain", "", []byte("hello"))
		bomb := h.upload(tok, "image/png", "", thumbtest.PNGBomb(100000, 100000))
		over := h.upload(tok, "image/png", "", thumbtest.PNG(thumbtest.Quadrants(1001, 1000)))
		truncJPEG := h.upload(tok, "image/jpeg", "", jpg[:len(jpg)/2])
		truncPNG := h.upload(tok, "image/png", "", png[:len(png)-30])
		svg := h.upload(tok, "image/svg+xml", "", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
		const v1 = "/_matrix/client/v1/media/thumbnail/"
		cases := []struct {
			name, path, token string
			status            int
			errcode           string
		}{
			{"no token", v1 + good + "?width=32&height=32", "", 401, "M_MISSING_TOKEN"},
			{"no width", v1 + good + "?height=32", tok, 400, "M_MISSING_PARAM"},
			{"no height", v1 + good + "?width=32", tok, 400, "M_MISSING_PARAM"},
			{"bad width", v1 + good + "?width=abc&height=32", tok, 400, "M_INVALID_PARAM"},
			{"zero height", v1 + good + "?width=32&height=0", tok, 400, "M_INVALID_PARAM"},
			{"bad method", v1 + good + "?width=32&height=32&method=stretch", tok, 400, "M_INVALID_PARAM"},
			{"bad animated", v1 + good + "?width=32&height=32&animated=yes", tok, 400, "M_INVALID_PARAM"},
			{"unknown media", v1 + testServer + "/AAAAunknown?width=32&height=32", tok, 404, "M_NOT_FOUND"},
			{"unknown media, legacy", "/_matrix/media/v3/thumbnail/" + testServer + "/AAAAunknown?width=32&height=32", "", 404, "M_NOT_FOUND"},
			{"remote media", v1 + "other.test/abc?width=32&height=32", tok, 404, "M_NOT_FOUND"},
			{"not an image", v1 + text + "?width=32&height=32", tok, 400, "M_UNKNOWN"},
			{"svg", v1 + svg + "?width=32&height=32", tok, 400, "M_UNKNOWN"},
			{"png bomb", v1 + bomb + "?width=32&height=32", tok, 400, "M_UNKNOWN"},
			{"over max_thumbnail_pixels", v1 + over + "?width=32&height=32", tok, 400, "M_UNKNOWN"},
			{"truncated jpeg", v1 + truncJPEG + "?width=32&height=32", tok, 400, "M_UNKNOWN"},
			{"truncated png", v1 + truncPNG + "?width=32&height=32", tok, 400, "M_UNKNOWN"},
			{"post", v1 + good + "?width=32&height=32", tok, 405, "M_UNRECOGNIZED"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h.t = t
				method := http.MethodGet
				if c.name == "post" {
					method = http.MethodPost
				}
				r := h.must(h.req(method, c.path, c.token, nil, nil), c.status, c.errcode)
				if c.status != 405 && r.header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("error answer without the safety headers: %v", r.header)
				}
			})
		}
		h.t = t
		var rows int
		if err := h.h.db.DB.QueryRow(`SELECT COUNT(*) FROM mediaapi_thumbnails`).Scan(&rows); err != nil || rows != 0 {
			t.Fatalf("%d thumbnails stored for refused content (%v)", rows, err)
		}

		// The legacy freeze applies to thumbnails too.
		h.h.cfg.LegacyFrozenAfter = time.Now()
		time.Sleep(5 * time.Millisecond)
		fresh := h.upload(tok, "image/png", "", png)
		h.must(h.req(http.MethodGet, "/_matrix/media/v3/thumbnail/"+good+"?width=32&height=32", "", nil, nil), http.StatusOK)
		h.must(h.req(http.MethodGet, "/_matrix/media/v3/thumbnail/"+fresh+"?width=32&height=32", "", nil, nil), http.StatusNotFound, "M_NOT_FOUND")
		h.must(h.req(http.MethodGet, v1+fresh+"?width=32&height=32", tok, nil, nil), http.StatusOK)
	})
}
