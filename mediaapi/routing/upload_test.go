package routing

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/config"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// TestUploadDownload uploads content of several types and downloads it on the
// authenticated and the legacy paths: the same bytes, the same Content-Type, a
// Content-Disposition that shows only safe types inline and never pastes the name in raw,
// and the safe-serving headers.
func TestUploadDownload(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		cases := []struct {
			name, contentType, fileName, override string
			content                               []byte
			wantType, wantDisp                    string
		}{
			{"png inline", "image/png", "cat.png", "", []byte("\x89PNG\r\n\x1a\nnot really"), "image/png", `inline; filename=cat.png`},
			{"text with charset", "text/plain; charset=utf-8", "a b.txt", "", []byte("hello"), "text/plain; charset=utf-8", `inline; filename="a b.txt"`},
			{"html as attachment", "text/html", "x.html", "", []byte("<script>alert(1)</script>"), "text/html", `attachment; filename=x.html`},
			{"svg as attachment", "image/svg+xml", "i.svg", "", []byte("<svg/>"), "image/svg+xml", `attachment; filename=i.svg`},
			{"no type, no name", "", "", "", []byte{0, 1, 2, 3}, "application/octet-stream", `attachment`},
			{"name with quotes", "application/pdf", `a"b.pdf`, "", []byte("%PDF"), "application/pdf", `attachment; filename="a\"b.pdf"`},
			{"non-ASCII name", "image/jpeg", "café.jpg", "", []byte{0xff, 0xd8}, "image/jpeg", `inline; filename*=utf-8''caf%C3%A9.jpg`},
			{"name overridden in the path", "image/gif", "orig.gif", "other.gif", []byte("GIF89a"), "image/gif", `inline; filename=other.gif`},
			{"empty content", "text/plain", "empty.txt", "", []byte{}, "text/plain", `inline; filename=empty.txt`},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h.t = t
				id := h.upload(tok, c.contentType, c.fileName, c.content)
				suffix := ""
				if c.override != "" {
					suffix = "/" + c.override
				}
				for _, p := range []struct{ path, token string }{
					{"/_matrix/client/v1/media/download/" + id + suffix, tok},
					{"/_matrix/media/v3/download/" + id + suffix, ""},
					{"/_matrix/media/r0/download/" + id + suffix, ""},
				} {
					r := h.must(h.req(http.MethodGet, p.path, p.token, nil, nil), http.StatusOK)
					if !bytes.Equal(r.raw, c.content) {
						t.Errorf("%s: got %q, want %q", p.path, r.raw, c.content)
					}
					want := map[string]string{
						"Content-Type":                 c.wantType,
						"Content-Disposition":          c.wantDisp,
						"X-Content-Type-Options":       "nosniff",
						"Cross-Origin-Resource-Policy": "cross-origin",
						"Content-Security-Policy":      contentSecurityPolicy,
						"Content-Length":               fmt.Sprint(len(c.content)),
					}
					for k, v := range want {
						if got := r.header.Get(k); got != v {
							t.Errorf("%s: %s = %q, want %q", p.path, k, got, v)
						}
					}
					if !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
						t.Errorf("CSP without sandbox")
					}
				}
			})
		}
	})
}

// TestUploadDeduplicated: the same bytes uploaded twice are two media IDs and one file;
// other bytes are another file; nothing is left in tmp/.
func TestUploadDeduplicated(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		_, tok2 := h.user("bob", uapi.AccountTypeUser)
		content := bytes.Repeat([]byte("same bytes "), 1000)
		a := h.upload(tok, "application/octet-stream", "a.bin", content)
		b := h.upload(tok2, "text/plain", "b.txt", content)
		if a == b {
			t.Fatalf("two uploads got one media ID %s", a)
		}
		if stored, tmp := h.storedFiles(); stored != 1 || tmp != 0 {
			t.Fatalf("after two identical uploads: %d stored files, %d in tmp; want 1, 0", stored, tmp)
		}
		// Each keeps its own metadata.
		rb := h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/download/"+b, tok, nil, nil), http.StatusOK)
		if rb.header.Get("Content-Type") != "text/plain" || !bytes.Equal(rb.raw, content) {
			t.Fatalf("second upload served as %q", rb.header.Get("Content-Type"))
		}
		h.upload(tok, "application/octet-stream", "", []byte("other bytes"))
		if stored, _ := h.storedFiles(); stored != 2 {
			t.Fatalf("%d stored files, want 2", stored)
		}
	})
}

// guardReader is an upload body that fails the test when more than limit bytes of it are
// read: the server must stop reading just past the configured maximum.
type guardReader struct {
	t     *testing.T
	limit int64
	read  int64
	total int64
}

func (g *guardReader) Read(p []byte) (int, error) {
	if g.read >= g.total {
		return 0, io.EOF
	}
	n := int64(len(p))
	n = min(n, g.total-g.read)
	g.read += n
	if g.read > g.limit {
		g.t.Errorf("upload body read to byte %d, past the limit %d", g.read, g.limit)
	}
	for i := range p[:n] {
		p[i] = 'x'
	}
	return int(n), nil
}

