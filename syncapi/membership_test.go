package syncapi_test

import (
	"net/url"
	"testing"
)

// TestUnsignedMembership (issue 11 item 8, spec 1.11): every event served by /sync
// timelines, /messages, /context and /event carries unsigned.membership, the requester's
// membership in the state after the event ("leave" before they had any); state sections
// do not. Two users read the same events (the shared rendering of a woken /sync) and each
// gets their own value.
func TestUnsignedMembership(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		alice, bob := user("alice"), user("bob")
		h.createRoom(room, alice)
		m0 := h.msg(room, alice, "before bob")
		inv := h.member(room, alice, bob, "invite")
		join := h.member(room, bob, bob, "join")
		m1 := h.msg(room, alice, "with bob")

		membershipOf := func(evs []clientEvent) map[string]any {
			out := map[string]any{}
			for _, e := range evs {
				out[e.EventID] = e.Unsigned["membership"]
			}
			return out
		}
		expect := func(what string, got map[string]any, want map[string]string) {
			t.Helper()
			for id, m := range want {
				if got[id] != m {
					t.Fatalf("%s: %s has unsigned.membership %v, want %q (all: %v)", what, id, got[id], m, got)
				}
			}
		}
		// Initial syncs: bob sees the shared history from before he was invited.
		sb := h.sync("bob_tok", "")
		jr := sb.Rooms.Join[room]
		expect("bob's initial sync", membershipOf(jr.Timeline.Events), map[string]string{m0: "leave", inv: "invite", join: "join", m1: "join"})
		for _, e := range jr.State.Events {
			if _, ok := e.Unsigned["membership"]; ok {
				t.Fatalf("state event %s has unsigned.membership", e.EventID)
			}
		}
		sa := h.sync("alice_tok", "")
		expect("alice's initial sync", membershipOf(sa.Rooms.Join[room].Timeline.Events), map[string]string{m0: "join", inv: "join", m1: "join"})

		// A message both are woken for: one shared rendering, each their own value.
		type res struct {
			who string
			s   syncResp
		}
		done := make(chan res, 2)
		go func() { done <- res{"alice", h.sync("alice_tok", "timeout=10000&since="+sa.NextBatch)} }()
		go func() { done <- res{"bob", h.sync("bob_tok", "timeout=10000&since="+sb.NextBatch)} }()
		m2 := h.msg(room, alice, "woken")
		for range 2 {
			r := <-done
			expect(r.who+"'s woken sync", membershipOf(r.s.Rooms.Join[room].Timeline.Events), map[string]string{m2: "join"})
			if r.who == "bob" {
				sb = r.s
			}
		}

		// Bob leaves: the leave event says leave; the timeline of the left room too.
		leave := h.member(room, bob, bob, "leave")
		h.msg(room, alice, "after bob")
		s := h.sync("bob_tok", "since="+sb.NextBatch)
		lr, ok := s.Rooms.Leave[room]
		if !ok {
			t.Fatalf("room not in leave: %+v", s.Rooms)
		}
		expect("bob's sync after leaving", membershipOf(lr.Timeline.Events), map[string]string{leave: "leave"})

		// /messages, /context and /event, as bob (left) and alice (joined).
		rp := "/_matrix/client/v3/rooms/" + url.PathEscape(room)
		chunk := func(token string) map[string]any {
			code, body := h.get(token, rp+"/messages?dir=b&limit=50")
			if code != 200 {
				t.Fatalf("/messages: %d %v", code, body)
			}
			out := map[string]any{}
			for _, e := range body["chunk"].([]any) {
				em := e.(map[string]any)
				u, _ := em["unsigned"].(map[string]any)
				out[em["event_id"].(string)] = u["membership"]
			}
			return out
		}
		expect("bob's /messages", chunk("bob_tok"), map[string]string{leave: "leave", m2: "join", m1: "join", join: "join", inv: "invite"})
		expect("alice's /messages", chunk("alice_tok"), map[string]string{leave: "join", m0: "join"})

		code, ctx := h.get("bob_tok", rp+"/context/"+url.PathEscape(m1)+"?limit=4")
		if code != 200 {
			t.Fatalf("/context: %d %v", code, ctx)
		}
		got := map[string]any{}
		for _, key := range []string{"events_before", "events_after"} {
			for _, e := range ctx[key].([]any) {
				em := e.(map[string]any)
				got[em["event_id"].(string)] = em["unsigned"].(map[string]any)["membership"]
			}
		}
		got[m1] = ctx["event"].(map[string]any)["unsigned"].(map[string]any)["membership"]
		expect("bob's /context", got, map[string]string{join: "join", m1: "join", m2: "join"})
		for _, e := range ctx["state"].([]any) {
			if u, _ := e.(map[string]any)["unsigned"].(map[string]any); u["membership"] != nil {
				t.Fatalf("/context state has unsigned.membership: %v", e)
			}
		}
		for _, c := range []struct {
			token, id, want string
		}{{"bob_tok", inv, "invite"}, {"bob_tok", leave, "leave"}, {"bob_tok", m1, "join"}, {"alice_tok", m0, "join"}} {
			code, e := h.get(c.token, rp+"/event/"+url.PathEscape(c.id))
			if u, _ := e["unsigned"].(map[string]any); code != 200 || u["membership"] != c.want {
				t.Fatalf("/event %s as %s: %d %v, want membership %q", c.id, c.token, code, e, c.want)
			}
		}
	})
}
