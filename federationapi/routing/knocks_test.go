package routing

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// TestKnockEndpoints: remote.example's bob knocks on a room of us.example whose join rule
// is knock (make_knock, send_knock): his membership becomes knock and the answer holds the
// room's stripped state. Rooms that may not be knocked on (public, or of a version without
// knocking), foreign users, missing or unsupported versions and events that are not the
// sender's knock get the spec's errors.
func TestKnockEndpoints(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	alice, bob := "@alice:"+us, "@bob:remote.example"
	room := func(version string, joinRule string) string {
		t.Helper()
		cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: version, Name: "knock here"})
		if err != nil {
			t.Fatal(err)
		}
		if joinRule != "" {
			empty := ""
			if _, err := e.rs.SendEvent(ctx, &rsapi.SendEventRequest{RoomID: cr.RoomID, Sender: alice, Type: "m.room.join_rules",
				StateKey: &empty, Content: json.RawMessage(`{"join_rule":"` + joinRule + `"}`)}); err != nil {
				t.Fatal(err)
			}
		}
		return cr.RoomID
	}
	knockRoom, publicRoom, oldRoom := room("10", "knock"), room("10", ""), room("6", "knock")
	makeKnock := func(room, user, query string) (int, map[string]json.RawMessage) {
		t.Helper()
		var out map[string]json.RawMessage
		s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/make_knock/"+room+"/"+url.PathEscape(user)+query, nil, &out)
		return s, out
	}
	for _, tc := range []struct {
		name, room, user, query string
		status                  int
		code                    string
	}{
		{"a public room", publicRoom, bob, "?ver=10", 403, "M_FORBIDDEN"},
		{"a version without knocking", oldRoom, bob, "?ver=6", 403, "M_FORBIDDEN"},
		{"another server's user", knockRoom, "@eve:stranger.example", "?ver=10", 403, "M_FORBIDDEN"},
		{"no ver", knockRoom, bob, "", 400, "M_MISSING_PARAM"},
		{"an unsupported version", knockRoom, bob, "?ver=9", 400, "M_INCOMPATIBLE_ROOM_VERSION"},
		{"an unknown room", "!nowhere:" + us, bob, "?ver=10", 404, "M_NOT_FOUND"},
	} {
		s, out := makeKnock(tc.room, tc.user, tc.query)
		var code string
		_ = json.Unmarshal(out["errcode"], &code)
		if s != tc.status || code != tc.code {
			t.Fatalf("make_knock, %s: %d %s, want %d %s", tc.name, s, code, tc.status, tc.code)
		}
	}

	s, mk := makeKnock(knockRoom, bob, "?ver=9&ver=10")
	var version string
	_ = json.Unmarshal(mk["room_version"], &version)
	if s != 200 || version != "10" {
		t.Fatalf("make_knock: %d %s", s, mk)
	}
	var tmpl struct {
		Content    map[string]any `json:"content"`
		PrevEvents []string       `json:"prev_events"`
		AuthEvents []string       `json:"auth_events"`
		Depth      int64          `json:"depth"`
	}
	if err := json.Unmarshal(mk["event"], &tmpl); err != nil || tmpl.Content["membership"] != "knock" {
		t.Fatalf("template %s: %v", mk["event"], err)
	}
	build := func(membership string) *event.Event {
		return e.remoteEvent(t, event.Builder{Type: "m.room.member", StateKey: &bob, Sender: bob, RoomID: knockRoom,
			Content: map[string]string{"membership": membership, "reason": "let me in"}, PrevEvents: tmpl.PrevEvents,
			AuthEvents: tmpl.AuthEvents, Depth: tmpl.Depth})
	}
	sendKnock := func(ev *event.Event, out any) int {
		return e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send_knock/"+knockRoom+"/"+ev.EventID(),
			json.RawMessage(ev.JSON()), out)
	}
	var bad map[string]any
	if s := sendKnock(build("join"), &bad); s != 400 || bad["errcode"] != "M_BAD_JSON" {
		t.Fatalf("send_knock with a join: %d %v", s, bad)
	}
	knock := build("knock")
	var answer struct {
		KnockRoomState []map[string]any `json:"knock_room_state"`
	}
	if s := sendKnock(knock, &answer); s != 200 {
		t.Fatalf("send_knock: %d", s)
	}
	types := map[string]bool{}
	for _, st := range answer.KnockRoomState {
		types[st["type"].(string)] = true
		if st["event_id"] != nil || st["signatures"] != nil || st["sender"] == nil {
			t.Fatalf("knock_room_state not stripped: %v", st)
		}
	}
	if !types["m.room.create"] || !types["m.room.join_rules"] || !types["m.room.name"] {
		t.Fatalf("knock_room_state: %v", answer.KnockRoomState)
	}
	if m, id, err := e.rs.QueryMembership(ctx, knockRoom, bob); err != nil || m != "knock" || id != knock.EventID() {
		t.Fatalf("bob's membership: %q %q %v", m, id, err)
	}
}