// TestUploadTooLarge: an upload over max_upload_size is 413 M_TOO_LARGE without its body
// being read past the limit (not at all when Content-Length says so), on both upload
// endpoints, and leaves no file behind. An upload of exactly the limit is accepted.
func TestUploadTooLarge(t *testing.T) {
	const max = 100_000
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t, func(c *Config) { c.MaxUploadSize = max })
		_, tok := h.user("alice", uapi.AccountTypeUser)
		create := h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusOK)
		created := strings.TrimPrefix(create.body["content_uri"].(string), "mxc://")
		cases := []struct {
			name          string
			method, path  string
			contentLength int64 // -1: unknown (chunked)
			size          int64
			allowed       int64 // bytes the server may read
			want          int
		}{
			{"POST, Content-Length over", http.MethodPost, "/_matrix/media/v3/upload", 10 * max, 10 * max, 0, 413},
			{"POST, chunked over", http.MethodPost, "/_matrix/media/v3/upload", -1, 10 * max, max + 1, 413},
			{"PUT, Content-Length over", http.MethodPut, "/_matrix/media/v3/upload/" + created, 10 * max, 10 * max, 0, 413},
			{"PUT, chunked over", http.MethodPut, "/_matrix/media/v3/upload/" + created, -1, 10 * max, max + 1, 413},
			{"POST, exactly the limit", http.MethodPost, "/_matrix/media/v3/upload", -1, max, max, 200},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h.t = t
				body := &guardReader{t: t, limit: c.allowed, total: c.size}
				r := newUploadRequest(c.method, c.path, tok, body, c.contentLength)
				got := h.serve(r)
				if got.status != c.want {
					t.Fatalf("got %d %s, want %d", got.status, got.raw, c.want)
				}
				if c.want == 413 && got.errcode() != "M_TOO_LARGE" {
					t.Fatalf("errcode %q", got.errcode())
				}
				if _, tmp := h.storedFiles(); tmp != 0 {
					t.Fatalf("%d files left in tmp/", tmp)
				}
			})
		}
		if stored, _ := h.storedFiles(); stored != 1 {
			t.Fatalf("%d stored files, want only the one at the limit", stored)
		}
		// The created ID is still pending: the refused PUTs did not fill it.
		h.must(h.req(http.MethodPut, "/_matrix/media/v3/upload/"+created, tok, strings.NewReader("ok"), nil), http.StatusOK)
	})
}

// TestUploadBadInput: bad file names and content types are 400 M_INVALID_PARAM; guests
// may not upload; uploads without a token are 401.
func TestUploadBadInput(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		_, guest := h.user("", uapi.AccountTypeGuest)
		cases := []struct {
			name, path, token, contentType string
			status                         int
			errcode                        string
		}{
			{"control character in name", "/_matrix/media/v3/upload?filename=a%0Ab", tok, "text/plain", 400, "M_INVALID_PARAM"},
			{"slash in name", "/_matrix/media/v3/upload?filename=..%2Fx", tok, "text/plain", 400, "M_INVALID_PARAM"},
			{"long name", "/_matrix/media/v3/upload?filename=" + strings.Repeat("a", 256), tok, "text/plain", 400, "M_INVALID_PARAM"},
			{"bad content type", "/_matrix/media/v3/upload", tok, "not a type", 400, "M_INVALID_PARAM"},
			{"guest upload", "/_matrix/media/v3/upload", guest, "text/plain", 403, "M_GUEST_ACCESS_FORBIDDEN"},
			{"guest create", "/_matrix/media/v1/create", guest, "", 403, "M_GUEST_ACCESS_FORBIDDEN"},
			{"no token", "/_matrix/media/v3/upload", "", "text/plain", 401, "M_MISSING_TOKEN"},
			{"bad token", "/_matrix/media/v3/upload", "nope", "text/plain", 401, "M_UNKNOWN_TOKEN"},
			{"no token, create", "/_matrix/media/v1/create", "", "", 401, "M_MISSING_TOKEN"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h.t = t
				h.must(h.req(http.MethodPost, c.path, c.token, strings.NewReader("x"), map[string]string{"Content-Type": c.contentType}),
					c.status, c.errcode)
			})
		}
		if stored, tmp := h.storedFiles(); stored != 0 || tmp != 0 {
			t.Fatalf("refused uploads stored %d files (%d in tmp)", stored, tmp)
		}
	})
}

