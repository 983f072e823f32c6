package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

const mediaSummary = "two monoliths over TLS: media uploaded on A is downloaded, with a thumbnail, through B (federation media, multipart/mixed), then served by B from its store with A stopped"

// mediaScenario is -media: alice@A uploads a file and a PNG; bob@B downloads both and a
// thumbnail of the PNG through B (/_matrix/client/v1/media/…/A/…: B fetches from A's
// /_matrix/federation/v1/media/download, X-Matrix signed); an unsigned request to A's
// federation media is 401; A is stopped and B serves the same media from its store.
func (r *run) mediaScenario() error {
	ctx := context.Background()
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	for _, label := range []string{"A", "B"} {
		r.begin("configure and start server " + label)
		s, err := r.start(bin, label)
		if err != nil {
			return err
		}
		r.servers = append(r.servers, s)
	}
	a, b := r.servers[0], r.servers[1]
	r.begin("register alice on A and bob on B")
	alice := &csapi.Client{BaseURL: a.clientURL}
	bob := &csapi.Client{BaseURL: b.clientURL}
	if _, err := alice.Register(ctx, "alice", "alice-password-1", "test"); err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	if _, err := bob.Register(ctx, "bob", "bob-password-1", "test"); err != nil {
		return fmt.Errorf("bob: %w", err)
	}

	r.begin("alice uploads a 300 kB file and a PNG on A")
	blob := make([]byte, 300_000)
	_, _ = rand.Read(blob)
	fileURI, err := upload(ctx, alice, "application/octet-stream", "blob.bin", blob)
	if err != nil {
		return err
	}
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		return err
	}
	picURI, err := upload(ctx, alice, "image/png", "pic.png", pngBuf.Bytes())
	if err != nil {
		return err
	}
	for _, uri := range []string{fileURI, picURI} {
		if !strings.HasPrefix(uri, "mxc://"+a.name+"/") {
			return fmt.Errorf("content_uri %q is not of A", uri)
		}
	}

	r.begin("an unsigned request to A's federation media is refused (401)")
	insecure := &http.Client{Timeout: r.timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test's self-signed certificates
	resp, err := insecure.Get("https://" + a.name + "/_matrix/federation/v1/media/download/" + strings.TrimPrefix(fileURI, "mxc://"+a.name+"/"))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("unsigned federation media request: %d, want 401", resp.StatusCode)
	}

	check := func() error {
		got, ct, err := download(ctx, bob, "/_matrix/client/v1/media/download/"+strings.TrimPrefix(fileURI, "mxc://"))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, blob) || ct != "application/octet-stream" {
			return fmt.Errorf("file through B: %d bytes (%q), want the %d uploaded", len(got), ct, len(blob))
		}
		got, ct, err = download(ctx, bob, "/_matrix/client/v1/media/download/"+strings.TrimPrefix(picURI, "mxc://"))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, pngBuf.Bytes()) || ct != "image/png" {
			return fmt.Errorf("PNG through B: %d bytes (%q)", len(got), ct)
		}
		got, _, err = download(ctx, bob, "/_matrix/client/v1/media/thumbnail/"+strings.TrimPrefix(picURI, "mxc://")+"?width=64&height=64&method=scale")
		if err != nil {
			return err
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(got))
		if err != nil || cfg.Width > 400 || cfg.Width == 0 {
			return fmt.Errorf("thumbnail through B: %+v %v", cfg, err)
		}
		return nil
	}
	r.begin("bob downloads both and a thumbnail of the PNG through B (fetched from A)")
	if err := check(); err != nil {
		return err
	}

	r.begin("A stops; B serves the same media from its store")
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.exited:
	case <-time.After(15 * time.Second):
		return fmt.Errorf("A did not stop")
	}
	return check()
}

// upload POSTs content to /_matrix/media/v3/upload as c and returns its content_uri.
func upload(ctx context.Context, c *csapi.Client, contentType, name string, content []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/_matrix/media/v3/upload?filename="+name, bytes.NewReader(content))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+c.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		URI string `json:"content_uri"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		return "", fmt.Errorf("upload: %d %.300s", resp.StatusCode, raw)
	}
	return out.URI, nil
}

// download GETs path as c and returns the body and its Content-Type.
func download(ctx context.Context, c *csapi.Client, path string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s: %d %.300s", path, resp.StatusCode, raw)
	}
	return raw, resp.Header.Get("Content-Type"), nil
}
