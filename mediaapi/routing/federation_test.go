package routing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

const otherServer = "other.test"

// withFederationServing registers the federation media routes with a key lookup that knows
// one key of otherServer, and returns that key.
func (h *harness) withFederationServing() signing.SigningKey {
	h.t.Helper()
	key, err := signing.GenerateKey("fed", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	h.h.SetFederation(Federation{Keys: func(_ context.Context, server string, id signing.KeyID) (ed25519.PublicKey, error) {
		if server == otherServer && id == key.ID {
			return key.Public(), nil
		}
		return nil, errors.New("unknown key")
	}})
	h.h.SetupFederation(setup.FullPathRouter(h.b.PublicFederationAPIMux))
	return key
}

// fedGet sends a GET of uri signed by origin with key for destination.
func (h *harness) fedGet(uri, origin, destination string, key signing.SigningKey) resp {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, uri, nil)
	if origin != "" {
		x, err := federation.RequestToSign{Method: http.MethodGet, URI: uri, Origin: origin, Destination: destination}.Sign(key.ID, key.Private)
		if err != nil {
			h.t.Fatal(err)
		}
		r.Header.Set("Authorization", x.String())
	}
	return h.serve(r)
}

// multipartParts splits a federation media answer into its parts (headers, bytes).
func multipartParts(t *testing.T, r resp) ([]http.Header, [][]byte) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(r.raw), params["boundary"])
	var hs []http.Header
	var bodies [][]byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return hs, bodies
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		hs, bodies = append(hs, http.Header(p.Header)), append(bodies, b)
	}
}

// TestFederationServe: /_matrix/federation/v1/media/download and thumbnail answer an
// X-Matrix signed request for local media with the spec's multipart/mixed (JSON metadata
// {} then the bytes); unsigned, wrongly signed or misaddressed requests are 401
// M_UNAUTHORIZED; unknown media 404; bad thumbnail parameters 400.
func TestFederationServe(t *testing.T) {
	forEach(t, func(t *testing.T, newHarness func(t *testing.T, mutate ...func(*Config)) *harness) {
		h := newHarness(t)
		key := h.withFederationServing()
		_, tok := h.user("alice", uapi.AccountTypeUser)
		img := thumbtest.PNG(thumbtest.Quadrants(640, 480))
		id := strings.TrimPrefix(h.upload(tok, "image/png", "pic.png", img), testServer+"/")
		dl := "/_matrix/federation/v1/media/download/" + id

		r := h.must(h.fedGet(dl, otherServer, testServer, key), http.StatusOK)
		hs, bodies := multipartParts(t, r)
		if len(hs) != 2 || hs[0].Get("Content-Type") != "application/json" || string(bodies[0]) != "{}" {
			t.Fatalf("parts %v %q", hs, bodies)
		}
		if hs[1].Get("Content-Type") != "image/png" || !bytes.Equal(bodies[1], img) ||
			!strings.Contains(hs[1].Get("Content-Disposition"), "pic.png") {
			t.Fatalf("media part %v (%d bytes)", hs[1], len(bodies[1]))
		}

		th := "/_matrix/federation/v1/media/thumbnail/" + id + "?width=32&height=32&method=crop"
		r = h.must(h.fedGet(th, otherServer, testServer, key), http.StatusOK)
		hs, bodies = multipartParts(t, r)
		if len(hs) != 2 || string(bodies[0]) != "{}" || hs[1].Get("Content-Type") != "image/png" {
			t.Fatalf("thumbnail parts %v", hs)
		}
		if cfg, err := png.DecodeConfig(bytes.NewReader(bodies[1])); err != nil || cfg.Width != 32 || cfg.Height != 32 {
			t.Fatalf("thumbnail %+v %v", cfg, err)
		}

		other, _ := signing.GenerateKey("fed", nil) // same key ID, another key
		for name, r := range map[string]resp{
			"unsigned":       h.fedGet(dl, "", "", key),
			"wrong key":      h.fedGet(dl, otherServer, testServer, other),
			"other URI":      h.fedGet(dl+"?timeout_ms=1", otherServer, testServer, key),
			"misaddressed":   h.fedGet(dl, otherServer, "elsewhere.test", key),
			"unknown origin": h.fedGet(dl, "nobody.test", testServer, key),
		} {
			if name == "other URI" { // signed for another URI than the one sent
				x, _ := federation.RequestToSign{Method: http.MethodGet, URI: dl, Origin: otherServer, Destination: testServer}.Sign(key.ID, key.Private)
				req := httptest.NewRequest(http.MethodGet, dl+"?timeout_ms=1", nil)
				req.Header.Set("Authorization", x.String())
				r = h.serve(req)
			}
			if r.status != http.StatusUnauthorized || r.errcode() != "M_UNAUTHORIZED" {
				t.Errorf("%s: %d %s", name, r.status, r.raw)
			}
		}
		h.must(h.fedGet("/_matrix/federation/v1/media/download/nope", otherServer, testServer, key), http.StatusNotFound, "M_NOT_FOUND")
		h.must(h.fedGet("/_matrix/federation/v1/media/thumbnail/"+id+"?width=32", otherServer, testServer, key),
			http.StatusBadRequest, "M_MISSING_PARAM")
	})
}

// TestFederationRoutesOff: without a key lookup the federation media routes are not
// registered (404 M_UNRECOGNIZED from the base router).
func TestFederationRoutesOff(t *testing.T) {
	h := newHarness(t, "direct", testenv.SQLitePath(t, "test"))
	h.h.SetupFederation(setup.FullPathRouter(h.b.PublicFederationAPIMux))
	h.must(h.req(http.MethodGet, "/_matrix/federation/v1/media/download/abc", "", nil, nil), http.StatusNotFound, "M_UNRECOGNIZED")
}
