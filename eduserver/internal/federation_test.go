package internal

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// fakeRooms is the part of the roomserver the eduserver asks (arrow 19): members by room.
type fakeRooms struct {
	rsapi.RoomserverAPI // other methods: not called
	joined              map[string][]string
	stateCalls          int
}

func (r *fakeRooms) QueryCurrentState(_ context.Context, roomID string, tuples []rsapi.StateTuple) ([]json.RawMessage, error) {
	r.stateCalls++
	members, ok := r.joined[roomID]
	if !ok {
		return nil, httputil.NotFound("no room")
	}
	var out []json.RawMessage
	out = append(out, json.RawMessage(`{"type":"m.room.create","state_key":"","content":{}}`))
	for _, m := range members {
		ev, _ := json.Marshal(map[string]any{"type": "m.room.member", "state_key": m, "content": map[string]string{"membership": "join"}})
		out = append(out, ev)
	}
	ev, _ := json.Marshal(map[string]any{"type": "m.room.member", "state_key": "@gone:left.test", "content": map[string]string{"membership": "leave"}})
	return append(out, ev), nil
}

func (r *fakeRooms) QueryMembership(_ context.Context, roomID, userID string) (string, string, error) {
	members, ok := r.joined[roomID]
	if !ok {
		return "", "", httputil.NotFound("no room")
	}
	for _, m := range members {
		if m == userID {
			return "join", "$m", nil
		}
	}
	return "leave", "$m", nil
}

