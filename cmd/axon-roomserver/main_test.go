package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/inthttp"
)

const (
	testServer = "rs.example"
	testSecret = "0123456789abcdef-roomserver"
)

// TestProcess runs axon-roomserver as a real process on SQLite and calls it through
// roomserver/inthttp.Client (arrow 4): create a room, send a message, read it back; a
// wrong secret is refused; the outbox relay published the room's events on topic 2.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-roomserver")
	dir := t.TempDir()
	port := processtest.FreePort(t)
	cfgPath := processtest.WriteConfig(t, dir, processtest.Config{ServerName: testServer, Section: "room_server", Port: port, Secret: testSecret})

	// Without the signing key the roomserver does not start.
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
	alice := "@alice:" + testServer
	room, err := c.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "private_chat", Name: "Process"})
	if err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	sent, err := c.SendEvent(ctx, &api.SendEventRequest{RoomID: room.RoomID, Sender: alice, Type: "m.room.message",
		Content: json.RawMessage(`{"msgtype":"m.text","body":"hello"}`), TxnID: "t1", DeviceID: "D"})
	if err != nil {
		t.Fatalf("SendEvent: %v", err)
	}
	ev, err := c.QueryEvent(ctx, sent.EventID)
	if err != nil || !json.Valid(ev.Event) {
		t.Fatalf("QueryEvent %+v %v", ev, err)
	}
	errs := []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"not joined", func() error {
			_, err := c.SendEvent(ctx, &api.SendEventRequest{RoomID: room.RoomID, Sender: "@bob:" + testServer,
				Type: "m.room.message", Content: json.RawMessage(`{}`)})
			return err
		}, 403, "M_FORBIDDEN"},
		{"unknown room", func() error { _, err := c.QueryRoomVersion(ctx, "!nope:"+testServer); return err }, 404, "M_NOT_FOUND"},
		{"wrong secret", func() error {
			_, err := inthttp.NewClient(base, "wrong-secret-0123456789").QueryRoomVersion(ctx, room.RoomID)
			return err
		}, 401, "M_UNAUTHORIZED"},
	}
	for _, tc := range errs {
		var me *httputil.MatrixError
		if err := tc.call(); !errors.As(err, &me) || me.Status != tc.status || me.ErrCode != tc.code {
			t.Errorf("%s: %v, want %d %s", tc.name, err, tc.status, tc.code)
		}
	}
	p.Stop(t)

	// Topic 2 holds the room's events, the message last.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: "file:" + filepath.Join(dir, "eventlog.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log, err := embedded.New(ctx, db, embedded.Config{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var seen bool
	err = log.Consumer().Consume(cctx, cfg.TopicName(eventlog.TopicRoomEvent), "process-test", func(_ context.Context, m eventlog.Message) error {
		if m.Key == room.RoomID && strings.Contains(string(m.Value), sent.EventID) {
			seen = true
			cancel()
		}
		return nil
	})
	if err != nil || !seen {
		t.Fatalf("the message did not reach topic 2: %v", err)
	}
}
