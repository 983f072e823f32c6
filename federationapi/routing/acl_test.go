package routing

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// TestServerACLEnforced: once the room's m.room.server_acl denies remote.example, its
// requests about the room are 403 M_FORBIDDEN, its PDUs get an error each and its EDUs of
// the room are dropped; another room is not affected.
func TestServerACLEnforced(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	alice, bob := "@alice:"+us, "@bob:remote.example"
	cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	room := cr.RoomID
	other, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	joinRemote(t, e, room, bob)
	joinEv := lastEvent(t, e.rs, room, bob)
	stateURI := "/_matrix/federation/v1/state_ids/" + url.PathEscape(room) + "?event_id=" + url.QueryEscape(joinEv)
	if s := e.call(t, e.remote, "remote.example", "GET", stateURI, nil, nil); s != 200 {
		t.Fatalf("state_ids before the ACL: %d", s)
	}
	acl := "" // state key
	if _, err := e.rs.SendEvent(ctx, &rsapi.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.server_acl", StateKey: &acl,
		Content: json.RawMessage(`{"allow":["*"],"deny":["remote.*"]}`)}); err != nil {
		t.Fatal(err)
	}

	forbidden := []struct{ method, uri string }{
		{"GET", stateURI},
		{"GET", "/_matrix/federation/v1/state/" + url.PathEscape(room) + "?event_id=" + url.QueryEscape(joinEv)},
		{"GET", "/_matrix/federation/v1/event/" + url.PathEscape(joinEv)},
		{"POST", "/_matrix/federation/v1/get_missing_events/" + url.PathEscape(room)},
		{"GET", "/_matrix/federation/v1/make_join/" + url.PathEscape(room) + "/" + url.PathEscape("@carol:remote.example") + "?ver=10"},
		{"GET", "/_matrix/federation/v1/make_leave/" + url.PathEscape(room) + "/" + url.PathEscape(bob)},
		{"GET", "/_matrix/federation/v1/make_knock/" + url.PathEscape(room) + "/" + url.PathEscape(bob) + "?ver=10"},
		{"PUT", "/_matrix/federation/v2/send_join/" + url.PathEscape(room) + "/$x"},
		{"PUT", "/_matrix/federation/v2/send_leave/" + url.PathEscape(room) + "/$x"},
		{"PUT", "/_matrix/federation/v1/send_knock/" + url.PathEscape(room) + "/$x"},
		{"GET", "/_matrix/federation/v1/event_auth/" + url.PathEscape(room) + "/" + url.PathEscape(joinEv)},
		{"GET", "/_matrix/federation/v1/backfill/" + url.PathEscape(room) + "?v=" + url.QueryEscape(joinEv) + "&limit=5"},
	}
	for _, f := range forbidden {
		var body map[string]any
		if s := e.call(t, e.remote, "remote.example", f.method, f.uri, map[string]any{"latest_events": []string{joinEv}}, &body); s != 403 || body["errcode"] != "M_FORBIDDEN" {
			t.Errorf("%s %s: %d %v", f.method, f.uri, s, body)
		}
	}
	// Another room without an ACL still answers.
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/make_join/"+url.PathEscape(other.RoomID)+"/"+url.PathEscape(bob)+"?ver=10", nil, nil); s != 200 {
		t.Errorf("make_join in a room without an ACL: %d", s)
	}

	// /send: the PDU gets an error and is not stored.
	authIDs := func() []string { return messageAuth(t, e, room, bob) }
	msg := e.remoteEvent(t, event.Builder{Type: "m.room.message", Sender: bob, RoomID: room, Content: map[string]string{"msgtype": "m.text", "body": "hi"},
		PrevEvents: []string{joinEv}, AuthEvents: authIDs(), Depth: 100})
	var res struct {
		PDUs map[string]struct {
			Error string `json:"error"`
		} `json:"pdus"`
	}
	txn := map[string]any{"origin": "remote.example", "origin_server_ts": time.Now().UnixMilli(), "pdus": []json.RawMessage{msg.JSON()}}
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/acl1", txn, &res); s != 200 || !strings.Contains(res.PDUs[msg.EventID()].Error, "ACL") {
		t.Fatalf("send: %d %+v", s, res)
	}
	if _, err := e.rs.QueryEvent(ctx, msg.EventID()); err == nil {
		t.Fatal("a denied server's PDU was stored")
	}

	// EDUs: typing in the room dropped, in the other kept; a receipt loses the room.
	edus := []eduapi.FederationEDU{
		{Type: "m.typing", Content: json.RawMessage(`{"room_id":"` + room + `","user_id":"` + bob + `","typing":true}`)},
		{Type: "m.typing", Content: json.RawMessage(`{"room_id":"` + other.RoomID + `","user_id":"` + bob + `","typing":true}`)},
		{Type: "m.receipt", Content: json.RawMessage(`{"` + room + `":{},"` + other.RoomID + `":{}}`)},
		{Type: "m.receipt", Content: json.RawMessage(`{"` + room + `":{}}`)},
		{Type: "m.presence", Content: json.RawMessage(`{"push":[]}`)},
	}
	kept, err := aclFilterEDUs(ctx, e.rs, "remote.example", edus)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 3 || kept[0].Type != "m.typing" || !strings.Contains(string(kept[0].Content), other.RoomID) ||
		kept[1].Type != "m.receipt" || strings.Contains(string(kept[1].Content), room) || kept[2].Type != "m.presence" {
		t.Fatalf("EDUs kept: %+v", kept)
	}
	if kept, _ := aclFilterEDUs(ctx, e.rs, "stranger.example", edus); len(kept) != len(edus) {
		t.Fatalf("EDUs of an allowed server: %d kept", len(kept))
	}
}
