package internal

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// fakeRoomServer answers users' joined rooms and rooms' joined members as the test sets
// them (the roomserver's state after the events).
type fakeRoomServer struct {
	rooms   map[string][]string // user → joined rooms
	members map[string][]string // room → joined users
}

func (f *fakeRoomServer) QueryRoomsForUser(_ context.Context, userID string, _ []string) ([]string, error) {
	if userID == "@broken:hs.test" {
		return nil, errors.New("roomserver down")
	}
	return f.rooms[userID], nil
}

func (f *fakeRoomServer) QueryCurrentState(_ context.Context, roomID string, _ []rsapi.StateTuple) ([]json.RawMessage, error) {
	out := []json.RawMessage{json.RawMessage(`{"type":"m.room.create","state_key":"","content":{}}`)}
	for _, u := range f.members[roomID] {
		js, _ := json.Marshal(map[string]any{"type": "m.room.member", "state_key": u, "content": map[string]string{"membership": "join"}})
		out = append(out, js)
	}
	js, _ := json.Marshal(map[string]any{"type": "m.room.member", "state_key": "@gone:hs.test", "content": map[string]string{"membership": "leave"}})
	return append(out, js), nil
}

// TestDeviceListsLeft: a user who leaves (or is banned from) a room a service with
// org.matrix.msc3202 is in, and shares no other room with it, is queued for
// device_lists.left, after the events; so is every other member of a room the service's
// last user left who shares nothing else with it. Users still sharing a room, the
// service's own users, rooms the service is not in and services without the switch get
// nothing; a roomserver failure skips the user without holding up the events.
func TestDeviceListsLeft(t *testing.T) {
	parse := func(file, y string) *api.Registration {
		r, err := api.ParseRegistration(file, []byte(y), testServer)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	regs, err := api.NewRegistrations([]*api.Registration{
		parse("e2ee.yaml", `{id: e2ee, url: "http://127.0.0.1:1/e2ee", as_token: a1, hs_token: h1, sender_localpart: e2eebot,
  org.matrix.msc3202: true, namespaces: {users: [{exclusive: true, regex: "@_e2ee_.*"}], rooms: [{exclusive: false, regex: "!ns_.*"}]}}`),
		parse("plain.yaml", `{id: plain, url: "http://127.0.0.1:1/plain", as_token: a2, hs_token: h2, sender_localpart: plainbot,
  namespaces: {users: [{exclusive: true, regex: "@_plain_.*"}]}}`),
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
	q := NewQueues(sdb, NewBridge(), regs, Backoff{})
	c := NewConsumer(sdb, q, regs)
	rs := &fakeRoomServer{rooms: map[string][]string{
		"@alice:hs.test": {"!elsewhere:hs.test"},
		"@bob:hs.test":   {"!other:hs.test"},
		"@carol:hs.test": {"!ns_bridged:hs.test"},
		"@dave:hs.test":  {"!other:hs.test", "!shared:hs.test"},
		"@erin:hs.test":  {"!other:hs.test"},
	}, members: map[string][]string{"!other:hs.test": {"@bob:hs.test", "@dave:hs.test", "@erin:hs.test"}}}
	c.SetRooms(rs)
	handle := func(msgs ...eventlog.Message) {
		t.Helper()
		if err := c.Handle(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	// The service's ghost is in !shared and !other; the plain service's in !shared.
	handle(member(t, "$g1", "!shared:hs.test", "@_e2ee_ghost:hs.test", "join"), member(t, "$p1", "!shared:hs.test", "@_plain_ghost:hs.test", "join"))
	handle(member(t, "$g2", "!other:hs.test", "@_e2ee_ghost:hs.test", "join"))

	for _, tt := range []struct {
		name string
		msgs []eventlog.Message
		want []string // device_lists.left rows queued for e2ee, in order
	}{
		{"leaves and shares nothing", []eventlog.Message{member(t, "$a", "!shared:hs.test", "@alice:hs.test", "leave")}, []string{"@alice:hs.test"}},
		{"banned and shares nothing", []eventlog.Message{member(t, "$a2", "!shared:hs.test", "@alice:hs.test", "ban")}, []string{"@alice:hs.test"}},
		{"still shares a room with a ghost", []eventlog.Message{member(t, "$b", "!shared:hs.test", "@bob:hs.test", "leave")}, nil},
		{"still shares a namespace room", []eventlog.Message{member(t, "$c", "!shared:hs.test", "@carol:hs.test", "leave")}, nil},
		{"a room the service is not in", []eventlog.Message{member(t, "$x", "!elsewhere:hs.test", "@alice:hs.test", "leave")}, nil},
		{"invites are no leave", []eventlog.Message{member(t, "$i", "!shared:hs.test", "@alice:hs.test", "invite")}, nil},
		{"roomserver failure skips the user", []eventlog.Message{member(t, "$k", "!shared:hs.test", "@broken:hs.test", "leave"),
			message(t, "$m", "!shared:hs.test", "@alice:hs.test")}, nil},
		// The ghost leaves !other, the service's last user there: bob and erin share
		// nothing else, dave still shares !shared; the ghost is the service's own.
		{"the service's last user leaves", []eventlog.Message{member(t, "$g3", "!other:hs.test", "@_e2ee_ghost:hs.test", "leave")},
			[]string{"@bob:hs.test", "@erin:hs.test"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			handle(tt.msgs...)
			rows, err := sdb.Peek(ctx, "e2ee", 1000)
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			var ids []int64
			for i, r := range rows {
				ids = append(ids, r.ID)
				if r.Kind != storage.KindDeviceListLeft {
					continue
				}
				if i == 0 { // the event that caused it goes first
					t.Fatalf("left row before the event that caused it: %+v", rows)
				}
				var u string
				_ = json.Unmarshal(r.JSON, &u)
				left = append(left, u)
			}
			if !reflect.DeepEqual(left, tt.want) {
				t.Fatalf("left = %v, want %v", left, tt.want)
			}
			if err := sdb.Delete(ctx, "e2ee", ids); err != nil {
				t.Fatal(err)
			}
			plain, err := sdb.Peek(ctx, "plain", 1000)
			if err != nil {
				t.Fatal(err)
			}
			var pids []int64
			for _, r := range plain {
				pids = append(pids, r.ID)
				if r.Kind == storage.KindDeviceListLeft {
					t.Fatalf("a service without org.matrix.msc3202 got device_lists.left")
				}
			}
			if err := sdb.Delete(ctx, "plain", pids); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDeviceListsInTransaction: changed and left rows of one transaction, once per user,
// the later row deciding.
func TestDeviceListsInTransaction(t *testing.T) {
	row := func(kind, user string) storage.Row {
		js, _ := json.Marshal(user)
		return storage.Row{Kind: kind, JSON: js}
	}
	ch, lf := storage.KindDeviceList, storage.KindDeviceListLeft
	for _, tt := range []struct {
		name          string
		rows          []storage.Row
		changed, left []string
	}{
		{"changed", []storage.Row{row(ch, "@a:x"), row(ch, "@b:x"), row(ch, "@a:x")}, []string{"@a:x", "@b:x"}, []string{}},
		{"left", []storage.Row{row(lf, "@a:x"), row(lf, "@a:x")}, []string{}, []string{"@a:x"}},
		{"changed then left", []storage.Row{row(ch, "@a:x"), row(lf, "@a:x")}, []string{}, []string{"@a:x"}},
		{"left then changed", []storage.Row{row(lf, "@a:x"), row(ch, "@a:x"), row(lf, "@b:x")}, []string{"@a:x"}, []string{"@b:x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			txn := newTransaction(tt.rows)
			if txn.DeviceLists == nil || !reflect.DeepEqual(txn.DeviceLists.Changed, tt.changed) || !reflect.DeepEqual(txn.DeviceLists.Left, tt.left) {
				t.Fatalf("device lists = %+v", txn.DeviceLists)
			}
			js, _ := json.Marshal(txn)
			var back map[string]json.RawMessage
			_ = json.Unmarshal(js, &back)
			if _, ok := back["org.matrix.msc3202.device_lists"]; !ok {
				t.Fatalf("no org.matrix.msc3202.device_lists in %s", js)
			}
		})
	}
}

// countingRoomServer fails every QueryRoomsForUser and counts them.
type countingRoomServer struct {
	fakeRoomServer
	calls int
}

func (f *countingRoomServer) QueryRoomsForUser(context.Context, string, []string) ([]string, error) {
	f.calls++
	return nil, errors.New("roomserver down")
}

// TestDeviceListsLeftRoomServerDown: once the roomserver fails a run's check, the run's
// other checks are skipped rather than each waiting for its own failure (a room the
// service's last user left has a check per member).
func TestDeviceListsLeftRoomServerDown(t *testing.T) {
	reg, err := api.ParseRegistration("e2ee.yaml", []byte(`{id: e2ee, url: "http://127.0.0.1:1/e2ee", as_token: a1,
  hs_token: h1, sender_localpart: e2eebot, org.matrix.msc3202: true, namespaces: {users: [{exclusive: true, regex: "@_e2ee_.*"}]}}`), testServer)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := api.NewRegistrations([]*api.Registration{reg})
	if err != nil {
		t.Fatal(err)
	}
	c := NewConsumer(nil, nil, regs)
	rs := &countingRoomServer{}
	c.SetRooms(rs)
	var checks []leaveCheck
	for _, u := range []string{"@a:hs.test", "@b:hs.test", "@c:hs.test"} {
		checks = append(checks, leaveCheck{reg: reg, user: u, key: "left:$e:" + u})
	}
	if rows := c.leftRows(context.Background(), checks, func(string) []string { return nil }); len(rows) != 0 {
		t.Fatalf("rows = %v", rows)
	}
	if rs.calls != 1 {
		t.Fatalf("roomserver asked %d times after failing, want 1", rs.calls)
	}
}
