package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// global.rate_limits reaches the monolith's clientapi: with a message burst of 3 the 4th
// room send (createRoom counts) is 429 M_LIMIT_EXCEEDED with retry_after_ms and
// Retry-After; with enabled: false the same burst passes.
func TestRateLimitsFromConfig(t *testing.T) {
	tests := []struct {
		name    string
		limits  string
		limited bool
	}{
		{"on", "    message: {per_second: 0.001, burst_count: 3}\n", true},
		{"off", "    enabled: false\n    message: {per_second: 0.001, burst_count: 3}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := fmt.Sprintf("global:\n  server_name: limits.test\n  data_dir: %q\n  rate_limits:\n%s", dir, tt.limits)
			path := filepath.Join(dir, "axon.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			m, c := startTest(t, &options{configPath: path, httpBind: "127.0.0.1:0"})
			defer stop(t, m)
			r := c.must(401, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "dan", "password": "secret-pw"})
			token := c.must(200, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "dan", "password": "secret-pw",
				"auth": map[string]any{"type": "m.login.dummy", "session": r["session"]}})["access_token"].(string)
			room := c.must(200, "POST", "/_matrix/client/v3/createRoom", token, map[string]any{})["room_id"].(string)
			send := func(i int) (int, map[string]any) {
				return c.do("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/send/m.room.message/t"+strconv.Itoa(i), token,
					map[string]any{"msgtype": "m.text", "body": "hi"})
			}
			for i := 1; i <= 2; i++ {
				c.must(200, "PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/send/m.room.message/t"+strconv.Itoa(i), token,
					map[string]any{"msgtype": "m.text", "body": "hi"})
			}
			status, body := send(3)
			if !tt.limited {
				if status != 200 {
					t.Fatalf("limits off, 4th send: %d %v", status, body)
				}
				return
			}
			if ms, _ := body["retry_after_ms"].(float64); status != 429 || body["errcode"] != "M_LIMIT_EXCEEDED" || ms <= 0 {
				t.Fatalf("4th send: %d %v, want 429 M_LIMIT_EXCEEDED with retry_after_ms", status, body)
			}
			req, _ := http.NewRequest("PUT", c.base+"/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/send/m.room.message/t4",
				bytes.NewReader([]byte(`{"msgtype":"m.text","body":"hi"}`)))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != 429 || ra < 1 {
				t.Fatalf("5th send: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		})
	}
}
