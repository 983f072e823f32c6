package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/eduserver/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

const (
	testServer = "edu.example"
	testSecret = "0123456789abcdef-eduserver"
)

// TestProcess runs axon-edu-server as a real process on SQLite and calls it through
// eduserver/inthttp.Client (arrow 6): a receipt, a typing start and a to-device message
// are published on topic 3 with dense positions; the same to-device transaction after a
// restart is a no-op; bad input keeps its errcode across the hop; a wrong secret is 401.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-edu-server")
	dir := t.TempDir()
	port := processtest.FreePort(t)
	cfgPath := processtest.WriteConfig(t, dir, processtest.Config{ServerName: testServer, Section: "edu_server", Port: port, Secret: testSecret})
	p := processtest.Start(t, bin, port, "-config", cfgPath)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := inthttp.NewClient(base, testSecret)
	ctx := context.Background()
	room, alice := "!room:"+testServer, "@alice:"+testServer

	if err := c.SetReceipt(ctx, &api.SetReceiptRequest{RoomID: room, UserID: alice, Type: api.ReceiptRead, EventID: "$ev"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTyping(ctx, &api.SetTypingRequest{RoomID: room, UserID: alice, Typing: true, TimeoutMS: 60000}); err != nil {
		t.Fatal(err)
	}
	toDevice := &api.SendToDeviceRequest{Sender: alice, SenderDevice: "A", TxnID: "txn1", Type: "m.test",
		Messages: map[string]map[string]json.RawMessage{"@bob:" + testServer: {"B": json.RawMessage(`{"n":1}`)}}}
	if err := c.SendToDevice(ctx, toDevice); err != nil {
		t.Fatal(err)
	}
	var me *httputil.MatrixError
	if err := c.SetReceipt(ctx, &api.SetReceiptRequest{RoomID: room, UserID: alice, Type: "m.nope", EventID: "$ev"}); !errors.As(err, &me) ||
		me.Status != 400 || me.ErrCode != "M_INVALID_PARAM" {
		t.Fatalf("bad receipt type: %v", err)
	}
	if err := inthttp.NewClient(base, "wrong-secret-0123456789").SetTyping(ctx, &api.SetTypingRequest{RoomID: room, UserID: alice}); !errors.As(err, &me) ||
		me.Status != 401 || me.ErrCode != "M_UNAUTHORIZED" {
		t.Fatalf("wrong secret: %v", err)
	}
	p.Stop(t)

	// After a restart the transaction is remembered: nothing is sent again.
	p = processtest.Start(t, bin, port, "-config", cfgPath)
	if err := c.SendToDevice(ctx, toDevice); err != nil {
		t.Fatal(err)
	}
	p.Stop(t)

	// Topic 3 of the embedded log holds exactly the three records, positions 1–3.
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
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	got, n := map[string]int64{}, 0
	err = log.Consumer().Consume(cctx, cfg.TopicName(eventlog.TopicEDU), "process-test", func(_ context.Context, m eventlog.Message) error {
		var out api.OutputEDU
		if err := json.Unmarshal(m.Value, &out); err != nil {
			t.Errorf("record %s: %v", m.Value, err)
		}
		got[out.Kind+" "+m.Key] = out.StreamPos
		n++
		if n == 3 {
			// Give a duplicate the chance to show before stopping.
			time.AfterFunc(500*time.Millisecond, cancel)
		}
		if n > 3 {
			t.Errorf("unexpected record %s", m.Value)
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	want := map[string]int64{"receipt " + room: 1, "typing " + room: 2, "to_device " + alice: 3} // keyed by sender (docs/wiring.md, topic 3)
	for k, pos := range want {
		if got[k] != pos {
			t.Fatalf("topic 3 records %v, want %v", got, want)
		}
	}
}