func (r *fakeRooms) QueryRoomsForUser(_ context.Context, userID string, _ []string) ([]string, error) {
	var out []string
	for room, members := range r.joined {
		for _, m := range members {
			if m == userID {
				out = append(out, room)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

type fakeDevices map[string][]string

func (f fakeDevices) ListDevices(_ context.Context, userID string) ([]userapi.Device, error) {
	var out []userapi.Device
	for _, d := range f[userID] {
		out = append(out, userapi.Device{UserID: userID, DeviceID: d})
	}
	return out, nil
}

const (
	fedAlice = "@alice:edu.test"
	fedBob   = "@bob:remote.test"
	fedCarol = "@carol:other.test"
)

func fedFixture(t *testing.T, f *fixture) *fakeRooms {
	rooms := &fakeRooms{joined: map[string][]string{room: {fedAlice, fedBob, fedCarol, "@dan:remote.test"}}}
	f.e.Fed = Federation{FedTopic: testFedTopic, RoomServer: rooms, Devices: fakeDevices{fedAlice: {"A1", "A2"}}}
	return rooms
}

// TestFederationOut: a local user's typing, public receipt, presence and to-device
// messages for other servers' users go to topic 5 for the servers concerned; private
// receipts and other servers' users' EDUs do not.
func TestFederationOut(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		rooms := fedFixture(t, f)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		both := []string{"other.test", "remote.test"}
		must(f.e.SetTyping(f.ctx, &api.SetTypingRequest{RoomID: room, UserID: fedAlice, Typing: true}))
		must(f.e.SetTyping(f.ctx, &api.SetTypingRequest{RoomID: room, UserID: fedBob, Typing: true})) // remote: not sent back
		must(f.e.SetReceipt(f.ctx, &api.SetReceiptRequest{RoomID: room, UserID: fedAlice, Type: api.ReceiptRead, EventID: "$e1", ThreadID: "main"}))
		must(f.e.SetReceipt(f.ctx, &api.SetReceiptRequest{RoomID: room, UserID: fedAlice, Type: api.ReceiptReadPrivate, EventID: "$e2"}))
		must(f.e.SendToDevice(f.ctx, &api.SendToDeviceRequest{Sender: fedAlice, SenderDevice: "A1", TxnID: "t1", Type: "m.test",
			Messages: map[string]map[string]json.RawMessage{fedBob: {"B1": json.RawMessage(`{"n":1}`)}, "@dan:remote.test": {"*": json.RawMessage(`{"n":2}`)},
				fedCarol: {"C1": json.RawMessage(`{"n":3}`)}, fedAlice: {"A2": json.RawMessage(`{"n":4}`)}}}))
		must(f.e.SetPresence(f.ctx, &api.SetPresenceRequest{UserID: fedAlice, Presence: "online"}))
		if rooms.stateCalls != 1 {
			t.Fatalf("room servers read %d times, want once (remembered)", rooms.stateCalls)
		}

		recs, keys := f.fedRecords()
		type got struct {
			key, typ string
			dests    []string
			content  string
		}
		var gots []got
		for i, r := range recs {
			if r.ID != int64(i+1) {
				t.Fatalf("record %d has ID %d", i, r.ID)
			}
			var c map[string]any
			_ = json.Unmarshal(r.EDU.Content, &c)
			if r.EDU.Type == api.EDUDirectToDevice {
				if id, _ := c["message_id"].(string); len(id) != 32 {
					t.Fatalf("message_id %v", c["message_id"])
				}
				delete(c, "message_id")
			}
			if r.EDU.Type == api.EDUPresence {
				push := c["push"].([]any)[0].(map[string]any)
				delete(push, "last_active_ago")
			}
			b, _ := json.Marshal(c)
			gots = append(gots, got{keys[i], r.EDU.Type, r.Destinations, string(b)})
		}
		want := []got{
			{room, api.EDUTyping, both, `{"room_id":"` + room + `","typing":true,"user_id":"` + fedAlice + `"}`},
			{room, api.EDUReceipt, both, `{"` + room + `":{"m.read":{"` + fedAlice + `":{"data":{"thread_id":"main","ts":1700000000000},"event_ids":["$e1"]}}}}`},
			{"other.test", api.EDUDirectToDevice, []string{"other.test"}, `{"messages":{"` + fedCarol + `":{"C1":{"n":3}}},"sender":"` + fedAlice + `","type":"m.test"}`},
			{"remote.test", api.EDUDirectToDevice, []string{"remote.test"},
				`{"messages":{"@bob:remote.test":{"B1":{"n":1}},"@dan:remote.test":{"*":{"n":2}}},"sender":"` + fedAlice + `","type":"m.test"}`},
			{fedAlice, api.EDUPresence, both, `{"push":[{"currently_active":true,"presence":"online","user_id":"` + fedAlice + `"}]}`},
		}
		if !reflect.DeepEqual(gots, want) {
			t.Fatalf("topic 5:\n got %+v\nwant %+v", gots, want)
		}
	})
}

// TestFederationIn: arrow 5 takes only what a server may say about its own users, in rooms
// they are joined to, and delivers it on topic 3; to-device messages once per message_id,
// "*" to every device.
func TestFederationIn(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		fedFixture(t, f)
		edu := func(typ string, content any) api.FederationEDU {
			b, _ := json.Marshal(content)
			return api.FederationEDU{Type: typ, Content: b}
		}
		in := []api.FederationEDU{
			edu(api.EDUTyping, map[string]any{"room_id": room, "user_id": fedBob, "typing": true}),
			edu(api.EDUTyping, map[string]any{"room_id": room, "user_id": fedCarol, "typing": true}),            // not the origin's user
			edu(api.EDUTyping, map[string]any{"room_id": "!other:edu.test", "user_id": fedBob, "typing": true}), // unknown room
			edu(api.EDUTyping, map[string]any{"room_id": room, "user_id": "@eve:remote.test", "typing": true}),  // not joined
			edu(api.EDUReceipt, map[string]any{room: map[string]any{"m.read": map[string]any{
				fedBob:   map[string]any{"event_ids": []string{"$r1"}, "data": map[string]any{"ts": 42}},
				fedCarol: map[string]any{"event_ids": []string{"$r2"}, "data": map[string]any{"ts": 43}}}}}),
			edu(api.EDUDirectToDevice, map[string]any{"sender": fedBob, "type": "m.test", "message_id": "m1",
				"messages": map[string]any{fedAlice: map[string]any{"*": map[string]any{"n": 1}}, "@x:elsewhere.test": map[string]any{"D": map[string]any{}}}}),
			edu(api.EDUDirectToDevice, map[string]any{"sender": fedBob, "type": "m.test", "message_id": "m1", // repeated
				"messages": map[string]any{fedAlice: map[string]any{"*": map[string]any{"n": 1}}}}),
			edu(api.EDUDirectToDevice, map[string]any{"sender": fedCarol, "type": "m.test", "message_id": "m2",
				"messages": map[string]any{fedAlice: map[string]any{"A1": map[string]any{"n": 2}}}}),
			edu(api.EDUDirectToDevice, map[string]any{"sender": fedBob, "type": "m.test", "message_id": "m3", // too large: dropped
				"messages": map[string]any{fedAlice: map[string]any{"A1": map[string]any{"x": strings.Repeat("a", api.MaxToDeviceMessageSize)}}}}),
			edu(api.EDUPresence, map[string]any{"push": []any{
				map[string]any{"user_id": fedBob, "presence": "online", "last_active_ago": 5000, "currently_active": true},
				map[string]any{"user_id": fedCarol, "presence": "online"},
				map[string]any{"user_id": "@dan:remote.test", "presence": "busy"}}}),
			{Type: "m.device_list_update", Content: json.RawMessage(`{}`)},
			{Type: api.EDUTyping, Content: json.RawMessage(`[1]`)},
		}
		if err := f.e.InputFederationEDUs(f.ctx, &api.InputFederationEDUsRequest{Origin: "remote.test", EDUs: in}); err != nil {
			t.Fatal(err)
		}
		recs, _ := f.records()
		var got []string
		for _, r := range recs {
			switch r.Kind {
			case api.OutputTypingKind:
				got = append(got, "typing "+r.Typing.Typers[0].UserID)
			case api.OutputReceiptKind:
				got = append(got, "receipt "+r.Receipt.UserID+" "+r.Receipt.EventID)
				if r.Receipt.TS != 42 {
					t.Fatalf("receipt ts %d", r.Receipt.TS)
				}
			case api.OutputToDeviceKind:
				got = append(got, "to_device "+r.ToDevice.Sender+" "+r.ToDevice.UserID+"/"+r.ToDevice.DeviceID)
			case api.OutputPresenceKind:
				got = append(got, "presence "+r.Presence.UserID+" "+r.Presence.Presence)
				if ago := f.now.UnixMilli() - r.Presence.LastActiveTS; ago != 5000 {
					t.Fatalf("last active %d ms ago", ago)
				}
			}
		}
		want := []string{"typing " + fedBob, "receipt " + fedBob + " $r1", "to_device " + fedBob + " " + fedAlice + "/A1",
			"to_device " + fedBob + " " + fedAlice + "/A2", "presence " + fedBob + " online"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("topic 3:\n got %v\nwant %v", got, want)
		}
		if fed, _ := f.fedRecords(); len(fed) != 0 {
			t.Fatalf("other servers' EDUs went out again: %+v", fed)
		}
		if got := errcodeOf(f.e.InputFederationEDUs(f.ctx, &api.InputFederationEDUsRequest{})); got != "M_MISSING_PARAM" {
			t.Fatalf("no origin: %q", got)
		}
	})
}
