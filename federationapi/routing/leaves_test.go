package routing

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// TestLeaveEndpoints: make_leave only for the origin's own users and only when the auth
// rules allow the leave; send_leave v1 and v2 store it; a join sent to send_leave is refused.
func TestLeaveEndpoints(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	alice := "@alice:" + us
	cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	room := cr.RoomID
	var tmplResp struct {
		RoomVersion string          `json:"room_version"`
		Event       json.RawMessage `json:"event"`
		ErrCode     string          `json:"errcode"`
	}
	// member builds and signs, as remote.example, the event of a make_join/make_leave answer.
	member := func(user, kind string) *event.Event {
		t.Helper()
		uri := "/_matrix/federation/v1/make_" + kind + "/" + room + "/" + user
		if kind == "join" {
			uri += "?ver=10"
		}
		tmplResp.ErrCode = ""
		if s := e.call(t, e.remote, "remote.example", "GET", uri, nil, &tmplResp); s != 200 || tmplResp.RoomVersion != "10" {
			t.Fatalf("make_%s for %s: %d %+v", kind, user, s, tmplResp)
		}
		var tmpl struct {
			Content    map[string]any `json:"content"`
			PrevEvents []string       `json:"prev_events"`
			AuthEvents []string       `json:"auth_events"`
			Depth      int64          `json:"depth"`
		}
		_ = json.Unmarshal(tmplResp.Event, &tmpl)
		if tmpl.Content["membership"] != kind {
			t.Fatalf("make_%s template membership %v", kind, tmpl.Content["membership"])
		}
		return e.remoteEvent(t, event.Builder{Type: "m.room.member", StateKey: &user, Sender: user, RoomID: room,
			Content: map[string]string{"membership": kind}, PrevEvents: tmpl.PrevEvents, AuthEvents: tmpl.AuthEvents, Depth: tmpl.Depth})
	}
	membership := func(user string) string {
		t.Helper()
		m, _, err := e.rs.QueryMembership(ctx, room, user)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	bob, carol := "@bob:remote.example", "@carol:remote.example"
	for _, u := range []string{bob, carol} {
		ev := member(u, "join")
		if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v2/send_join/"+room+"/"+ev.EventID(), json.RawMessage(ev.JSON()), nil); s != 200 {
			t.Fatalf("send_join %s: %d", u, s)
		}
	}

	// Refusals.
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/make_leave/"+room+"/@eve:stranger.example", nil, &tmplResp); s != 403 || tmplResp.ErrCode != "M_FORBIDDEN" {
		t.Fatalf("make_leave for another server's user: %d %s", s, tmplResp.ErrCode)
	}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/make_leave/"+room+"/@dave:remote.example", nil, &tmplResp); s != 403 || tmplResp.ErrCode != "M_FORBIDDEN" {
		t.Fatalf("make_leave for a user never in the room: %d %s", s, tmplResp.ErrCode)
	}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/make_leave/!nope:"+us+"/"+bob, nil, &tmplResp); s != 404 {
		t.Fatalf("make_leave for an unknown room: %d", s)
	}
	join := member(bob, "join") // a join where a leave belongs
	var errResp struct {
		ErrCode string `json:"errcode"`
	}
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v2/send_leave/"+room+"/"+join.EventID(), json.RawMessage(join.JSON()), &errResp); s != 400 || errResp.ErrCode != "M_BAD_JSON" {
		t.Fatalf("send_leave with a join: %d %s", s, errResp.ErrCode)
	}
	leave := member(bob, "leave")
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v2/send_leave/"+room+"/$wrong", json.RawMessage(leave.JSON()), &errResp); s != 400 {
		t.Fatalf("send_leave with another path ID: %d", s)
	}
	if s := e.call(t, e.stranger, "stranger.example", "PUT", "/_matrix/federation/v2/send_leave/"+room+"/"+leave.EventID(), json.RawMessage(leave.JSON()), &errResp); s != 403 {
		t.Fatalf("send_leave of another server's user: %d", s)
	}

	// v2 answers {}, v1 [200, {}].
	var v2 map[string]any
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v2/send_leave/"+room+"/"+leave.EventID(), json.RawMessage(leave.JSON()), &v2); s != 200 || len(v2) != 0 {
		t.Fatalf("send_leave v2: %d %v", s, v2)
	}
	if m := membership(bob); m != "leave" {
		t.Fatalf("bob after send_leave: %q", m)
	}
	leave = member(carol, "leave")
	var v1 []json.RawMessage
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send_leave/"+room+"/"+leave.EventID(), json.RawMessage(leave.JSON()), &v1); s != 200 ||
		len(v1) != 2 || string(v1[0]) != "200" || string(v1[1]) != "{}" {
		t.Fatalf("send_leave v1: %d %s", s, v1)
	}
	if m := membership(carol); m != "leave" {
		t.Fatalf("carol after send_leave v1: %q", m)
	}
}

