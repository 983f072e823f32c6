package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMonolithMedia: the monolith serves the mediaapi (arrow U as a Go call) on its HTTP
// listener beside the clientapi: an upload comes back byte-identical, the file lands under
// DATA_DIR/media, authenticated media needs a token, and the clientapi's routes still
// answer next to the media routes under /_matrix/client.
func TestMonolithMedia(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, c := startTest(t, &options{dataDir: dir, httpBind: "127.0.0.1:0"})
	defer stop(t, m)
	r := c.must(401, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "mia", "password": "secret-pw"})
	token := c.must(200, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "mia", "password": "secret-pw",
		"auth": map[string]any{"type": "m.login.dummy", "session": r["session"]}})["access_token"].(string)

	content := []byte("GIF89a a tiny picture")
	req, _ := http.NewRequest(http.MethodPost, c.base+"/_matrix/media/v3/upload?filename=p.gif", bytes.NewReader(content))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "image/gif")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(raw), `"content_uri":"mxc://localhost/`) {
		t.Fatalf("upload: %d %s", res.StatusCode, raw)
	}
	id := strings.TrimSuffix(strings.SplitN(string(raw), "mxc://", 2)[1], `"}`)

	req, _ = http.NewRequest(http.MethodGet, c.base+"/_matrix/client/v1/media/download/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(got, content) || res.Header.Get("Content-Type") != "image/gif" {
		t.Fatalf("download: %d %q %v", res.StatusCode, got, res.Header)
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "media", "sha256")); err != nil || len(ents) != 1 {
		t.Fatalf("media directory: %v %v", ents, err)
	}
	if out := c.must(401, "GET", "/_matrix/client/v1/media/download/"+id, "", nil); out["errcode"] != "M_MISSING_TOKEN" {
		t.Fatalf("no token: %v", out)
	}
	if out := c.must(200, "GET", "/_matrix/client/v1/media/config", token, nil); out["m.upload.size"] != float64(50<<20) {
		t.Fatalf("config: %v", out)
	}
	c.must(200, "GET", "/_matrix/client/v3/account/whoami", token, nil)
	// The thumbnail route is served; this "GIF" is no image: 400 M_UNKNOWN.
	if out := c.must(400, "GET", "/_matrix/client/v1/media/thumbnail/"+id+"?width=8&height=8", token, nil); out["errcode"] != "M_UNKNOWN" {
		t.Fatalf("thumbnail: %v", out)
	}
	// URL previews are off by default.
	if out := c.must(404, "GET", "/_matrix/client/v1/media/preview_url?url=https://example.org/", token, nil); out["errcode"] != "M_UNRECOGNIZED" {
		t.Fatalf("preview_url: %v", out)
	}
}
