package routing

import (
	"net/http"
	"strings"
	"testing"
	"time"

	uapi "github.com/axon-matrix/axon/userapi/api"
)

// TestDownloadErrors: authenticated media without a token is 401 M_MISSING_TOKEN; unknown
// and remote media 404 M_NOT_FOUND; URL previews while off and the endpoints not built yet
// (federation media) 404 M_UNRECOGNIZED; bad parameters 400.
func TestDownloadErrors(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		id := h.upload(tok, "image/png", "a.png", []byte("png"))
		cases := []struct {
			name, method, path, token string
			status                    int
			errcode                   string
		}{
			{"authed without token", "GET", "/_matrix/client/v1/media/download/" + id, "", 401, "M_MISSING_TOKEN"},
			{"authed with name, without token", "GET", "/_matrix/client/v1/media/download/" + id + "/x.png", "", 401, "M_MISSING_TOKEN"},
			{"authed, bad token", "GET", "/_matrix/client/v1/media/download/" + id, "bad", 401, "M_UNKNOWN_TOKEN"},
			{"config without token", "GET", "/_matrix/client/v1/media/config", "", 401, "M_MISSING_TOKEN"},
			{"unknown media", "GET", "/_matrix/client/v1/media/download/" + testServer + "/AAAAunknown", tok, 404, "M_NOT_FOUND"},
			{"unknown media, legacy", "GET", "/_matrix/media/v3/download/" + testServer + "/AAAAunknown", "", 404, "M_NOT_FOUND"},
			{"bad media ID", "GET", "/_matrix/client/v1/media/download/" + testServer + "/a.b", tok, 404, "M_NOT_FOUND"},
			{"remote media, no federation client", "GET", "/_matrix/client/v1/media/download/other.test/abc", tok, 404, "M_NOT_FOUND"},
			{"remote media, legacy, allow_remote=false", "GET", "/_matrix/media/v3/download/other.test/abc?allow_remote=false", "", 404, "M_NOT_FOUND"},
			{"legacy, bad allow_remote", "GET", "/_matrix/media/v3/download/" + id + "?allow_remote=maybe", "", 400, "M_INVALID_PARAM"},
			{"negative timeout", "GET", "/_matrix/client/v1/media/download/" + id + "?timeout_ms=-1", tok, 400, "M_INVALID_PARAM"},
			{"preview_url off", "GET", "/_matrix/client/v1/media/preview_url?url=http://x", tok, 404, "M_UNRECOGNIZED"},
			{"legacy preview_url off", "GET", "/_matrix/media/v3/preview_url?url=http://x", tok, 404, "M_UNRECOGNIZED"},
			{"federation media not wired", "GET", "/_matrix/federation/v1/media/download/abc", "", 404, "M_UNRECOGNIZED"},
			{"download with the wrong method", "POST", "/_matrix/client/v1/media/download/" + id, tok, 405, "M_UNRECOGNIZED"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h.t = t
				r := h.must(h.req(c.method, c.path, c.token, nil, nil), c.status, c.errcode)
				if strings.Contains(c.path, "/download/") && !strings.HasPrefix(c.path, "/_matrix/federation/") && r.header.Get("X-Content-Type-Options") != "nosniff" && c.status != 405 {
					t.Errorf("error answer without the safety headers: %v", r.header)
				}
			})
		}
	})
}

// TestDownloadRanges: http.ServeContent serves byte ranges, HEAD and conditional requests
// (ETag is the content's SHA-256).
func TestDownloadRanges(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		content := []byte("0123456789abcdefghij")
		id := h.upload(tok, "video/mp4", "v.mp4", content)
		path := "/_matrix/client/v1/media/download/" + id
		full := h.must(h.req(http.MethodGet, path, tok, nil, nil), http.StatusOK)
		etag := full.header.Get("ETag")
		if len(etag) != 66 || full.header.Get("Accept-Ranges") != "bytes" || full.header.Get("Last-Modified") == "" {
			t.Fatalf("headers %v", full.header)
		}
		cases := []struct {
			name          string
			method        string
			headers       map[string]string
			status        int
			body          string
			contentRange  string
			contentLength string
		}{
			{"middle", "GET", map[string]string{"Range": "bytes=2-5"}, 206, "2345", "bytes 2-5/20", "4"},
			{"open end", "GET", map[string]string{"Range": "bytes=15-"}, 206, "fghij", "bytes 15-19/20", "5"},
			{"suffix", "GET", map[string]string{"Range": "bytes=-3"}, 206, "hij", "bytes 17-19/20", "3"},
			{"unsatisfiable", "GET", map[string]string{"Range": "bytes=50-60"}, 416, "", "bytes */20", ""},
			{"If-None-Match", "GET", map[string]string{"If-None-Match": etag}, 304, "", "", ""},
			{"If-Range matching", "GET", map[string]string{"Range": "bytes=0-0", "If-Range": etag}, 206, "0", "bytes 0-0/20", "1"},
			{"If-Range stale", "GET", map[string]string{"Range": "bytes=0-0", "If-Range": `"other"`}, 200, string(content), "", "20"},
			{"HEAD", "HEAD", nil, 200, "", "", "20"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h.t = t
				r := h.must(h.req(c.method, path, tok, nil, c.headers), c.status)
				if c.status != 416 && string(r.raw) != c.body {
					t.Errorf("body %q, want %q", r.raw, c.body)
				}
				if got := r.header.Get("Content-Range"); got != c.contentRange {
					t.Errorf("Content-Range %q, want %q", got, c.contentRange)
				}
				if c.contentLength != "" && r.header.Get("Content-Length") != c.contentLength {
					t.Errorf("Content-Length %q, want %q", r.header.Get("Content-Length"), c.contentLength)
				}
			})
		}
	})
}

// TestLegacyFrozen: with legacy_frozen_after set, media uploaded after it is 404 on the
// unauthenticated paths and served on the authenticated ones; before it, on both.
func TestLegacyFrozen(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t)
		_, tok := h.user("alice", uapi.AccountTypeUser)
		old := h.upload(tok, "text/plain", "", []byte("old"))
		h.h.cfg.LegacyFrozenAfter = time.Now()
		time.Sleep(5 * time.Millisecond)
		fresh := h.upload(tok, "text/plain", "", []byte("new"))
		h.must(h.req(http.MethodGet, "/_matrix/media/v3/download/"+old, "", nil, nil), http.StatusOK)
		h.must(h.req(http.MethodGet, "/_matrix/media/v3/download/"+fresh, "", nil, nil), http.StatusNotFound, "M_NOT_FOUND")
		h.must(h.req(http.MethodGet, "/_matrix/media/r0/download/"+fresh+"/n.txt", "", nil, nil), http.StatusNotFound, "M_NOT_FOUND")
		r := h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/download/"+fresh, tok, nil, nil), http.StatusOK)
		if string(r.raw) != "new" {
			t.Fatalf("body %q", r.raw)
		}
	})
}

// TestConfig: both config paths give m.upload.size.
func TestConfig(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		h := newH(t, func(c *Config) { c.MaxUploadSize = 12345 })
		_, tok := h.user("alice", uapi.AccountTypeUser)
		for _, p := range []string{"/_matrix/client/v1/media/config", "/_matrix/media/v3/config", "/_matrix/media/r0/config"} {
			r := h.must(h.req(http.MethodGet, p, tok, nil, nil), http.StatusOK)
			if r.body["m.upload.size"] != float64(12345) {
				t.Errorf("%s: %v", p, r.body)
			}
		}
	})
}
