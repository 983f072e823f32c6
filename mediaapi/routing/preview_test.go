package routing

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// site is a web server on loopback for previews, counting the requests of each path.
type site struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newSite(t *testing.T, png []byte) *site {
	s := &site{hits: map[string]int{}}
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(body))
		}
	}
	mux.Handle("/page", page(`<!doctype html><html><head><title>Fallback</title>
		<meta property="og:title" content="  The   Title ">
		<meta property="og:description" content="About it">
		<meta property="og:image" content="/img.png">
		<meta property="og:site_name" content="Site">
		</head><body><h1>Heading</h1></body></html>`))
	mux.Handle("/plain", page(`<html><head><title>Plain page</title><meta name="description" content="Described"></head>
		<body><img src="data:image/png;base64,AAAA"></body></html>`))
	mux.Handle("/missing-image", page(`<html><head><meta property="og:title" content="T"><meta property="og:image" content="/nothing.png"></head></html>`))
	mux.HandleFunc("/img.png", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	})
	mux.HandleFunc("/doc.pdf", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write([]byte("%PDF-1.4"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
	})
	mux.Handle("/redirect", http.RedirectHandler("/page", http.StatusFound))
	mux.Handle("/redirect-ftp", http.RedirectHandler("ftp://example.org/x", http.StatusFound))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *site) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func previewPath(u string) string {
	return "/_matrix/client/v1/media/preview_url?url=" + url.QueryEscape(u)
}

