package main

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
)

const (
	testServer = "media.example"
	testSecret = "0123456789abcdef-media-api"
)

// TestProcess runs axon-media-api as a real process beside axon-user-api (arrow U over
// userapi/inthttp) and axon-client-api (to register a user): an upload comes back
// byte-identical on the authenticated and the legacy paths, an upload over
// media_api.max_upload_size is 413 M_TOO_LARGE, authenticated media without a token is 401,
// an image gets a thumbnail and other content 400 M_UNKNOWN, preview_url is off (404
// M_UNRECOGNIZED), federation media is served (401 M_UNAUTHORIZED unsigned) and only the
// public routes are served.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-media-api")
	userBin := processtest.Build(t, "../axon-user-api", "axon-user-api")
	clientBin := processtest.Build(t, "../axon-client-api", "axon-client-api")
	pl := processtest.WritePolylith(t, t.TempDir(), testServer, testSecret, "")
	f, err := os.OpenFile(pl.ConfigPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("media_api:\n  max_upload_size: 1000\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cfg := []string{"-config", pl.ConfigPath}
	mediaPort := processtest.FreePort(t)

	users := processtest.Start(t, userBin, pl.UserAPI, cfg...)
	client := processtest.Start(t, clientBin, pl.ClientAPI, cfg...)
	media := processtest.Start(t, bin, mediaPort, append(cfg, "-public-bind", fmt.Sprintf("127.0.0.1:%d", mediaPort))...)
	base := fmt.Sprintf("http://127.0.0.1:%d", mediaPort)
	_, tok := processtest.Register(t, fmt.Sprintf("http://127.0.0.1:%d", pl.ClientAPI), "alice")

	processtest.Do(t, http.MethodGet, base+"/health", "", nil).Must(t, http.StatusOK)
	c := processtest.Do(t, http.MethodGet, base+"/_matrix/client/v1/media/config", tok, nil).Must(t, http.StatusOK)
	if c.Body["m.upload.size"] != float64(1000) {
		t.Fatalf("config %s", c.Raw)
	}

	content := []byte("\x89PNG\r\n\x1a\n a picture")
	status, hdr, raw := send(t, http.MethodPost, base+"/_matrix/media/v3/upload?filename=pic.png", tok, "image/png", content)
	if status != 200 || !strings.Contains(string(raw), "mxc://"+testServer+"/") {
		t.Fatalf("upload: %d %s", status, raw)
	}
	id := strings.TrimSuffix(strings.SplitN(string(raw), "mxc://", 2)[1], `"}`)
	for _, p := range []struct{ path, token string }{
		{"/_matrix/client/v1/media/download/" + id, tok},
		{"/_matrix/media/v3/download/" + id + "/other.png", ""},
	} {
		status, hdr, raw = send(t, http.MethodGet, base+p.path, p.token, "", nil)
		if status != 200 || !bytes.Equal(raw, content) || hdr.Get("Content-Type") != "image/png" ||
			!strings.HasPrefix(hdr.Get("Content-Disposition"), "inline; filename=") || hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %d %q %v", p.path, status, raw, hdr)
		}
	}

	// A real image and its 32×32 crop thumbnail, rendered by this process.
	pic := thumbtest.PNG(thumbtest.Quadrants(64, 48))
	status, _, raw = send(t, http.MethodPost, base+"/_matrix/media/v3/upload", tok, "image/png", pic)
	if status != 200 {
		t.Fatalf("upload: %d %s", status, raw)
	}
	picID := strings.TrimSuffix(strings.SplitN(string(raw), "mxc://", 2)[1], `"}`)
	status, hdr, raw = send(t, http.MethodGet, base+"/_matrix/client/v1/media/thumbnail/"+picID+"?width=32&height=32&method=crop", tok, "", nil)
	if status != 200 || hdr.Get("Content-Type") != "image/png" {
		t.Fatalf("thumbnail: %d %s", status, raw)
	}
	if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() != 32 || img.Bounds().Dy() != 32 ||
		thumbtest.Signature(img) != thumbtest.QuadrantSignature {
		t.Fatalf("thumbnail image: %v", err)
	}

	status, _, raw = send(t, http.MethodPost, base+"/_matrix/media/v3/upload", tok, "text/plain", bytes.Repeat([]byte("x"), 5000))
	if status != 413 || !strings.Contains(string(raw), "M_TOO_LARGE") {
		t.Fatalf("oversized upload: %d %s", status, raw)
	}
	errs := []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"no token", "/_matrix/client/v1/media/download/" + id, "", 401, "M_MISSING_TOKEN"},
		{"thumbnail of no image", "/_matrix/client/v1/media/thumbnail/" + id + "?width=8&height=8", tok, 400, "M_UNKNOWN"},
		{"preview_url off", "/_matrix/client/v1/media/preview_url?url=http://example.org/", tok, 404, "M_UNRECOGNIZED"},
		{"client API path", "/_matrix/client/v3/account/whoami", tok, 404, "M_UNRECOGNIZED"},
		{"no internal API", "/api/userapi/queryAccessToken", "", 404, "M_UNRECOGNIZED"},
		{"federation media unsigned", "/_matrix/federation/v1/media/download/" + strings.TrimPrefix(id, testServer+"/"), "", 401, "M_UNAUTHORIZED"},
		{"other federation path", "/_matrix/federation/v1/version", "", 404, "M_UNRECOGNIZED"},
	}
	for _, tc := range errs {
		r := processtest.Do(t, http.MethodGet, base+tc.path, tc.token, nil)
		if r.Status != tc.status || r.ErrCode() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Raw, tc.status, tc.code)
		}
	}
	media.Stop(t)
	client.Stop(t)
	users.Stop(t)
}

// send makes a request with a raw body and returns status, headers and body.
func send(t *testing.T, method, url, token, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, raw
}

// TestFlags: bad invocations end with status 2, a config that cannot run with 1.
func TestFlags(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-media-api")
	pl := processtest.WritePolylith(t, t.TempDir(), testServer, testSecret, "")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no config", nil, 2, "-config is required"},
		{"stray argument", []string{"-config", pl.ConfigPath, "extra"}, 2, "unexpected arguments"},
		{"missing file", []string{"-config", pl.ConfigPath + ".nope"}, 1, "axon-media-api:"},
		{"bad public bind", []string{"-config", pl.ConfigPath, "-public-bind", "not an address"}, 1, "public_listen"},
	}
	for _, tc := range tests {
		r := processtest.Run(t, bin, tc.args...)
		if r.ExitCode != tc.code || !strings.Contains(r.Output, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, r.ExitCode, tc.code, tc.want, r.Output)
		}
	}
}