// TestAsyncUpload: POST /create, then PUT by its creator only, once; a download waits for
// the upload (timeout_ms) and answers 504 M_NOT_YET_UPLOADED when it does not come; a user
// holds at most max_pending_uploads pending IDs.
func TestAsyncUpload(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		_, other := h.user("bob", uapi.AccountTypeUser)
		before := time.Now().UnixMilli()
		c := h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusOK)
		id := strings.TrimPrefix(c.body["content_uri"].(string), "mxc://")
		if !strings.HasPrefix(id, testServer+"/") {
			t.Fatalf("content_uri %v", c.body)
		}
		if exp, _ := c.body["unused_expires_at"].(float64); int64(exp) < before+time.Hour.Milliseconds() {
			t.Fatalf("unused_expires_at %v", c.body["unused_expires_at"])
		}
		dl := "/_matrix/client/v1/media/download/" + id
		h.must(h.req(http.MethodGet, dl+"?timeout_ms=50", tok, nil, nil), http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
		h.must(h.req(http.MethodGet, dl+"?timeout_ms=x", tok, nil, nil), http.StatusBadRequest, "M_INVALID_PARAM")
		h.must(h.req(http.MethodPut, "/_matrix/media/v3/upload/"+id, other, strings.NewReader("b"), nil), http.StatusForbidden, "M_FORBIDDEN")
		h.must(h.req(http.MethodPut, "/_matrix/media/v3/upload/"+testServer+"/unknown", tok, strings.NewReader("b"), nil), http.StatusNotFound, "M_NOT_FOUND")
		h.must(h.req(http.MethodPut, "/_matrix/media/v3/upload/elsewhere.test/"+strings.Split(id, "/")[1], tok, strings.NewReader("b"), nil),
			http.StatusNotFound, "M_NOT_FOUND")

		// A download waiting for the upload gets it once the PUT lands.
		var wg sync.WaitGroup
		var waited resp
		wg.Add(1)
		go func() {
			defer wg.Done()
			waited = h.req(http.MethodGet, dl+"?timeout_ms=10000", tok, nil, nil)
		}()
		time.Sleep(150 * time.Millisecond)
		h.must(h.req(http.MethodPut, "/_matrix/media/v3/upload/"+id+"?filename=late.txt", tok, strings.NewReader("late content"),
			map[string]string{"Content-Type": "text/plain"}), http.StatusOK)
		wg.Wait()
		if waited.status != 200 || string(waited.raw) != "late content" || waited.header.Get("Content-Disposition") != "inline; filename=late.txt" {
			t.Fatalf("waiting download: %d %q %v", waited.status, waited.raw, waited.header)
		}
		h.must(h.req(http.MethodPut, "/_matrix/media/v3/upload/"+id, tok, strings.NewReader("again"), nil),
			http.StatusConflict, "M_CANNOT_OVERWRITE_MEDIA")

		// max_pending_uploads is 2 in the harness.
		h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusOK)
		h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusOK)
		h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
		h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", other, nil, nil), http.StatusOK)
	})
}

// TestAsyncUploadExpired: an ID whose unused_expires_at has passed cannot be uploaded to,
// is 404 to downloads and no longer counts as pending.
func TestAsyncUploadExpired(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t, func(c *Config) { c.MaxPendingUploads = 1 })
		_, tok := h.user("alice", uapi.AccountTypeUser)
		now := time.Now()
		h.h.now = func() time.Time { return now }
		c := h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusOK)
		id := strings.TrimPrefix(c.body["content_uri"].(string), "mxc://")
		now = now.Add(2 * time.Hour)
		h.must(h.req(http.MethodPut, "/_matrix/media/v3/upload/"+id, tok, strings.NewReader("x"), nil), http.StatusForbidden, "M_FORBIDDEN")
		h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/download/"+id, tok, nil, nil), http.StatusNotFound, "M_NOT_FOUND")
		h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusOK)
	})
}

// TestUploadRateLimit: media_upload limits POST /upload and POST /create per user; an
// exempt user is not limited; a PUT to a created ID does not count.
func TestUploadRateLimit(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t, func(c *Config) {
			c.RateLimits = config.Defaults("").Global.RateLimits
			c.RateLimits.MediaUpload = config.Rate{PerSecond: 0.001, BurstCount: 2}
			c.RateLimits.ExemptUserIDs = []string{"@bot:" + testServer}
		})
		_, tok := h.user("alice", uapi.AccountTypeUser)
		_, bot := h.user("bot", uapi.AccountTypeUser)
		c := h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusOK)
		id := strings.TrimPrefix(c.body["content_uri"].(string), "mxc://")
		h.must(h.req(http.MethodPut, "/_matrix/media/v3/upload/"+id, tok, strings.NewReader("x"), nil), http.StatusOK)
		h.upload(tok, "text/plain", "", []byte("1"))
		r := h.must(h.req(http.MethodPost, "/_matrix/media/v3/upload", tok, strings.NewReader("2"), nil), http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		h.must(h.req(http.MethodPost, "/_matrix/media/v1/create", tok, nil, nil), http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
		for range 4 {
			h.upload(bot, "text/plain", "", []byte("b"))
		}
	})
}

// newUploadRequest is an upload request whose body is r, with the given Content-Length
// (-1: unknown, as a chunked request arrives).
func newUploadRequest(method, path, token string, r io.Reader, contentLength int64) *http.Request {
	req, _ := http.NewRequest(method, "http://"+testServer+path, r)
	req.ContentLength = contentLength
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	return req
}
