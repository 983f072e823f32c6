package syncapi_test

import (
	"fmt"
	"net/url"
	"testing"
)

// TestErrorsDoNotLeakRooms (issue #11 item 5): /event of an event the user may not see is
// 404 whether or not the user is in the room; /joined_members after leaving is 403; a
// request to a room the user may not read is 403 before any parameter is looked at; a
// filter naming a malformed room ID is 400 M_INVALID_PARAM.
func TestErrorsDoNotLeakRooms(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		alice, bob := user("alice"), user("bob")
		h.createRoom(room, alice)
		h.state(room, alice, "m.room.history_visibility", "", `{"history_visibility":"joined"}`)
		secret := h.msg(room, alice, "before bob")
		h.member(room, bob, bob, "join")
		h.msg(room, alice, "while bob is in")
		h.member(room, bob, bob, "leave")
		r := "/_matrix/client/v3/rooms/" + url.PathEscape(room)
		badFilter := url.QueryEscape(`{"rooms":["not-a-room-id"]}`)
		badSyncFilter := url.QueryEscape(`{"room":{"timeline":{"not_rooms":["#alias:test"]}}}`)
		tests := []struct {
			token, path string
			status      int
			errcode     string
		}{
			{"carol_tok", r + "/event/" + url.PathEscape(secret), 404, "M_NOT_FOUND"},
			{"carol_tok", "/_matrix/client/v3/rooms/!unknown:test/event/$x", 404, "M_NOT_FOUND"},
			{"bob_tok", r + "/event/" + url.PathEscape(secret), 404, "M_NOT_FOUND"},
			{"bob_tok", r + "/joined_members", 403, "M_FORBIDDEN"},
			{"carol_tok", r + "/joined_members", 403, "M_FORBIDDEN"},
			{"carol_tok", r + "/messages", 403, "M_FORBIDDEN"},
			{"carol_tok", r + "/messages?dir=x", 403, "M_FORBIDDEN"},
			{"carol_tok", r + "/context/$x?limit=abc", 403, "M_FORBIDDEN"},
			{"carol_tok", r + "/members?membership=friend", 403, "M_FORBIDDEN"},
			{"alice_tok", r + "/messages", 400, "M_MISSING_PARAM"},
			{"alice_tok", r + "/messages?dir=b&filter=" + badFilter, 400, "M_INVALID_PARAM"},
			{"alice_tok", "/_matrix/client/v3/sync?filter=" + badSyncFilter, 400, "M_INVALID_PARAM"},
		}
		for _, tc := range tests {
			code, b := h.get(tc.token, tc.path)
			if code != tc.status || b["errcode"] != tc.errcode {
				t.Errorf("%s %s: got %d %v, want %d %s", tc.token, tc.path, code, b, tc.status, tc.errcode)
			}
		}
	})
}

// TestNewlyJoinedRoomTimeline (issue #11 item 8): a room joined since the token comes with
// a timeline that is limited (the client has none of the room's history) and a prev_batch
// to page back from, even when the filter lets only a few events through.
func TestNewlyJoinedRoomTimeline(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		alice, bob := user("alice"), user("bob")
		h.createRoom(room, alice)
		for i := range 4 {
			h.msg(room, alice, fmt.Sprint("first ", i))
		}
		sb := h.sync("bob_tok", "")
		for i := range 4 {
			h.msg(room, alice, fmt.Sprint("second ", i))
		}
		h.member(room, bob, bob, "join")
		filter := url.QueryEscape(`{"room":{"timeline":{"limit":10,"types":["m.room.message"]},"state":{"types":[]}}}`)
		s := h.sync("bob_tok", "filter="+filter+"&since="+sb.NextBatch)
		jr, ok := s.Rooms.Join[room]
		if !ok {
			t.Fatalf("newly joined room missing: %+v", s.Rooms)
		}
		for _, e := range jr.Timeline.Events {
			if e.Type != "m.room.message" {
				t.Fatalf("timeline has %s despite the filter", e.Type)
			}
		}
		if !jr.Timeline.Limited || jr.Timeline.PrevBatch == "" {
			t.Fatalf("newly joined room: limited=%v prev_batch=%q (%d events)", jr.Timeline.Limited, jr.Timeline.PrevBatch, len(jr.Timeline.Events))
		}
		// The next incremental sync, with nothing new, leaves the room out.
		if s2 := h.sync("bob_tok", "filter="+filter+"&since="+s.NextBatch); len(s2.Rooms.Join) != 0 {
			t.Fatalf("unchanged room in the next sync: %+v", s2.Rooms.Join)
		}
	})
}

// TestMessagesFromSyncToken (issue #11 item 9): a /sync next_batch works as /messages'
// from, forwards (the events after that point) and backwards (the events up to it).
func TestMessagesFromSyncToken(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		alice := user("alice")
		h.createRoom(room, alice)
		old := h.msg(room, alice, "old")
		s := h.sync("alice_tok", "")
		n1, n2 := h.msg(room, alice, "new 1"), h.msg(room, alice, "new 2")
		r := "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/messages?from=" + url.QueryEscape(s.NextBatch)
		_, fwd := h.get("alice_tok", r+"&dir=f")
		if got := idsOf(fwd["chunk"]); fmt.Sprint(got) != fmt.Sprint([]string{n1, n2}) {
			t.Fatalf("dir=f from next_batch: %v, want %v", got, []string{n1, n2})
		}
		_, back := h.get("alice_tok", r+"&dir=b&limit=1")
		if got := idsOf(back["chunk"]); fmt.Sprint(got) != fmt.Sprint([]string{old}) {
			t.Fatalf("dir=b from next_batch: %v, want %v", got, []string{old})
		}
	})
}
