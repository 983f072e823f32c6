package routing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/fedclient"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// fakeRemote is another homeserver's media repository over HTTPS: it checks the X-Matrix
// signature of testServer's requests and serves media IDs by name:
//
//	pic, big           multipart/mixed (a PNG; more bytes than the tests' limit)
//	moved              multipart/mixed whose media part is a Location on the same server
//	old                the federation endpoint is 404 M_UNRECOGNIZED, the legacy one serves it
//	missing            404 M_NOT_FOUND
//	broken             500
type fakeRemote struct {
	srv     *httptest.Server
	name    string // its server name: host:port
	pic     []byte
	fetches atomic.Int64 // requests for media (any path)
	release chan struct{}
}

func newFakeRemote(t testing.TB, ourKey signing.SigningKey, big int) *fakeRemote {
	f := &fakeRemote{pic: thumbtest.PNG(thumbtest.Quadrants(300, 200)), release: make(chan struct{})}
	close(f.release)
	lookup := func(_ context.Context, server string, id signing.KeyID) (ed25519.PublicKey, error) {
		if server == testServer && id == ourKey.ID {
			return ourKey.Public(), nil
		}
		return nil, fmt.Errorf("unknown key %s of %s", id, server)
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/location/pic" {
			w.Header().Set("Content-Type", "image/png")
			w.Write(f.pic)
			return
		}
		if origin, _, err := federation.VerifyHTTPRequest(r, f.name, 1024, lookup); err != nil || origin != testServer {
			http.Error(w, `{"errcode":"M_UNAUTHORIZED","error":"bad signature"}`, http.StatusUnauthorized)
			return
		}
		f.fetches.Add(1)
		<-f.release
		const fed, legacy = "/_matrix/federation/v1/media/download/", "/_matrix/media/v3/download/"
		id, isFed := strings.CutPrefix(r.URL.Path, fed)
		if !isFed {
			var ok bool
			if id, ok = strings.CutPrefix(r.URL.Path, legacy+f.name+"/"); !ok || id != "old" || r.URL.Query().Get("allow_remote") != "false" {
				http.Error(w, `{"errcode":"M_UNRECOGNIZED","error":"no"}`, http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Content-Disposition", `inline; filename="old.png"`)
			w.Write(f.pic)
			return
		}
		if strings.HasPrefix(id, "sized-") { // sized-<n>-<tag>: n bytes of its own (evict_test.go)
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", "attachment")
			mw := multipart.NewWriter(w)
			w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
			p, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
			p.Write([]byte("{}"))
			p, _ = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/octet-stream"}})
			p.Write(sizedContent(id))
			mw.Close()
			return
		}
		switch id {
		case "pic", "big", "moved":
			mw := multipart.NewWriter(w)
			w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
			p, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
			p.Write([]byte("{}"))
			switch id {
			case "pic":
				p, _ = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"image/png"}, "Content-Disposition": {`inline; filename="pic.png"`}})
				p.Write(f.pic)
			case "big":
				p, _ = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/octet-stream"}})
				p.Write(bytes.Repeat([]byte("x"), big))
			case "moved":
				mw.CreatePart(textproto.MIMEHeader{"Location": {f.srv.URL + "/location/pic"}})
			}
			mw.Close()
		case "old":
			http.Error(w, `{"errcode":"M_UNRECOGNIZED","error":"no"}`, http.StatusNotFound)
		case "missing":
			http.Error(w, `{"errcode":"M_NOT_FOUND","error":"no"}`, http.StatusNotFound)
		default:
			http.Error(w, `{"errcode":"M_UNKNOWN","error":"boom"}`, http.StatusInternalServerError)
		}
	}))
	t.Cleanup(f.srv.Close)
	f.name = f.srv.Listener.Addr().String()
	return f
}

