package syncapi_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/testenv"
)

// v3Room is the room stream of a POST /sync answer.
type v3Room struct {
	Next string `json:"next"`
	Room *struct {
		P *struct {
			Limit int    `json:"limit"`
			Sort  string `json:"sort"`
			Next  string `json:"next"`
		} `json:"p"`
		Timeline []clientEvent `json:"timeline"`
		State    []clientEvent `json:"state"`
		Limited  bool          `json:"limited"`
	} `json:"room"`
}

// v3RoomReq performs POST /sync?query, which must succeed, and decodes the room stream.
func (h *v3Harness) v3RoomReq(token, query, body string) v3Room {
	h.t.Helper()
	code, raw := h.post(token, query, body)
	if code != 200 {
		h.t.Fatalf("POST /sync?%s %s: %d %s", query, body, code, raw)
	}
	var r v3Room
	if err := json.Unmarshal(raw, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// TestSyncV3Room: the room stream: a first page with the required state at the snapshot,
// pages back through the whole history stable while messages arrive, deltas (limited when
// more than timeline_limit), negotiation, history visibility as /messages, a long-poll
// woken by a message.
func TestSyncV3Room(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newV3Harness(t, dsn(t))
			room := "!hist:test"
			alice, bob := user("alice"), user("bob")
			h.createRoom(room, alice)
			topic := h.state(room, alice, "m.room.topic", "", `{"topic":"old"}`)
			all := []string{"$ev1", "$ev2", "$ev3", topic}
			for i := 0; i < 25; i++ {
				all = append(all, h.msg(room, alice, fmt.Sprintf("m%d", i)))
			}
			body := `{"room":{"room_id":"` + room + `","timeline_limit":10,"required_state":[["m.room.topic",""],["m.room.create","*"]],"p":{"since":"1"}}}`
			s0 := h.v3RoomReq("alice_tok", "", body)
			if s0.Room == nil || s0.Room.P == nil || s0.Room.P.Limit != 10 || s0.Room.P.Sort != "by_position" || s0.Room.P.Next == "" {
				t.Fatalf("first page: %+v", s0.Room)
			}
			if got := eventIDs(s0.Room.Timeline); !reflect.DeepEqual(got, all[len(all)-10:]) {
				t.Fatalf("first page %v, want %v", got, all[len(all)-10:])
			}
			if got := eventIDs(s0.Room.State); len(got) != 2 || !contains(got, topic) || !contains(got, "$ev1") {
				t.Fatalf("required state %v", got)
			}
			// Walk back while messages arrive and the topic changes: the snapshot holds.
			walked := eventIDs(s0.Room.Timeline)
			cursor := s0.Room.P.Next
			var during []string
			for cursor != "" {
				during = append(during, h.msg(room, bob, "during"))
				r := h.v3RoomReq("alice_tok", "since="+s0.Next, fmt.Sprintf(`{"room":{"p":{"since":%q}}}`, cursor))
				if r.Room == nil || len(r.Room.State) != 0 {
					t.Fatalf("page: %+v", r.Room)
				}
				walked = append(eventIDs(r.Room.Timeline), walked...)
				cursor = r.Room.P.Next
			}
			if !reflect.DeepEqual(walked, all) {
				t.Fatalf("walked %v\nwant   %v", walked, all)
			}
			newTopic := h.state(room, alice, "m.room.topic", "", `{"topic":"new"}`)
			// Deltas: the events after since (3 during the walk + the topic): not limited.
			d := h.v3RoomReq("alice_tok", "since="+s0.Next, `{}`)
			if d.Room == nil || d.Room.P != nil || d.Room.Limited || !reflect.DeepEqual(eventIDs(d.Room.Timeline), append(during, newTopic)) ||
				len(d.Room.State) != 0 {
				t.Fatalf("delta %+v (want %v then %s)", d.Room, during, newTopic)
			}
			for i := 0; i < 12; i++ {
				h.msg(room, alice, "burst")
			}
			d2 := h.v3RoomReq("alice_tok", "since="+d.Next, `{}`)
			if d2.Room == nil || !d2.Room.Limited || len(d2.Room.Timeline) != 10 {
				t.Fatalf("burst delta: limited %v, %d events", d2.Room != nil && d2.Room.Limited, len(d2.Room.Timeline))
			}
			// A message wakes a long-poll.
			done := make(chan v3Room, 1)
			go func() { done <- h.v3RoomReq("alice_tok", "timeout=10000&since="+d2.Next, `{}`) }()
			time.Sleep(100 * time.Millisecond)
			wake := h.msg(room, bob, "wake")
			select {
			case r := <-done:
				if r.Room == nil || !reflect.DeepEqual(eventIDs(r.Room.Timeline), []string{wake}) {
					t.Fatalf("woken with %+v", r.Room)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a message did not wake the long-poll")
			}

			// Negotiation: timeline_limit capped.
			n := h.v3RoomReq("alice_tok", "", `{"room":{"room_id":"`+room+`","timeline_limit":1000,"p":{"since":"1"}}}`)
			if n.Room.P.Limit != 100 {
				t.Fatalf("negotiated limit %d", n.Room.P.Limit)
			}

			// History visibility "joined": bob sees from his join on; carol nothing.
			priv := "!joined:test"
			h.createRoom(priv, alice)
			h.state(priv, alice, "m.room.history_visibility", "", `{"history_visibility":"joined"}`)
			hidden := h.msg(priv, alice, "before bob")
			bobJoin := h.member(priv, bob, bob, "join")
			after := h.msg(priv, alice, "after bob")
			b := h.v3RoomReq("bob_tok", "", `{"room":{"room_id":"`+priv+`","p":{"since":"1"}}}`)
			// The events under "shared" (up to the change to "joined") stay visible to a
			// member; the message under "joined" before bob's join does not.
			if got := eventIDs(b.Room.Timeline); len(got) != 6 || contains(got, hidden) || got[4] != bobJoin || got[5] != after || b.Room.P.Next != "" {
				t.Fatalf("bob's page %v (next %q)", got, b.Room.P.Next)
			}
			code, r := h.v3Raw("carol_tok", "", `{"room":{"room_id":"`+priv+`","p":{"since":"1"}}}`)
			if code != 403 || r.Errcode != "M_FORBIDDEN" {
				t.Fatalf("outsider: %d %+v", code, r)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSyncV3RoomAccessChanges: the room stream's access decision is cached per room and
// user between wakes (v3access.go); every change of it still applies at its position, on
// the shortcut path and on the database path (NoShortcuts): a member who leaves gets their
// leave and nothing after it, and again events after a rejoin; a reader of a world
// readable room loses it when the visibility changes; an ignore applies at once.
func TestSyncV3RoomAccessChanges(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		for _, noShortcuts := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/noShortcuts=%v", name, noShortcuts), func(t *testing.T) {
				h := newV3Harness(t, dsn(t))
				h.api.Syncer.NoShortcuts = noShortcuts
				room := "!access:test"
				alice, bob := user("alice"), user("bob")
				h.createRoom(room, alice)
				h.member(room, bob, bob, "join")
				body := `{"room":{"room_id":"` + room + `","timeline_limit":10,"required_state":[["m.room.member","*"]]}}`
				next := h.v3RoomReq("bob_tok", "", body).Next
				delta := func(token string) []string {
					t.Helper()
					r := h.v3RoomReq(token, "since="+next, `{}`)
					next = r.Next
					if r.Room == nil {
						return nil
					}
					return eventIDs(r.Room.Timeline)
				}
				// Wakes with messages only: served (from the cache on the shortcut path).
				for i := 0; i < 3; i++ {
					m := h.msg(room, alice, "hi")
					if got := delta("bob_tok"); !reflect.DeepEqual(got, []string{m}) {
						t.Fatalf("wake %d: %v, want %s", i, got, m)
					}
				}
				// bob leaves; what follows his leave is not his to see.
				before := h.msg(room, alice, "before the leave")
				leave := h.member(room, bob, bob, "leave")
				h.msg(room, alice, "after the leave")
				if got := delta("bob_tok"); !reflect.DeepEqual(got, []string{before, leave}) {
					t.Fatalf("the delta over the leave: %v, want %v", got, []string{before, leave})
				}
				later := h.msg(room, alice, "later")
				if got := delta("bob_tok"); got != nil {
					t.Fatalf("after the leave: %v", got)
				}
				// bob rejoins: events come again (the empty answer kept next, and "shared"
				// history shows a member what was sent while they were out).
				rejoin := h.member(room, bob, bob, "join")
				back := h.msg(room, alice, "welcome back")
				if got := delta("bob_tok"); !reflect.DeepEqual(got, []string{later, rejoin, back}) {
					t.Fatalf("after the rejoin: %v", got)
				}
				// An ignore (account data, not room state) hides alice's next message at once.
				h.accountData(bob, "", "m.ignored_user_list", `{"ignored_users":{"`+alice+`":{}}}`)
				h.msg(room, alice, "ignored")
				if got := delta("bob_tok"); got != nil {
					t.Fatalf("an ignored user's message: %v", got)
				}

				// carol, never a member, reads the room while it is world readable...
				h.state(room, alice, "m.room.history_visibility", "", `{"history_visibility":"world_readable"}`)
				next = h.v3RoomReq("carol_tok", "", body).Next
				open := h.msg(room, alice, "for everyone")
				if got := delta("carol_tok"); !reflect.DeepEqual(got, []string{open}) {
					t.Fatalf("world readable: %v", got)
				}
				// ... and not once it is not.
				h.state(room, alice, "m.room.history_visibility", "", `{"history_visibility":"joined"}`)
				h.msg(room, alice, "members only")
				if code, r := h.v3Raw("carol_tok", "since="+next, `{}`); code != 403 || r.Errcode != "M_FORBIDDEN" {
					t.Fatalf("after the visibility change: %d %+v", code, r)
				}
			})
		}
	}
}