// TestInviteEndpoint: invite v2 of a local user to a room this server does not hold is
// stored (membership invite) and answered with our signature added; invites for other
// servers' users, from other senders, with a bad signature, another path ID or an unknown
// room version are refused.
func TestInviteEndpoint(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	room, dan := "!elsewhere:remote.example", "@dan:"+us
	inviteOf := func(target string) *event.Event {
		return e.remoteEvent(t, event.Builder{Type: "m.room.member", StateKey: &target, Sender: "@bob:remote.example", RoomID: room,
			Content: map[string]string{"membership": "invite"}, PrevEvents: []string{"$prev"}, AuthEvents: []string{"$create"}, Depth: 5})
	}
	body := func(ev *event.Event, version string) map[string]any {
		return map[string]any{"room_version": version, "event": json.RawMessage(ev.JSON()),
			"invite_room_state": []map[string]any{{"type": "m.room.name", "state_key": "", "sender": "@bob:remote.example", "content": map[string]string{"name": "Elsewhere"}}}}
	}
	var errResp struct {
		ErrCode string `json:"errcode"`
	}
	ev := inviteOf(dan)
	foreign := inviteOf("@dan:remote.example") // built once: its ID depends on its timestamp
	path := "/_matrix/federation/v2/invite/" + room + "/" + ev.EventID()
	for _, tc := range []struct {
		name    string
		origin  string
		path    string
		body    any
		status  int
		errcode string
	}{
		{name: "unknown room version", origin: "remote.example", path: path, body: body(ev, "999"), status: 400, errcode: "M_INCOMPATIBLE_ROOM_VERSION"},
		{name: "another path ID", origin: "remote.example", path: "/_matrix/federation/v2/invite/" + room + "/$other", body: body(ev, "10"), status: 400, errcode: "M_BAD_JSON"},
		{name: "not our user", origin: "remote.example", path: "/_matrix/federation/v2/invite/" + room + "/" + foreign.EventID(),
			body: body(foreign, "10"), status: 403, errcode: "M_FORBIDDEN"},
		{name: "no event", origin: "remote.example", path: path, body: map[string]any{"room_version": "10"}, status: 400, errcode: "M_BAD_JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errResp.ErrCode = ""
			if s := e.call(t, e.remote, tc.origin, "PUT", tc.path, tc.body, &errResp); s != tc.status || errResp.ErrCode != tc.errcode {
				t.Fatalf("%d %s, want %d %s", s, errResp.ErrCode, tc.status, tc.errcode)
			}
		})
	}
	// From a server that is not the sender's.
	if s := e.call(t, e.stranger, "stranger.example", "PUT", path, body(ev, "10"), &errResp); s != 403 {
		t.Fatalf("invite relayed by another server: %d", s)
	}
	if m, _, _ := e.rs.QueryMembership(ctx, room, dan); m != "" {
		t.Fatalf("a refused invite was stored: %q", m)
	}

	var answer struct {
		Event json.RawMessage `json:"event"`
	}
	if s := e.call(t, e.remote, "remote.example", "PUT", path, body(ev, "10"), &answer); s != 200 {
		t.Fatalf("invite v2: %d", s)
	}
	signed, err := event.NewEventFromUntrustedJSON(answer.Event, "10")
	if err != nil || signed.EventID() != ev.EventID() {
		t.Fatalf("answer: %v %s", err, answer.Event)
	}
	if _, ok := signed.Signatures()[us]; !ok {
		t.Fatalf("the answer lacks our signature: %v", signed.Signatures())
	}
	if _, ok := signed.Signatures()["remote.example"]; !ok {
		t.Fatal("the answer lost the inviter's signature")
	}
	if m, id, err := e.rs.QueryMembership(ctx, room, dan); err != nil || m != "invite" || id != ev.EventID() {
		t.Fatalf("dan: %q %q %v", m, id, err)
	}
	// The same invite again (a retried request): the same answer.
	if s := e.call(t, e.remote, "remote.example", "PUT", path, body(ev, "10"), &answer); s != 200 {
		t.Fatalf("repeated invite: %d", s)
	}
}
