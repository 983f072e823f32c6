package routing

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// TestHierarchyEndpoint: GET /hierarchy/{roomId} answers the space and its children as the
// origin may see them, with the spec's errors; the space's server ACL is enforced.
func TestHierarchyEndpoint(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	alice := "@alice:" + us
	mk := func(preset string, creation json.RawMessage) string {
		t.Helper()
		cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: preset, CreationContent: creation})
		if err != nil {
			t.Fatal(err)
		}
		return cr.RoomID
	}
	state := func(room, typ, key, content string) {
		t.Helper()
		if _, err := e.rs.SendEvent(ctx, &rsapi.SendEventRequest{RoomID: room, Sender: alice, Type: typ, StateKey: &key,
			Content: json.RawMessage(content)}); err != nil {
			t.Fatal(err)
		}
	}
	space := mk("public_chat", json.RawMessage(`{"type":"m.space"}`))
	open, closed := mk("public_chat", nil), mk("private_chat", nil)
	state(space, "m.space.child", open, `{"via":["`+us+`"],"suggested":true}`)
	state(space, "m.space.child", closed, `{"via":["`+us+`"]}`)
	state(space, "m.space.child", "!elsewhere:other.example", `{"via":["other.example"]}`)

	type answer struct {
		Room struct {
			RoomID        string            `json:"room_id"`
			RoomType      string            `json:"room_type"`
			ChildrenState []json.RawMessage `json:"children_state"`
		} `json:"room"`
		Children []struct {
			RoomID string `json:"room_id"`
		} `json:"children"`
		Inaccessible []string `json:"inaccessible_children"`
		ErrCode      string   `json:"errcode"`
	}
	path := func(room string) string { return "/_matrix/federation/v1/hierarchy/" + url.PathEscape(room) }
	var a answer
	if s := e.call(t, e.remote, "remote.example", "GET", path(space), nil, &a); s != 200 {
		t.Fatalf("hierarchy: %d %+v", s, a)
	}
	if a.Room.RoomID != space || a.Room.RoomType != "m.space" || len(a.Room.ChildrenState) != 3 ||
		len(a.Children) != 1 || a.Children[0].RoomID != open || len(a.Inaccessible) != 1 || a.Inaccessible[0] != closed {
		t.Fatalf("hierarchy answer %+v", a)
	}
	a = answer{}
	if s := e.call(t, e.remote, "remote.example", "GET", path(space)+"?suggested_only=true", nil, &a); s != 200 ||
		len(a.Room.ChildrenState) != 1 || len(a.Children) != 1 || len(a.Inaccessible) != 0 {
		t.Fatalf("suggested_only: %d %+v", s, a)
	}

	tests := []struct {
		name, uri string
		status    int
		errcode   string
	}{
		{"private room", path(closed), 404, "M_NOT_FOUND"},
		{"unknown room", path("!nope:" + us), 404, "M_NOT_FOUND"},
		{"bad suggested_only", path(space) + "?suggested_only=1", 400, "M_INVALID_PARAM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got answer
			if s := e.call(t, e.remote, "remote.example", "GET", tt.uri, nil, &got); s != tt.status || got.ErrCode != tt.errcode {
				t.Fatalf("%d %s, want %d %s", s, got.ErrCode, tt.status, tt.errcode)
			}
		})
	}

	// The space's server ACL denies remote.example: 403 before the roomserver is asked.
	state(space, "m.room.server_acl", "", `{"allow":["*"],"deny":["remote.example"]}`)
	var denied answer
	if s := e.call(t, e.remote, "remote.example", "GET", path(space), nil, &denied); s != 403 || denied.ErrCode != "M_FORBIDDEN" {
		t.Fatalf("denied by the ACL: %d %+v", s, denied)
	}
}
