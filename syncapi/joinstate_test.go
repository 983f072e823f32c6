package syncapi_test

import (
	"fmt"
	"testing"
)

// TestJoinStateFetchedInBulk: a record that adds many state events the syncapi lacks (the
// join of a room joined over federation adds the room's whole state) fetches them from the
// roomserver a few hundred per QueryEventsByID call (arrow 2), never one QueryEvent each;
// every fetched event is in the state, an unknown one is left out.
func TestJoinStateFetchedInBulk(t *testing.T) {
	tests := []struct {
		name      string
		members   int
		wantCalls int
	}{
		// wantCalls: the members and one unknown event, 500 per call.
		{"one", 1, 1},
		{"one full chunk", 499, 1},
		{"two chunks", 500, 2},
		{"three chunks", 1100, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, h *harness) {
				alice := user("alice")
				h.createRoom(room, alice)
				var adds []string
				for i := range tc.members {
					u := user(fmt.Sprintf("m%d", i))
					se := ev{id: fmt.Sprintf("$member%d", i), room: room, sender: u, typ: "m.room.member", stateKey: sk(u), content: `{"membership":"join"}`}
					h.rs.events[se.id] = se.json()
					adds = append(adds, se.id)
				}
				adds = append(adds, "$unknown")
				h.rs.mu.Lock()
				h.rs.queries, h.rs.bulkQueries = 0, 0
				h.rs.mu.Unlock()
				h.pos++
				out := record(h.pos, ev{id: "$join", room: room, sender: alice, typ: "m.room.message", content: `{}`})
				out.NewRoomEvent.AddsStateEventIDs = adds
				h.deliver(out)
				h.rs.mu.Lock()
				queries, bulk := h.rs.queries, h.rs.bulkQueries
				h.rs.mu.Unlock()
				if queries != 0 || bulk != tc.wantCalls {
					t.Fatalf("%d QueryEvent and %d QueryEventsByID calls, want 0 and %d", queries, bulk, tc.wantCalls)
				}
				got := map[string]bool{}
				for _, e := range h.sync("alice_tok", "").Rooms.Join[room].State.Events {
					got[e.EventID] = true
				}
				for _, id := range adds[:tc.members] {
					if !got[id] {
						t.Fatalf("state event %s missing from the state (%d of %d present)", id, len(got), tc.members)
					}
				}
				if got["$unknown"] {
					t.Fatal("an unknown state event is in the state")
				}
			})
		})
	}
}
