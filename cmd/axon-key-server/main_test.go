package main

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	"github.com/axon-matrix/axon/keyserver/inthttp"
)

const (
	testServer = "ks.example"
	testSecret = "0123456789abcdef-keyserver"
)

// TestProcess runs axon-key-server as a real process on SQLite and calls it through
// keyserver/inthttp.Client (arrows 14 and 16): a device's keys uploaded are queried and
// counted, a one-time key is claimed; a bad upload keeps its errcode across the hop; a
// wrong secret is 401.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-key-server")
	dir := t.TempDir()
	port := processtest.FreePort(t)
	cfgPath := processtest.WriteConfig(t, dir, processtest.Config{ServerName: testServer, Section: "key_server", Port: port, Secret: testSecret})
	p := processtest.Start(t, bin, port, "-config", cfgPath)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := inthttp.NewClient(base, testSecret)
	ctx := context.Background()

	dev := devicetest.New(t, "@alice:"+testServer, "DEV")
	up, err := c.UploadKeys(ctx, dev.Upload(3, true))
	if err != nil || up.OneTimeKeyCounts[api.AlgorithmSignedCurve25519] != 3 {
		t.Fatalf("upload: %+v %v", up, err)
	}
	q, err := c.QueryKeys(ctx, &api.QueryKeysRequest{DeviceKeys: map[string][]string{dev.UserID: nil}})
	if err != nil || dev.VerifyDeviceKeys(q.DeviceKeys[dev.UserID][dev.DeviceID]) != nil {
		t.Fatalf("query: %+v %v", q, err)
	}
	cl, err := c.ClaimKeys(ctx, &api.ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{dev.UserID: {dev.DeviceID: api.AlgorithmSignedCurve25519}}})
	if err != nil || len(cl.OneTimeKeys[dev.UserID][dev.DeviceID]) != 1 {
		t.Fatalf("claim: %+v %v", cl, err)
	}
	n, err := c.QueryKeyCounts(ctx, &api.QueryKeyCountsRequest{UserID: dev.UserID, DeviceID: dev.DeviceID})
	if err != nil || n.OneTimeKeyCounts[api.AlgorithmSignedCurve25519] != 2 || len(n.UnusedFallbackKeyTypes) != 1 {
		t.Fatalf("counts: %+v %v", n, err)
	}
	// Cross-signing and key backup (their tables come with the process's migrations).
	cs := devicetest.NewCrossSigning(t, dev.UserID)
	if err := c.UploadCrossSigningKeys(ctx, &api.UploadCrossSigningKeysRequest{UserID: dev.UserID, MasterKey: cs.MasterKey(),
		SelfSigningKey: cs.SelfSigningKey()}); err != nil {
		t.Fatalf("cross-signing upload: %v", err)
	}
	if q, err := c.QueryKeys(ctx, &api.QueryKeysRequest{DeviceKeys: map[string][]string{dev.UserID: nil}}); err != nil ||
		cs.Verify(cs.Master, q.SelfSigningKeys[dev.UserID]) != nil {
		t.Fatalf("query of cross-signing keys: %+v %v", q, err)
	}
	v, err := c.CreateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: dev.UserID, Algorithm: "m.megolm_backup.v1.curve25519-aes-sha2",
		AuthData: []byte(`{"public_key":"pk"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if cur, err := c.KeyBackupVersion(ctx, &api.KeyBackupVersionRequest{UserID: dev.UserID}); err != nil || cur.Version != v.Version {
		t.Fatalf("backup version: %+v %v", cur, err)
	}
	var me *httputil.MatrixError
	bad := dev.Upload(1, false)
	bad.DeviceKeys = devicetest.Without(bad.DeviceKeys, "signatures")
	if _, err := c.UploadKeys(ctx, bad); !errors.As(err, &me) || me.Status != 400 || me.ErrCode != "M_INVALID_PARAM" {
		t.Fatalf("unsigned device keys: %v", err)
	}
	if _, err := inthttp.NewClient(base, "wrong-secret-0123456789").QueryKeyCounts(ctx, &api.QueryKeyCountsRequest{}); !errors.As(err, &me) ||
		me.Status != 401 || me.ErrCode != "M_UNAUTHORIZED" {
		t.Fatalf("wrong secret: %v", err)
	}
	p.Stop(t)
}
