package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// fakeRooms is arrow 21: user → joined rooms, room → joined members.
type fakeRooms struct {
	rooms   map[string][]string
	members map[string][]string
	fail    bool
}

func (f *fakeRooms) QueryRoomsForUser(_ context.Context, userID string, memberships []string) ([]string, error) {
	if f.fail {
		return nil, errors.New("roomserver down")
	}
	if !reflect.DeepEqual(memberships, []string{"join"}) {
		return nil, fmt.Errorf("asked for %v", memberships)
	}
	return f.rooms[userID], nil
}

func (f *fakeRooms) QueryCurrentState(_ context.Context, roomID string, _ []rsapi.StateTuple) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for _, m := range f.members[roomID] {
		out = append(out, json.RawMessage(fmt.Sprintf(`{"type":"m.room.member","state_key":%q,"content":{"membership":"join"}}`, m)))
	}
	out = append(out, json.RawMessage(`{"type":"m.room.member","state_key":"@gone:left.test","content":{"membership":"leave"}}`),
		json.RawMessage(`{"type":"m.room.name","state_key":"","content":{"name":"x"}}`))
	return out, nil
}

func topic7(c keyapi.OutputKeyChange) eventlog.Message {
	v, _ := json.Marshal(c)
	return eventlog.Message{Key: c.UserID, Value: v, Offset: c.StreamPos}
}

// TestDeviceListUpdates: topic 7 device changes of local users become
// m.device_list_update EDUs with stream_id and prev_id, sent to every other server with a
// member in one of the user's joined rooms (once each; never this server, nor servers
// whose users left); a change of the cross-signing keys themselves is an
// m.signing_key_update EDU to the same servers; a signature of a device is an
// m.device_list_update of it without keys; other signature changes, one-user changes and
// remote users' changes are not sent; a redelivered record queues nothing twice; a roomserver failure is an
// error (the log redelivers).
func TestDeviceListUpdates(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			db := openDB(t, dsn(t))
			tx := &fakeTransmitter{}
			q := NewQueues(db, tx, testOrigin, Backoff{Base: 20 * time.Millisecond, Max: 50 * time.Millisecond})
			alice := "@alice:" + testOrigin
			rooms := &fakeRooms{rooms: map[string][]string{alice: {"!a:origin.test", "!b:b.test"}},
				members: map[string][]string{"!a:origin.test": {alice, "@bob:b.test", "@carol:c.test"},
					"!b:b.test": {alice, "@bob2:b.test"}}}
			c := NewDeviceListConsumer(db, q, testOrigin, rooms)
			keys := json.RawMessage(`{"device_id":"DEV1","user_id":"` + alice + `"}`)
			master := json.RawMessage(`{"keys":{"ed25519:M":"M"},"usage":["master"],"user_id":"` + alice + `"}`)
			selfSigning := json.RawMessage(`{"keys":{"ed25519:S":"S"},"usage":["self_signing"],"user_id":"` + alice + `"}`)
			first := topic7(keyapi.OutputKeyChange{StreamPos: 3, UserID: alice, DeviceID: "DEV1", DeviceKeys: keys})
			msgs := []eventlog.Message{first,
				topic7(keyapi.OutputKeyChange{StreamPos: 4, PrevStreamPos: 3, UserID: alice, CrossSigning: true}),
				topic7(keyapi.OutputKeyChange{StreamPos: 5, PrevStreamPos: 4, UserID: alice, CrossSigning: true, Audience: []string{alice}}),
				topic7(keyapi.OutputKeyChange{StreamPos: 6, UserID: "@x:elsewhere.test", DeviceID: "X"}),
				topic7(keyapi.OutputKeyChange{StreamPos: 7, PrevStreamPos: 4, UserID: alice, DeviceID: "DEV1", Deleted: true}),
				topic7(keyapi.OutputKeyChange{StreamPos: 9, PrevStreamPos: 7, UserID: alice, CrossSigning: true, MasterKey: master, SelfSigningKey: selfSigning}),
				topic7(keyapi.OutputKeyChange{StreamPos: 10, UserID: "@x:elsewhere.test", CrossSigning: true, MasterKey: master}),
				topic7(keyapi.OutputKeyChange{StreamPos: 11, PrevStreamPos: 9, UserID: alice, DeviceID: "DEV1", CrossSigning: true}), // a signature of DEV1
				{Value: []byte(`not json`)}, first}
			if err := c.Handle(ctx, msgs); err != nil {
				t.Fatal(err)
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			want := []string{
				`m.device_list_update:{"user_id":"` + alice + `","device_id":"DEV1","stream_id":11,"prev_id":[9]}`,
				`m.device_list_update:{"user_id":"` + alice + `","device_id":"DEV1","stream_id":3,"prev_id":[],"keys":` + string(keys) + `}`,
				`m.device_list_update:{"user_id":"` + alice + `","device_id":"DEV1","stream_id":7,"prev_id":[4],"deleted":true}`,
				`m.signing_key_update:{"user_id":"` + alice + `","master_key":` + string(master) + `,"self_signing_key":` + string(selfSigning) + `}`,
			}
			for _, dest := range []string{"b.test", "c.test"} {
				waitFor(t, "the EDUs to "+dest, 5*time.Second, func() bool { return len(tx.delivered(dest)) >= 1 })
				var got []string
				for _, txn := range tx.delivered(dest) {
					got = append(got, txn...)
				}
				sort.Strings(got)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("to %s: %v, want %v", dest, got, want)
				}
			}
			for _, s := range tx.snapshot() {
				if s.dest != "b.test" && s.dest != "c.test" {
					t.Errorf("sent to %s", s.dest)
				}
			}
			rooms.fail = true
			if err := c.Handle(ctx, []eventlog.Message{topic7(keyapi.OutputKeyChange{StreamPos: 8, UserID: alice, DeviceID: "D2"})}); err == nil {
				t.Error("a roomserver failure was not returned")
			}
		})
	}
}
