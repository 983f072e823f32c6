package routing

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// authFetcher answers /event_auth from a fixed list and records the requests.
type authFetcher struct {
	fakeFetcher
	chains map[string][]json.RawMessage
	asked  []string
}

func (f *authFetcher) EventAuth(_ context.Context, _, _, eventID string) (federation.EventAuthResponse, error) {
	f.asked = append(f.asked, eventID)
	return federation.EventAuthResponse{AuthChain: f.chains[eventID]}, nil
}

// TestSendFetchesAuthChain: a PDU whose prev event is held but one of whose auth events
// is not (bob's newer membership) makes /send fetch its auth chain from the origin; the
// event is then accepted and the missing auth event stored.
func TestSendFetchesAuthChain(t *testing.T) {
	e := newRoomEnv(t)
	af := &authFetcher{fakeFetcher: fakeFetcher{events: map[string]json.RawMessage{}}, chains: map[string][]json.RawMessage{}}
	root := mux.NewRouter()
	Setup(root, root, Config{ServerName: us, RoomServer: e.rs, Fetcher: af}, e.keys)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	e.srv = srv
	ctx := context.Background()
	alice, bob := "@alice:"+us, "@bob:remote.example"
	cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	room := cr.RoomID
	joinRemote(t, e, room, bob)
	join1 := lastEvent(t, e.rs, room, bob)
	stateID := func(typ, key string) string {
		evs, err := e.rs.QueryCurrentState(ctx, room, []rsapi.StateTuple{{EventType: typ, StateKey: key}})
		if err != nil || len(evs) != 1 {
			t.Fatalf("state %s: %v", typ, err)
		}
		p, _ := event.NewEventFromTrustedJSON(evs[0], "10")
		return p.EventID()
	}
	create, pl, jr := stateID("m.room.create", ""), stateID("m.room.power_levels", ""), stateID("m.room.join_rules", "")
	// bob's displayname change, which this server never received.
	join2 := e.remoteEvent(t, event.Builder{Type: "m.room.member", StateKey: &bob, Sender: bob, RoomID: room,
		Content: map[string]string{"membership": "join", "displayname": "Bob"}, PrevEvents: []string{join1},
		AuthEvents: []string{create, pl, jr, join1}, Depth: 50})
	// A message on top of what this server holds, citing join2 as an auth event.
	msg := e.remoteEvent(t, event.Builder{Type: "m.room.message", Sender: bob, RoomID: room, Content: map[string]string{"msgtype": "m.text", "body": "hi"},
		PrevEvents: []string{join1}, AuthEvents: []string{create, pl, join2.EventID()}, Depth: 51})
	createEv, _ := e.rs.QueryEvent(ctx, create)
	af.chains[msg.EventID()] = []json.RawMessage{createEv.Event, join2.JSON(), json.RawMessage(`{"not":"an event"}`)}
	var res struct {
		PDUs map[string]struct {
			Error string `json:"error"`
		} `json:"pdus"`
	}
	txn := map[string]any{"origin": "remote.example", "origin_server_ts": time.Now().UnixMilli(), "pdus": []json.RawMessage{msg.JSON()}}
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/auth1", txn, &res); s != 200 {
		t.Fatalf("send: %d", s)
	}
	if r, ok := res.PDUs[msg.EventID()]; !ok || r.Error != "" {
		t.Fatalf("result: %+v", res.PDUs)
	}
	if len(af.asked) != 1 || af.asked[0] != msg.EventID() {
		t.Fatalf("event_auth requests: %v", af.asked)
	}
	if _, err := e.rs.QueryEvent(ctx, msg.EventID()); err != nil {
		t.Fatalf("message not stored: %v", err)
	}

	// Without an answer from the origin the event stays refused, with its reason.
	msg2 := e.remoteEvent(t, event.Builder{Type: "m.room.message", Sender: bob, RoomID: room, Content: map[string]string{"msgtype": "m.text", "body": "again"},
		PrevEvents: []string{msg.EventID()}, AuthEvents: []string{create, pl, "$unknown"}, Depth: 52})
	txn["pdus"] = []json.RawMessage{msg2.JSON()}
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/auth2", txn, &res); s != 200 || res.PDUs[msg2.EventID()].Error == "" {
		t.Fatalf("send with an auth event nobody has: %d %+v", s, res.PDUs)
	}
}