// withRemote wires h's federation client (internal/fedclient, signing as testServer) with
// federation_api.allow_private_destinations = allowPrivate, and returns the fake remote.
func (h *harness) withRemote(allowPrivate bool, big int) *fakeRemote {
	h.t.Helper()
	key, err := signing.GenerateKey("ours", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	f := newFakeRemote(h.t, key, big)
	cfg := config.Defaults(h.t.TempDir())
	cfg.Global.ServerName = testServer
	cfg.FederationAPI.AllowPrivateDestinations = allowPrivate
	cfg.FederationAPI.DisableTLSValidation = true // httptest's certificate
	h.h.SetFederation(Federation{Transport: fedclient.New(cfg, key, fedclient.Options{}).Transport(), AllowPrivate: allowPrivate, InsecureTLS: true})
	return f
}

// TestRemoteMedia: media of another server is fetched over federation on its first
// request (concurrent first requests: one fetch), stored and recorded, and served from the
// store afterwards; the legacy path with allow_remote=false serves only what is cached;
// content over media_api.max_upload_size is 502 M_TOO_LARGE and leaves nothing stored;
// remote 404 is 404 M_NOT_FOUND, other failures 502; an older server is asked on the
// legacy path; a Location part is followed; thumbnails of remote media are rendered here.
func TestRemoteMedia(t *testing.T) {
	forEach(t, func(t *testing.T, newHarness func(t *testing.T, mutate ...func(*Config)) *harness) {
		h := newHarness(t, func(c *Config) { c.MaxUploadSize = 50_000 })
		f := h.withRemote(true, 50_001)
		_, tok := h.user("bob", uapi.AccountTypeUser)
		dl := "/_matrix/client/v1/media/download/" + f.name + "/"

		// Never asked before, with allow_remote=false: 404 and no fetch.
		h.must(h.req(http.MethodGet, "/_matrix/media/v3/download/"+f.name+"/pic?allow_remote=false", "", nil, nil),
			http.StatusNotFound, "M_NOT_FOUND")
		if n := f.fetches.Load(); n != 0 {
			t.Fatalf("allow_remote=false fetched %d times", n)
		}

		// Concurrent first requests: one fetch, all served.
		f.release = make(chan struct{})
		var wg sync.WaitGroup
		results := make([]resp, 6)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodGet, dl+"pic", nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				h.handler.ServeHTTP(rec, r)
				results[i] = resp{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
			}()
		}
		for f.fetches.Load() == 0 {
			runtime.Gosched()
		}
		close(f.release)
		wg.Wait()
		for i, r := range results {
			if r.status != http.StatusOK || !bytes.Equal(r.raw, f.pic) || r.header.Get("Content-Type") != "image/png" ||
				!strings.Contains(r.header.Get("Content-Disposition"), "pic.png") {
				t.Fatalf("request %d: %d %v (%d bytes)", i, r.status, r.header, len(r.raw))
			}
		}
		if n := f.fetches.Load(); n != 1 {
			t.Fatalf("%d fetches for concurrent first requests, want 1", n)
		}
		// Later requests, the legacy path included: from the store.
		h.must(h.req(http.MethodGet, dl+"pic", tok, nil, nil), http.StatusOK)
		r := h.must(h.req(http.MethodGet, "/_matrix/media/v3/download/"+f.name+"/pic?allow_remote=false", "", nil, nil), http.StatusOK)
		if !bytes.Equal(r.raw, f.pic) || f.fetches.Load() != 1 {
			t.Fatalf("cached copy: %d bytes, %d fetches", len(r.raw), f.fetches.Load())
		}
		// A thumbnail of the cached remote image, rendered here.
		r = h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/thumbnail/"+f.name+"/pic?width=32&height=32&method=crop", tok, nil, nil), http.StatusOK)
		if c, err := png.DecodeConfig(bytes.NewReader(r.raw)); err != nil || c.Width != 32 || f.fetches.Load() != 1 {
			t.Fatalf("thumbnail %+v %v, %d fetches", c, err, f.fetches.Load())
		}

		// Too large: 502 M_TOO_LARGE, nothing kept, asked again next time.
		before, _ := h.storedFiles()
		h.must(h.req(http.MethodGet, dl+"big", tok, nil, nil), http.StatusBadGateway, "M_TOO_LARGE")
		if stored, tmp := h.storedFiles(); stored != before || tmp != 0 {
			t.Fatalf("after an oversized fetch: %d stored (was %d), %d in tmp", stored, before, tmp)
		}
		n := f.fetches.Load()
		h.must(h.req(http.MethodGet, dl+"big", tok, nil, nil), http.StatusBadGateway, "M_TOO_LARGE")
		if f.fetches.Load() != n+1 {
			t.Fatalf("a refused fetch was remembered")
		}

		h.must(h.req(http.MethodGet, dl+"missing", tok, nil, nil), http.StatusNotFound, "M_NOT_FOUND")
		h.must(h.req(http.MethodGet, dl+"broken", tok, nil, nil), http.StatusBadGateway, "M_UNKNOWN")
		r = h.must(h.req(http.MethodGet, dl+"old", tok, nil, nil), http.StatusOK)
		if !bytes.Equal(r.raw, f.pic) || !strings.Contains(r.header.Get("Content-Disposition"), "old.png") {
			t.Fatalf("legacy fallback: %v (%d bytes)", r.header, len(r.raw))
		}
		r = h.must(h.req(http.MethodGet, dl+"moved", tok, nil, nil), http.StatusOK)
		if !bytes.Equal(r.raw, f.pic) {
			t.Fatalf("Location: %d bytes", len(r.raw))
		}
		// Not a server name: 404 without a request.
		h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/download/bad_name!/pic", tok, nil, nil), http.StatusNotFound, "M_NOT_FOUND")
	})
}

// TestRemoteMediaGuard: with federation_api.allow_private_destinations off (the default),
// a remote server on a loopback address is never contacted: 502.
func TestRemoteMediaGuard(t *testing.T) {
	forEach(t, func(t *testing.T, newHarness func(t *testing.T, mutate ...func(*Config)) *harness) {
		h := newHarness(t)
		f := h.withRemote(false, 0)
		_, tok := h.user("bob", uapi.AccountTypeUser)
		h.must(h.req(http.MethodGet, "/_matrix/client/v1/media/download/"+f.name+"/pic", tok, nil, nil), http.StatusBadGateway, "M_UNKNOWN")
		if n := f.fetches.Load(); n != 0 {
			t.Fatalf("the guard let %d requests through", n)
		}
	})
}
