package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
)

const (
	testServer = "fed.example"
	testSecret = "0123456789abcdef-federationapi"
)

// TestProcess runs axon-federation-api beside axon-server-key-api (arrow 11 over
// serverkeyapi/inthttp) and fetches keys as another server would: /_matrix/key/v2/server
// is signed with the key file's key, the notary answers for this server itself, /version
// answers, unbuilt federation paths are 404 M_UNRECOGNIZED, an unauthenticated federation
// federation request to an unbuilt path is M_UNRECOGNIZED, not 401.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-federation-api")
	skBin := processtest.Build(t, "../axon-server-key-api", "axon-server-key-api")
	dir := t.TempDir()
	key, err := signing.GenerateKey("t1", nil)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "signing.key")
	if err := signing.WriteKeyFile(keyPath, key); err != nil {
		t.Fatal(err)
	}
	skPort, fedPort := processtest.FreePort(t), processtest.FreePort(t)
	cfgPath := filepath.Join(dir, "axon.yaml")
	yaml := fmt.Sprintf(`global:
  server_name: %s
  data_dir: %q
  private_key_path: %q
  internal_api_secret: %q
server_key_api:
  internal_api_listen: "127.0.0.1:%d"
  internal_api_url: "http://127.0.0.1:%d"
federation_api:
  public_listen: "127.0.0.1:%d"
`, testServer, dir, keyPath, testSecret, skPort, skPort, fedPort)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	sk := processtest.Start(t, skBin, skPort, "-config", cfgPath)
	fed := processtest.Start(t, bin, fedPort, "-config", cfgPath)
	base := fmt.Sprintf("http://127.0.0.1:%d", fedPort)

	resp, err := http.Get(base + "/_matrix/key/v2/server")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	k, err := federation.ParseServerKeys(raw)
	if resp.StatusCode != 200 || err != nil || k.VerifySelfSigned() != nil || k.ServerName != testServer {
		t.Fatalf("keys: %d %s %v", resp.StatusCode, raw, err)
	}
	if _, ok := k.VerifyKeys[key.ID]; !ok {
		t.Fatalf("keys %s do not hold %s", raw, key.ID)
	}
	q := processtest.Do(t, http.MethodGet, base+"/_matrix/key/v2/query/"+testServer, "", nil).Must(t, http.StatusOK)
	if list, _ := q.Body["server_keys"].([]any); len(list) != 1 {
		t.Fatalf("notary for itself: %v", q.Body)
	}
	v := processtest.Do(t, http.MethodGet, base+"/_matrix/federation/v1/version", "", nil).Must(t, http.StatusOK)
	if s, _ := v.Body["server"].(map[string]any); s["name"] != "Axon" {
		t.Fatalf("version: %v", v.Body)
	}
	for _, path := range []string{"/_matrix/federation/v1/exchange_third_party_invite/!r:x", "/_matrix/client/v3/login"} {
		if r := processtest.Do(t, http.MethodPut, base+path, "", map[string]any{}); r.Status != 404 || r.ErrCode() != "M_UNRECOGNIZED" {
			t.Errorf("%s: %d %v", path, r.Status, r.Body)
		}
	}
	// Built room endpoints are behind X-Matrix.
	if r := processtest.Do(t, http.MethodPut, base+"/_matrix/federation/v1/send/t1", "", map[string]any{"pdus": []any{}}); r.Status != 401 || r.ErrCode() != "M_UNAUTHORIZED" {
		t.Errorf("unsigned /send: %d %v", r.Status, r.Body)
	}
	if r := processtest.Do(t, http.MethodPut, base+"/_matrix/federation/v2/invite/!r:x/$e", "", map[string]any{}); r.Status != 401 || r.ErrCode() != "M_UNAUTHORIZED" {
		t.Errorf("unsigned /invite: %d %v", r.Status, r.Body)
	}
	if r := processtest.Do(t, http.MethodPut, base+"/_matrix/federation/v1/send_knock/!r:x/$e", "", map[string]any{}); r.Status != 401 || r.ErrCode() != "M_UNAUTHORIZED" {
		t.Errorf("unsigned /send_knock: %d %v", r.Status, r.Body)
	}
	// Arrow 15's endpoints too.
	if r := processtest.Do(t, http.MethodPost, base+"/_matrix/federation/v1/user/keys/query", "", map[string]any{"device_keys": map[string]any{}}); r.Status != 401 || r.ErrCode() != "M_UNAUTHORIZED" {
		t.Errorf("unsigned /user/keys/query: %d %v", r.Status, r.Body)
	}
	processtest.Do(t, http.MethodGet, base+"/health", "", nil).Must(t, http.StatusOK)
	fed.Stop(t)
	sk.Stop(t)
}
