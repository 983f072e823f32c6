package main

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/federationsender/inthttp"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/matrix/signing"
)

const (
	testServer = "fs.example"
	testSecret = "0123456789abcdef-federationsender"
)

// TestProcess runs axon-federation-sender as a real process on SQLite (its topic 6
// consumer on the embedded log) and calls arrow 17 through federationsender/inthttp: bad
// requests keep their errcode across the hop, a join with no other server to ask is
// M_NOT_FOUND, a wrong secret is 401; it stops cleanly on SIGTERM.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-federation-sender")
	dir := t.TempDir()
	key, err := signing.GenerateKey("t1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.WriteKeyFile(filepath.Join(dir, "signing.key"), key); err != nil {
		t.Fatal(err)
	}
	port := processtest.FreePort(t)
	cfgPath := processtest.WriteConfig(t, dir, processtest.Config{ServerName: testServer, Section: "federation_sender", Port: port, Secret: testSecret})
	p := processtest.Start(t, bin, port, "-config", cfgPath)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := inthttp.NewClient(base, testSecret)
	ctx := context.Background()
	var me *httputil.MatrixError
	if _, err := c.PerformJoin(ctx, &api.PerformJoinRequest{RoomID: "!r:remote.example", UserID: "@u:elsewhere.example",
		ServerNames: []string{"remote.example"}}); !errors.As(err, &me) || me.Status != 400 || me.ErrCode != "M_INVALID_PARAM" {
		t.Fatalf("user of another server: %v", err)
	}
	if _, err := c.PerformJoin(ctx, &api.PerformJoinRequest{RoomID: "!r:remote.example", UserID: "@u:" + testServer,
		ServerNames: []string{testServer}}); !errors.As(err, &me) || me.Status != 404 || me.ErrCode != "M_NOT_FOUND" {
		t.Fatalf("no server to ask: %v", err)
	}
	if _, err := inthttp.NewClient(base, "wrong-secret-0123456789").PerformJoin(ctx, &api.PerformJoinRequest{}); !errors.As(err, &me) ||
		me.Status != 401 || me.ErrCode != "M_UNAUTHORIZED" {
		t.Fatalf("wrong secret: %v", err)
	}
	p.Stop(t)
}
