package processtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/axon-matrix/axon/matrix/signing"
)

// Polylith is one config file for several polylith binaries on this machine: the Tier 2
// binaries' internal APIs and the Tier 1 binaries' public listeners on free loopback ports,
// one internal API secret and a signing key.
type Polylith struct {
	// ConfigPath is the written file.
	ConfigPath string
	// ServerName and Secret are global.server_name and global.internal_api_secret.
	ServerName, Secret string
	// UserAPI and RoomServer are the internal API ports (user_api, room_server).
	UserAPI, RoomServer int
	// ClientAPI and SyncAPI are the public ports (client_api, sync_api public_listen).
	ClientAPI, SyncAPI int
}

// WritePolylith writes dir/axon.yaml for the userapi, roomserver, clientapi and syncapi
// binaries (data, SQLite files and the embedded event log under dir unless global says
// otherwise; metrics on; bcrypt cost 4) and a signing key, and returns the ports. global is
// YAML added to the global section, indented by two spaces.
func WritePolylith(t *testing.T, dir, serverName, secret, global string) *Polylith {
	t.Helper()
	p := &Polylith{ServerName: serverName, Secret: secret,
		UserAPI: FreePort(t), RoomServer: FreePort(t), ClientAPI: FreePort(t), SyncAPI: FreePort(t)}
	key, err := signing.GenerateKey("t1", nil)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "signing.key")
	if err := signing.WriteKeyFile(keyPath, key); err != nil {
		t.Fatal(err)
	}
	internal := func(port int) string {
		return fmt.Sprintf("  internal_api_listen: \"127.0.0.1:%d\"\n  internal_api_url: \"http://127.0.0.1:%d\"\n", port, port)
	}
	yaml := fmt.Sprintf(`global:
  server_name: %s
  data_dir: %q
  private_key_path: %q
  internal_api_secret: %q
  metrics:
    enabled: true
%suser_api:
%s  bcrypt_cost: 4
room_server:
%sclient_api:
  public_listen: "127.0.0.1:%d"
sync_api:
  public_listen: "127.0.0.1:%d"
`, serverName, dir, keyPath, secret, global, internal(p.UserAPI), internal(p.RoomServer), p.ClientAPI, p.SyncAPI)
	p.ConfigPath = filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(p.ConfigPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Response is a public API answer: status and decoded JSON body (nil if not JSON).
type Response struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

// ErrCode is the body's errcode, or "".
func (r Response) ErrCode() string {
	s, _ := r.Body["errcode"].(string)
	return s
}

// Str is the body's string field key, or "".
func (r Response) Str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

// Do sends a client-server API request to url with access token (if any) and body (JSON
// encoded unless nil) and returns the answer.
func Do(t *testing.T, method, url, token string, body any) Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := Response{Status: res.StatusCode, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// Must fails the test unless r has status.
func (r Response) Must(t *testing.T, status int) Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// Register registers localpart on the client API at base (http://host:port) with
// m.login.dummy and returns the user ID and access token.
func Register(t *testing.T, base, localpart string) (string, string) {
	t.Helper()
	r := Do(t, http.MethodPost, base+"/_matrix/client/v3/register", "", map[string]any{
		"username": localpart, "password": "correct horse " + localpart, "auth": map[string]any{"type": "m.login.dummy"}}).Must(t, http.StatusOK)
	return r.Str("user_id"), r.Str("access_token")
}