// TestPreview: with the guard off for the loopback test site, a page gives its OpenGraph
// data and its image stored as media; fallbacks for a page without OpenGraph; an image
// URL; redirects followed; results cached, then fetched again once stale; fetches that
// fail are 502, bad parameters 400.
func TestPreview(t *testing.T) {
	png := thumbtest.PNG(thumbtest.Quadrants(40, 30))
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		s := newSite(t, png)
		h := newH(t, func(c *Config) {
			c.URLPreview = PreviewConfig{Enabled: true, AllowPrivate: true, MaxBytes: 4096, Timeout: time.Second, CacheFor: time.Hour}
		})
		_, tok := h.user("alice", uapi.AccountTypeUser)

		r := h.must(h.req(http.MethodGet, previewPath(s.URL+"/page")+"&ts=123", tok, nil, nil), http.StatusOK)
		if r.body["og:title"] != "The Title" || r.body["og:description"] != "About it" || r.body["og:site_name"] != "Site" ||
			r.body["og:image:type"] != "image/png" || r.body["matrix:image:size"] != float64(len(png)) ||
			r.body["og:image:width"] != float64(40) || r.body["og:image:height"] != float64(30) {
			t.Fatalf("page preview %v", r.body)
		}
		mxc, _ := r.body["og:image"].(string)
		id, ok := strings.CutPrefix(mxc, "mxc://")
		if !ok {
			t.Fatalf("og:image %q", mxc)
		}
		img := h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/download/"+id, tok, nil, nil), http.StatusOK)
		if string(img.raw) != string(png) {
			t.Fatal("stored og:image differs from the page's image")
		}
		h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/thumbnail/"+id+"?width=32&height=32&method=crop", tok, nil, nil), http.StatusOK)

		// Cached: the same answer, no new fetch, for every user, on the legacy path too.
		_, tok2 := h.user("bob", uapi.AccountTypeUser)
		again := h.must(h.req(http.MethodGet, "/_matrix/media/v3/preview_url?url="+url.QueryEscape(s.URL+"/page#frag"), tok2, nil, nil), http.StatusOK)
		if string(again.raw) != string(r.raw) || s.count("/page") != 1 || s.count("/img.png") != 1 {
			t.Fatalf("cache: %s (page fetched %d times)", again.raw, s.count("/page"))
		}
		// Stale: fetched again.
		h.h.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		h.must(h.req(http.MethodGet, previewPath(s.URL+"/page"), tok, nil, nil), http.StatusOK)
		if s.count("/page") != 2 {
			t.Fatalf("stale preview not fetched again (%d)", s.count("/page"))
		}
		h.h.now = time.Now

		r = h.must(h.req(http.MethodGet, previewPath(s.URL+"/plain"), tok, nil, nil), http.StatusOK)
		if len(r.body) != 2 || r.body["og:title"] != "Plain page" || r.body["og:description"] != "Described" {
			t.Fatalf("fallbacks %v", r.body) // the data: image is not http(s): dropped
		}
		r = h.must(h.req(http.MethodGet, previewPath(s.URL+"/missing-image"), tok, nil, nil), http.StatusOK)
		if len(r.body) != 1 || r.body["og:title"] != "T" {
			t.Fatalf("page whose image is missing %v", r.body)
		}
		r = h.must(h.req(http.MethodGet, previewPath(s.URL+"/img.png"), tok, nil, nil), http.StatusOK)
		if !strings.HasPrefix(r.body["og:image"].(string), "mxc://"+testServer+"/") || r.body["matrix:image:size"] != float64(len(png)) {
			t.Fatalf("image preview %v", r.body)
		}
		r = h.must(h.req(http.MethodGet, previewPath(s.URL+"/redirect"), tok, nil, nil), http.StatusOK)
		if r.body["og:title"] != "The Title" {
			t.Fatalf("redirect %v", r.body)
		}
		r = h.must(h.req(http.MethodGet, previewPath(s.URL+"/doc.pdf"), tok, nil, nil), http.StatusOK)
		if len(r.body) != 0 {
			t.Fatalf("pdf %v", r.body)
		}

		cases := []struct {
			name, path, token string
			status            int
			errcode           string
		}{
			{"no token", previewPath(s.URL + "/page"), "", 401, "M_MISSING_TOKEN"},
			{"no url", "/_matrix/client/v1/media/preview_url", tok, 400, "M_MISSING_PARAM"},
			{"ftp", previewPath("ftp://example.org/x"), tok, 400, "M_INVALID_PARAM"},
			{"relative", previewPath("/page"), tok, 400, "M_INVALID_PARAM"},
			{"bad ts", previewPath(s.URL+"/page") + "&ts=yesterday", tok, 400, "M_INVALID_PARAM"},
			{"not found", previewPath(s.URL + "/nothing"), tok, 502, "M_UNKNOWN"},
			{"too large", previewPath(s.URL + "/big"), tok, 502, "M_UNKNOWN"},
			{"redirect to ftp", previewPath(s.URL + "/redirect-ftp"), tok, 502, "M_UNKNOWN"},
			{"slow", previewPath(s.URL + "/slow"), tok, 502, "M_UNKNOWN"},
			{"nobody listening", previewPath("http://127.0.0.1:1/"), tok, 502, "M_UNKNOWN"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h.t = t
				h.must(h.req(http.MethodGet, c.path, c.token, nil, nil), c.status, c.errcode)
			})
		}
	})
}

// TestPreviewGuard: with private destinations refused (the default), the loopback site is
// not fetched at all: 502, and the site sees no request.
func TestPreviewGuard(t *testing.T) {
	forEach(t, func(t *testing.T, newH func(*testing.T, ...func(*Config)) *harness) {
		s := newSite(t, nil)
		h := newH(t, func(c *Config) {
			c.URLPreview = PreviewConfig{Enabled: true, MaxBytes: 4096, Timeout: time.Second, CacheFor: time.Hour}
		})
		_, tok := h.user("alice", uapi.AccountTypeUser)
		localhost := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
		for _, u := range []string{s.URL + "/page", localhost + "/page", "http://[::1]:1/", "http://169.254.169.254/latest/meta-data/"} {
			r := h.must(h.req(http.MethodGet, previewPath(u), tok, nil, nil), http.StatusBadGateway, "M_UNKNOWN")
			if !strings.Contains(r.body["error"].(string), "not public") {
				t.Errorf("%s: %v", u, r.body)
			}
		}
		if n := s.count("/page"); n != 0 {
			t.Fatalf("guarded fetch reached the site %d times", n)
		}
	})
}
