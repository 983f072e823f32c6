// Command mediacheck is the polylith's media check (tests/e2e/polylith.sh, issue 14): it
// registers a user through client-api-proxy, uploads a file (POST /_matrix/media/v3/upload,
// routed to axon-media-api, whose token check goes to axon-user-api over arrow U) and
// downloads it on the authenticated /_matrix/client/v1/media/download path and the legacy
// /_matrix/media/v3/download path, both routed by the proxy to the mediaapi: the bytes
// must come back identical, with the uploaded Content-Type and nosniff. It retries for up
// to -wait while the proxy's health checks find the mediaapi. Exit status 0 only when all
// holds.
//
//	mediacheck -hs http://127.0.0.1:8008
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	hs := flag.String("hs", "http://127.0.0.1:8008", "client-api-proxy's base URL")
	wait := flag.Duration("wait", 30*time.Second, "how long to retry")
	flag.Parse()
	c := &http.Client{Timeout: 10 * time.Second}
	user := fmt.Sprintf("media%d", time.Now().UnixNano()%1e9)
	token, err := register(c, *hs, user)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mediacheck: register:", err)
		os.Exit(1)
	}
	content := make([]byte, 300_000) // several proxy buffers' worth
	_, _ = rand.Read(content)
	deadline := time.Now().Add(*wait)
	for {
		err := check(c, *hs, token, content)
		if err == nil {
			fmt.Printf("mediacheck: %d bytes uploaded and downloaded (authenticated and legacy) through the proxy\n", len(content))
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "mediacheck:", err)
			os.Exit(1)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func register(c *http.Client, hs, user string) (string, error) {
	body, _ := json.Marshal(map[string]any{"username": user, "password": "media check " + user,
		"auth": map[string]any{"type": "m.login.dummy"}})
	resp, err := c.Post(hs+"/_matrix/client/v3/register", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 || out.AccessToken == "" {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}
	return out.AccessToken, nil
}

func check(c *http.Client, hs, token string, content []byte) error {
	req, _ := http.NewRequest(http.MethodPost, hs+"/_matrix/media/v3/upload?filename=check.bin", bytes.NewReader(content))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-axon-check")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var up struct {
		ContentURI string `json:"content_uri"`
	}
	if err := json.Unmarshal(raw, &up); err != nil || resp.StatusCode != 200 || !strings.HasPrefix(up.ContentURI, "mxc://") {
		return fmt.Errorf("upload: status %d: %s", resp.StatusCode, raw)
	}
	id := strings.TrimPrefix(up.ContentURI, "mxc://")
	for _, p := range []struct{ path, token string }{
		{"/_matrix/client/v1/media/download/" + id, token},
		{"/_matrix/media/v3/download/" + id, ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, hs+p.path, nil)
		if p.token != "" {
			req.Header.Set("Authorization", "Bearer "+p.token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, content) {
			return fmt.Errorf("%s: status %d, %d bytes (want %d, identical)", p.path, resp.StatusCode, len(got), len(content))
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-axon-check" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			return fmt.Errorf("%s: Content-Type %q, X-Content-Type-Options %q", p.path, ct, resp.Header.Get("X-Content-Type-Options"))
		}
	}
	// Authenticated media without a token: 401 M_MISSING_TOKEN from the mediaapi.
	resp, err = c.Get(hs + "/_matrix/client/v1/media/download/" + id)
	if err != nil {
		return err
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(raw), "M_MISSING_TOKEN") {
		return fmt.Errorf("download without a token: status %d: %s", resp.StatusCode, raw)
	}
	return nil
}
