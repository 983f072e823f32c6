package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestCanonicalAlias: PUT of m.room.canonical_alias (arrow 4) checks the aliases it adds —
// 400 M_INVALID_PARAM for malformed content or an alias that is not an alias, 400
// M_BAD_ALIAS for one of this server's aliases that is unknown or points at another room —
// and never the aliases it keeps or removes; a sender without the power gets 403 first.
func TestCanonicalAlias(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob := user("alice"), user("bob")
		room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Preset: "public_chat"})
		other := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Preset: "public_chat"})
		if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob}); err != nil {
			t.Fatal(err)
		}
		here, here2, gone, elsewhere := "#here:"+testServer, "#here2:"+testServer, "#gone:"+testServer, "#elsewhere:"+testServer
		for alias, r := range map[string]string{here: room, here2: room, elsewhere: other} {
			if err := rs.SetRoomAlias(ctx, alias, r, alice); err != nil {
				t.Fatal(err)
			}
		}
		// Bob's alias: when he deletes it, he may not send m.room.canonical_alias, so the
		// room's event keeps listing it.
		if err := rs.SetRoomAlias(ctx, gone, room, bob); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, sender, content, wantErr string
			removeBefore                   string // an alias deleted before the request
		}{
			{name: "alias not a string", content: `{"alias":5}`, wantErr: "M_INVALID_PARAM"},
			{name: "alt_aliases not a list", content: `{"alt_aliases":"` + here + `"}`, wantErr: "M_INVALID_PARAM"},
			{name: "alt_aliases not strings", content: `{"alt_aliases":["` + here + `",1]}`, wantErr: "M_INVALID_PARAM"},
			{name: "alias not an alias", content: `{"alias":"here"}`, wantErr: "M_INVALID_PARAM"},
			{name: "alias without server", content: `{"alias":"#here"}`, wantErr: "M_INVALID_PARAM"},
			{name: "alt alias not an alias", content: `{"alt_aliases":["!room:` + testServer + `"]}`, wantErr: "M_INVALID_PARAM"},
			{name: "unknown alias", content: `{"alias":"#nope:` + testServer + `"}`, wantErr: "M_BAD_ALIAS"},
			{name: "unknown alt alias", content: `{"alt_aliases":["#nope:` + testServer + `"]}`, wantErr: "M_BAD_ALIAS"},
			{name: "alias of another room", content: `{"alias":"` + elsewhere + `"}`, wantErr: "M_BAD_ALIAS"},
			{name: "alt alias of another room", content: `{"alias":"` + here + `","alt_aliases":["` + elsewhere + `"]}`, wantErr: "M_BAD_ALIAS"},
			{name: "without power", sender: bob, content: `{"alias":"#nope:` + testServer + `"}`, wantErr: "M_FORBIDDEN"},
			{name: "valid", content: `{"alias":"` + here + `","alt_aliases":["` + gone + `"]}`},
			{name: "null fields", content: `{"alias":null,"alt_aliases":null}`},
			{name: "valid again", content: `{"alias":"` + here + `","alt_aliases":["` + gone + `","#remote:other.example"]}`},
			// #gone is deleted from the directory but still listed: keeping it is allowed,
			// adding it anew (as the main alias) is not.
			{name: "kept deleted alias", removeBefore: gone, content: `{"alias":"` + here + `","alt_aliases":["` + gone + `","` + here2 + `"]}`},
			{name: "added deleted alias", content: `{"alias":"` + gone + `","alt_aliases":["` + gone + `"]}`, wantErr: "M_BAD_ALIAS"},
			{name: "removing all", content: `{}`},
		}
		for _, tc := range tests {
			if tc.removeBefore != "" {
				if err := rs.RemoveRoomAlias(ctx, tc.removeBefore, bob); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
			}
			sender := tc.sender
			if sender == "" {
				sender = alice
			}
			before := eventCount(t, rs)
			_, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: sender, Type: "m.room.canonical_alias",
				StateKey: sk(""), Content: json.RawMessage(tc.content)})
			if got := errCode(err); got != tc.wantErr {
				t.Fatalf("%s: error %q, want %q (%v)", tc.name, got, tc.wantErr, err)
			}
			if added := eventCount(t, rs) - before; (tc.wantErr == "") != (added == 1) {
				t.Fatalf("%s: stored %d events", tc.name, added)
			}
			if tc.wantErr == "" && string(stateOf(t, rs, room)["m.room.canonical_alias/"]) != tc.content {
				t.Fatalf("%s: state %s", tc.name, stateOf(t, rs, room)["m.room.canonical_alias/"])
			}
		}
	})
}
