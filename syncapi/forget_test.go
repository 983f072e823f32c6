package syncapi_test

import (
	"net/url"
	"testing"

	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// forget delivers a topic 2 forget record (OutputForget) at the next position.
func (h *harness) forget(roomID, userID string) {
	h.t.Helper()
	h.pos++
	h.deliver(rsapi.OutputEvent{Type: rsapi.OutputForget, StreamPos: h.pos, Forget: &rsapi.OutputForgetData{RoomID: roomID, UserID: userID}})
}

// POST /forget as the syncapi sees it (issue 11 item 6): a forgotten room leaves bob's
// rooms.leave (initial, include_leave, full_state, incremental across the leave) and his
// room reads answer 403 (/event 404); alice is unaffected; a replay changes nothing; joining
// again brings the room back, and leaving again shows it as left.
func TestForgottenRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		alice, bob := user("alice"), user("bob")
		h.createRoom(room, alice)
		h.member(room, bob, bob, "join")
		m := h.msg(room, bob, "before leaving")
		beforeLeave := h.sync("bob_tok", "").NextBatch
		h.member(room, bob, bob, "leave")
		withLeave := "filter=" + url.QueryEscape(`{"room":{"include_leave":true}}`)
		if _, ok := h.sync("bob_tok", withLeave).Rooms.Leave[room]; !ok {
			t.Fatal("left room missing from include_leave before the forget")
		}
		h.forget(room, bob)
		r := "/_matrix/client/v3/rooms/" + url.PathEscape(room)
		check := func(when string, forgotten bool) {
			t.Helper()
			// (An initial /sync without include_leave shows no left room at all.)
			for _, q := range []string{withLeave, withLeave + "&full_state=true&since=" + beforeLeave, "since=" + beforeLeave} {
				_, left := h.sync("bob_tok", q).Rooms.Leave[room]
				if left == forgotten {
					t.Fatalf("%s: /sync?%s has the room in leave: %v", when, q, left)
				}
			}
			reads := []struct {
				path string
				code int
			}{
				{r + "/messages?dir=b", 403},
				{r + "/context/" + url.PathEscape(m), 403},
				{r + "/members", 403},
				{r + "/event/" + url.PathEscape(m), 404},
			}
			for _, rd := range reads {
				code, body := h.get("bob_tok", rd.path)
				if forgotten && code != rd.code {
					t.Fatalf("%s: GET %s: %d %v, want %d", when, rd.path, code, body, rd.code)
				}
				if !forgotten && code != 200 {
					t.Fatalf("%s: GET %s: %d %v, want 200", when, rd.path, code, body)
				}
				if code, _ := h.get("alice_tok", rd.path); code != 200 {
					t.Fatalf("%s: alice's GET %s: %d", when, rd.path, code)
				}
			}
		}
		check("after the forget", true)
		// Replayed: nothing changes.
		w := h.api.Notifier.Position().Room
		h.deliver(rsapi.OutputEvent{Type: rsapi.OutputForget, StreamPos: h.pos, Forget: &rsapi.OutputForgetData{RoomID: room, UserID: bob}})
		if h.api.Notifier.Position().Room != w {
			t.Fatal("a replayed forget moved the position")
		}
		check("after a replay", true)
		// Joining again brings the room back.
		h.member(room, bob, bob, "join")
		s := h.sync("bob_tok", "")
		if _, ok := s.Rooms.Join[room]; !ok {
			t.Fatalf("rejoined room not in join: %+v", s.Rooms)
		}
		h.member(room, bob, bob, "leave")
		check("after joining and leaving again", false)
		// An invite (a membership event of bob's) brings a forgotten room back too.
		h.forget(room, bob)
		check("forgotten again", true)
		h.member(room, alice, bob, "invite")
		if _, ok := h.sync("bob_tok", "").Rooms.Invite[room]; !ok {
			t.Fatal("invite to a forgotten room not shown")
		}
	})
}
