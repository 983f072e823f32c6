package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
)

// TestMonolithFederationRoutes: the monolith serves the serverkeyapi's keys through the
// federationapi on its HTTP listener (arrow 11 as a Go call), signed with its signing key;
// a restart with a new key publishes the replaced one as an old key; /send without X-Matrix
// is 401, unbuilt federation paths are 404 M_UNRECOGNIZED, a known one with the wrong
// method 405.
func TestMonolithFederationRoutes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	fetch := func(c *client) *federation.ServerKeys {
		t.Helper()
		resp, err := http.Get(c.base + "/_matrix/key/v2/server")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		k, err := federation.ParseServerKeys(raw)
		if resp.StatusCode != 200 || err != nil || k.VerifySelfSigned() != nil || k.ServerName != "localhost" {
			t.Fatalf("keys: %d %s %v", resp.StatusCode, raw, err)
		}
		return k
	}
	m, c := startTest(t, &options{dataDir: dir, httpBind: "127.0.0.1:0"})
	first := fetch(c)
	if out := c.must(200, "GET", "/_matrix/federation/v1/version", "", nil); out["server"].(map[string]any)["name"] != "Axon" {
		t.Fatalf("version: %v", out)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		errcode      string
	}{
		// /send is served (arrow 3), behind the X-Matrix check.
		{"PUT", "/_matrix/federation/v1/send/t1", 401, "M_UNAUTHORIZED"},
		{"GET", "/_matrix/federation/v1/versionx", 404, "M_UNRECOGNIZED"},
		{"POST", "/_matrix/key/v2/server", 405, "M_UNRECOGNIZED"},
	} {
		if out := c.must(tc.status, tc.method, tc.path, "", nil); out["errcode"] != tc.errcode {
			t.Fatalf("%s %s: %v", tc.method, tc.path, out)
		}
	}
	stop(t, m)

	// A new key (as axon-generate-keys -force writes it): the old one is published.
	keys, err := signing.LoadKeyFile(filepath.Join(dir, "signing.key"))
	if err != nil || len(keys) != 1 {
		t.Fatal(err)
	}
	next, _ := signing.GenerateKey("next", nil)
	if err := os.Remove(filepath.Join(dir, "signing.key")); err != nil {
		t.Fatal(err)
	}
	if err := signing.WriteKeyFile(filepath.Join(dir, "signing.key"), next); err != nil {
		t.Fatal(err)
	}
	m, c = startTest(t, &options{dataDir: dir, httpBind: "127.0.0.1:0"})
	defer stop(t, m)
	second := fetch(c)
	if _, ok := second.VerifyKeys[next.ID]; !ok {
		t.Fatalf("new key not current: %s", second.Raw)
	}
	if _, ok := second.OldVerifyKeys[keys[0].ID]; !ok || len(first.OldVerifyKeys) != 0 {
		t.Fatalf("old key %s not published: %s", keys[0].ID, second.Raw)
	}
}
