package internal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

func eduRecord(t *testing.T, out eduapi.OutputEDU) eventlog.Message {
	t.Helper()
	js, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return eventlog.Message{Topic: "axon.edu", Value: js}
}

// TestEphemeralTransactions: topic 3 records reach the services that asked for them, in
// the transactions' ephemeral (and de.sorunome.msc2409.ephemeral) and
// de.sorunome.msc2409.to_device fields, after the events queued before them: typing and
// receipts of rooms a service's user is joined to, presence of its users, to-device
// messages of its users' devices with push_to_device; a service without
// receive_ephemeral gets only events; a record delivered twice goes out once.
func TestEphemeralTransactions(t *testing.T) {
	type body struct {
		Events       []map[string]any `json:"events"`
		Ephemeral    []map[string]any `json:"ephemeral"`
		EphemeralOld []map[string]any `json:"de.sorunome.msc2409.ephemeral"`
		ToDevice     []map[string]any `json:"de.sorunome.msc2409.to_device"`
	}
	var mu sync.Mutex
	got := map[string]*body{} // service → everything accepted, merged
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		var b body
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Errorf("body: %v", err)
		}
		if !reflect.DeepEqual(b.Ephemeral, b.EphemeralOld) {
			t.Errorf("ephemeral %v and its old name %v differ", b.Ephemeral, b.EphemeralOld)
		}
		mu.Lock()
		if got[svc] == nil {
			got[svc] = &body{}
		}
		g := got[svc]
		g.Events = append(g.Events, b.Events...)
		g.Ephemeral = append(g.Ephemeral, b.Ephemeral...)
		g.ToDevice = append(g.ToDevice, b.ToDevice...)
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()

	reg := func(file, yaml string) *api.Registration {
		r, err := api.ParseRegistration(file, []byte(yaml), testServer)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	regs, err := api.NewRegistrations([]*api.Registration{
		reg("eph.yaml", `id: eph
url: "`+srv.URL+`/eph"
as_token: a1
hs_token: h1
sender_localpart: ephbot
de.sorunome.msc2409.push_ephemeral: true
push_to_device: true
namespaces: {users: [{exclusive: true, regex: "@_eph_.*"}]}
`),
		reg("plain.yaml", `id: plain
url: "`+srv.URL+`/plain"
as_token: a2
hs_token: h2
sender_localpart: plainbot
namespaces: {users: [{exclusive: true, regex: "@_plain_.*"}]}
`),
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "appservice")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	q := NewQueues(sdb, NewBridge(), regs, Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond})
	c := NewConsumer(sdb, q, regs)
	edus := NewEDUConsumer(sdb, q, regs, c)
	edus.now = func() time.Time { return time.UnixMilli(1700000005000) }

	const room, other = "!portal:hs.test", "!elsewhere:hs.test"
	if err := c.Handle(ctx, []eventlog.Message{
		member(t, "$j1", room, "@_eph_ghost:hs.test", "join"),
		member(t, "$j2", room, "@_plain_ghost:hs.test", "join"),
	}); err != nil {
		t.Fatal(err)
	}
	status := "away for lunch"
	records := []eventlog.Message{
		eduRecord(t, eduapi.OutputEDU{Kind: eduapi.OutputTypingKind, StreamPos: 1,
			Typing: &eduapi.OutputTyping{RoomID: room, Typers: []eduapi.Typer{{UserID: "@alice:hs.test"}}}}),
		eduRecord(t, eduapi.OutputEDU{Kind: eduapi.OutputTypingKind, StreamPos: 2,
			Typing: &eduapi.OutputTyping{RoomID: other, Typers: []eduapi.Typer{{UserID: "@alice:hs.test"}}}}),
		eduRecord(t, eduapi.OutputEDU{Kind: eduapi.OutputReceiptKind, StreamPos: 3,
			Receipt: &eduapi.OutputReceipt{RoomID: room, UserID: "@alice:hs.test", Type: "m.read", EventID: "$j1", TS: 1700000000000}}),
		eduRecord(t, eduapi.OutputEDU{Kind: eduapi.OutputPresenceKind, StreamPos: 4,
			Presence: &eduapi.OutputPresence{UserID: "@_eph_ghost:hs.test", Presence: "unavailable", StatusMsg: &status, LastActiveTS: 1700000000000}}),
		eduRecord(t, eduapi.OutputEDU{Kind: eduapi.OutputPresenceKind, StreamPos: 5,
			Presence: &eduapi.OutputPresence{UserID: "@bob:hs.test", Presence: "online"}}),
		eduRecord(t, eduapi.OutputEDU{Kind: eduapi.OutputToDeviceKind, StreamPos: 6,
			ToDevice: &eduapi.OutputToDevice{Sender: "@alice:hs.test", Type: "m.room_key_request", UserID: "@_eph_ghost:hs.test", DeviceID: "GHOSTDEV", Content: json.RawMessage(`{"n":1}`)}}),
		eduRecord(t, eduapi.OutputEDU{Kind: eduapi.OutputToDeviceKind, StreamPos: 7,
			ToDevice: &eduapi.OutputToDevice{Sender: "@alice:hs.test", Type: "m.x", UserID: "@bob:hs.test", DeviceID: "BOBDEV", Content: json.RawMessage(`{}`)}}),
		{Topic: "axon.edu", Value: []byte(`not json`)},
	}
	for range 2 { // delivered again after a crash: queued once
		if err := edus.Handle(ctx, records); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); q.Wait() }()
	if err := q.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := sdb.Count(ctx, "eph")
		m, err2 := sdb.Count(ctx, "plain")
		if err == nil && err2 == nil && n == 0 && m == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues not drained: eph %d, plain %d", n, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	eph, plain := got["eph"], got["plain"]
	if eph == nil || plain == nil || len(eph.Events) != 2 || len(plain.Events) != 1 { // plain's ghost joined after eph's
		t.Fatalf("events: eph %v, plain %v", js(eph), js(plain))
	}
	if len(plain.Ephemeral) != 0 || len(plain.ToDevice) != 0 {
		t.Errorf("a service without receive_ephemeral got %s", js(plain))
	}
	wantEph := []string{
		`{"content":{"user_ids":["@alice:hs.test"]},"room_id":"!portal:hs.test","type":"m.typing"}`,
		`{"content":{"$j1":{"m.read":{"@alice:hs.test":{"ts":1700000000000}}}},"room_id":"!portal:hs.test","type":"m.receipt"}`,
		`{"content":{"currently_active":false,"last_active_ago":5000,"presence":"unavailable","status_msg":"away for lunch","user_id":"@_eph_ghost:hs.test"},"sender":"@_eph_ghost:hs.test","type":"m.presence"}`,
	}
	var gotEph []string
	for _, e := range eph.Ephemeral {
		gotEph = append(gotEph, js(e))
	}
	if !reflect.DeepEqual(gotEph, wantEph) {
		t.Errorf("ephemeral:\n got %v\nwant %v", gotEph, wantEph)
	}
	wantTD := `[{"content":{"n":1},"sender":"@alice:hs.test","to_device_id":"GHOSTDEV","to_user_id":"@_eph_ghost:hs.test","type":"m.room_key_request"}]`
	if js(eph.ToDevice) != wantTD {
		t.Errorf("to_device: got %s\nwant %s", js(eph.ToDevice), wantTD)
	}
}
