package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/serverkeyapi/api"
	"github.com/axon-matrix/axon/serverkeyapi/inthttp"
)

const (
	testServer = "keys.example"
	testSecret = "0123456789abcdef-serverkeyapi"
)

// TestProcess runs axon-server-key-api as a real process on SQLite and calls it through
// serverkeyapi/inthttp.Client (arrow 11): it refuses to start without the signing key;
// its keys are signed with the key file's key; a loopback server name is refused as a key
// destination by default; a wrong secret is 401.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-server-key-api")
	dir := t.TempDir()
	port := processtest.FreePort(t)
	cfgPath := processtest.WriteConfig(t, dir, processtest.Config{ServerName: testServer, Section: "server_key_api", Port: port, Secret: testSecret})
	if p := processtest.Run(t, bin, "-config", cfgPath); p.ExitCode != 1 || !strings.Contains(p.Output, "axon-generate-keys") {
		t.Fatalf("without a key: exit %d\n%s", p.ExitCode, p.Output)
	}
	key, err := signing.GenerateKey("t1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.WriteKeyFile(filepath.Join(dir, "signing.key"), key); err != nil {
		t.Fatal(err)
	}
	p := processtest.Start(t, bin, port, "-config", cfgPath)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := inthttp.NewClient(base, testSecret)
	ctx := context.Background()
	raw, err := c.ServerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k, err := federation.ParseServerKeys(raw)
	if err != nil || k.VerifySelfSigned() != nil || k.ServerName != testServer || len(k.VerifyKeys) != 1 {
		t.Fatalf("keys %s: %v", raw, err)
	}
	if vk, ok := k.VerifyKeys[key.ID]; !ok || !key.Public().Equal(vkPub(vk.Key)) {
		t.Fatalf("keys %s are not the key file's", raw)
	}
	// Private destinations are refused by default: nothing found, no error.
	got, err := c.FetchKeys(ctx, &api.FetchKeysRequest{Keys: []api.KeyRequest{{ServerName: "127.0.0.1:" + strconv.Itoa(port), KeyID: "ed25519:x"}}})
	if err != nil || len(got.Keys) != 0 {
		t.Fatalf("FetchKeys of a loopback server: %+v %v", got, err)
	}
	var me *httputil.MatrixError
	if _, err := inthttp.NewClient(base, "wrong-secret-0123456789").ServerKeys(ctx); !errors.As(err, &me) || me.Status != 401 || me.ErrCode != "M_UNAUTHORIZED" {
		t.Fatalf("wrong secret: %v", err)
	}
	p.Stop(t)
}

func vkPub(b []byte) ed25519.PublicKey { return ed25519.PublicKey(b) }
