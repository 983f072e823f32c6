package syncapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/testenv"
)

// unreadSync is the part of a /sync response the unread count tests look at.
type unreadSync struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Unread *struct {
				Notification *int `json:"notification_count"`
				Highlight    *int `json:"highlight_count"`
			} `json:"unread_notifications"`
		} `json:"join"`
	} `json:"rooms"`
}

func (h *harness) unreadSync(token, query string) unreadSync {
	h.t.Helper()
	req := httptest.NewRequest("GET", "/_matrix/client/v3/sync?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	if rec.Code != 200 {
		h.t.Fatalf("sync %s: %d %s", query, rec.Code, rec.Body.String())
	}
	var r unreadSync
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// counts returns a joined room's (notification_count, highlight_count); the test fails
// when the room or its unread_notifications is missing.
func (r unreadSync) counts(t *testing.T, room string) [2]int {
	t.Helper()
	jr, ok := r.Rooms.Join[room]
	if !ok || jr.Unread == nil || jr.Unread.Notification == nil || jr.Unread.Highlight == nil {
		t.Fatalf("room %s: no unread_notifications (%+v)", room, r.Rooms.Join)
	}
	return [2]int{*jr.Unread.Notification, *jr.Unread.Highlight}
}

// TestUnreadNotifications: /sync's unread_notifications for a joined room — messages of
// others raise notification_count; a mention of the user's display name or localpart, and
// @room from a sender with the power to, raise highlight_count; the user's own messages
// don't count and read the room up to them; a read receipt (m.read or m.read.private)
// resets the counts in the very next /sync; the user's m.push_rules decide (the
// .m.rule.message underride disabled stops plain messages counting, a dont_notify room
// rule mutes the room); a fresh syncapi over the same database counts the same from
// storage.
func TestUnreadNotifications(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			h := newHarness(t, dsn)
			const room = "!unread:test"
			alice, bob, carol := user("alice"), user("bob"), user("carol")
			h.createRoom(room, alice)
			h.state(room, alice, "m.room.power_levels", "", `{"users":{"@alice:test":100}}`)
			h.send(ev{room: room, sender: bob, typ: "m.room.member", stateKey: sk(bob), content: `{"membership":"join","displayname":"Bobby B"}`})
			h.member(room, carol, carol, "join")

			s := h.unreadSync("bob_tok", "")
			want := func(s unreadSync, n, hl int, what string) {
				t.Helper()
				if got := s.counts(t, room); got != [2]int{n, hl} {
					t.Fatalf("%s: counts %v, want [%d %d]", what, got, n, hl)
				}
			}
			want(s, 0, 0, "initial sync after joining")
			step := func(n, hl int, what string) {
				t.Helper()
				s = h.unreadSync("bob_tok", "since="+s.NextBatch)
				want(s, n, hl, what)
			}
			h.msg(room, alice, "hello")
			step(1, 0, "a message")
			h.msg(room, alice, "hey bobby b, look")
			step(2, 1, "display name")
			h.msg(room, carol, "BOB: ping")
			step(3, 2, "localpart")
			h.msg(room, carol, "@room listen")
			step(4, 2, "@room without power")
			h.msg(room, alice, "@room listen")
			step(5, 3, "@room with power")
			h.send(ev{room: room, sender: alice, typ: "m.room.message", content: `{"msgtype":"m.notice","body":"bobby b"}`})
			step(5, 3, "a notice")
			// Counted the same from storage, by another instance on the same database.
			want(newHarness(t, dsn).unreadSync("bob_tok", ""), 5, 3, "another syncapi")

			mine := h.msg(room, bob, "my own")
			step(0, 0, "own message")
			last := h.msg(room, alice, "after mine")
			step(1, 0, "after own message")
			h.msg(room, alice, "bobby b again")
			step(2, 1, "after own message, mention")

			// A receipt resets the counts in the next /sync (read your writes: the
			// receipt is stored before the /sync is answered).
			h.edu(receiptRec(1, room, bob, "m.read", last))
			step(1, 1, "receipt on the first of the two")
			if got := h.unreadSync("bob_tok", "").counts(t, room); got != [2]int{1, 1} {
				t.Fatalf("initial sync after the receipt: %v", got)
			}
			newest := h.msg(room, carol, "hi")
			step(2, 1, "after receipt")
			h.edu(receiptRec(2, room, bob, "m.read.private", newest))
			step(0, 0, "private receipt on the newest")
			// Another user's receipt or an older receipt of bob's changes nothing.
			h.edu(receiptRec(3, room, carol, "m.read", newest))
			h.msg(room, alice, "one more")
			step(1, 0, "other user's receipt")
			h.edu(receiptRec(4, room, bob, "m.read", mine))
			step(1, 0, "older m.read than m.read.private")

			// Rules: without the .m.rule.message underride, plain messages don't count.
			h.accountData(bob, "", "m.push_rules", `{"global":{"override":[],"content":[],"room":[],"sender":[],
				"underride":[{"rule_id":".m.rule.message","default":true,"enabled":false,"actions":["notify"],
					"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.message"}]}]}}`)
			// (A change of rules alone brings no room into /sync, as in Synapse; the next
			// one that comes is recounted.)
			h.msg(room, alice, "plain")
			step(0, 0, "message rule disabled: recounted, one more and plain")

			// A dont_notify room rule mutes the room's plain messages; a mention of bob's
			// display name still counts and highlights, as the server-default override rules
			// (merged into the stored set, as GET /pushrules shows it) come first.
			h.accountData(bob, "", "m.push_rules", `{"global":{"override":[],"content":[],"room":[
				{"rule_id":"!unread:test","default":false,"enabled":true,"actions":["dont_notify"]}],"sender":[],
				"underride":[{"rule_id":".m.rule.message","default":true,"enabled":true,"actions":["notify"],
					"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.message"}]}]}}`)
			h.msg(room, alice, "bobby b")
			step(1, 1, "muted room: the display name mention only")
			h.accountData(bob, "", "m.push_rules", `{"global":{"underride":[{"rule_id":".m.rule.message","default":true,
				"enabled":true,"actions":["notify"],"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.message"}]}]}}`)
			h.msg(room, carol, "back")
			step(4, 1, "unmuted: one more, plain, bobby b (highlighted) and back")
		})
	}
}

// TestUnreadCountsOff: with the counts turned off no room carries unread_notifications.
func TestUnreadCountsOff(t *testing.T) {
	h := newHarness(t, testenv.SQLitePath(t, "unread"))
	h.api.Syncer.NoUnreadCounts = true
	h.createRoom(room, user("alice"))
	h.member(room, user("bob"), user("bob"), "join")
	h.msg(room, user("alice"), "hi")
	s := h.unreadSync("bob_tok", "")
	if jr, ok := s.Rooms.Join[room]; !ok || jr.Unread != nil {
		t.Fatalf("counts off: %+v", s.Rooms.Join)
	}
}

// v3Counts is the room_list of a POST /sync answer with the count fields.
type v3Counts struct {
	Next     string `json:"next"`
	RoomList *struct {
		Fields []string `json:"fields"`
		Rooms  []struct {
			RoomID            string `json:"room_id"`
			NotificationCount *int   `json:"notification_count"`
			HighlightCount    *int   `json:"highlight_count"`
		} `json:"rooms"`
	} `json:"room_list"`
}

func (h *v3Harness) v3Counts(token, query, body string) v3Counts {
	h.t.Helper()
	code, raw := h.post(token, query, body)
	if code != 200 {
		h.t.Fatalf("POST /sync?%s %s: %d %s", query, body, code, raw)
	}
	var r v3Counts
	if err := json.Unmarshal(raw, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// byRoom returns each listed room's [notification_count, highlight_count] (-1: absent).
func (r v3Counts) byRoom() map[string][2]int {
	out := map[string][2]int{}
	if r.RoomList == nil {
		return out
	}
	for _, x := range r.RoomList.Rooms {
		c := [2]int{-1, -1}
		if x.NotificationCount != nil {
			c[0] = *x.NotificationCount
		}
		if x.HighlightCount != nil {
			c[1] = *x.HighlightCount
		}
		out[x.RoomID] = c
	}
	return out
}

// TestSyncV3RoomListUnreadCounts: room_list serves notification_count and highlight_count
// (the counts of /sync's unread_notifications); a new message and a read receipt of the
// user's own each make a room_list delta with the new counts, the receipt waking a
// long-poll; a session that did not ask for the counts gets no delta for a receipt; with
// the counts turned off the fields are negotiated away.
func TestSyncV3RoomListUnreadCounts(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newV3Harness(t, dsn(t))
			alice, bob := user("alice"), user("bob")
			const a, b = "!a:test", "!b:test"
			for _, r := range []string{a, b} {
				h.createRoom(r, alice)
				h.member(r, bob, bob, "join")
			}
			h.msg(a, alice, "hi")
			newest := h.msg(a, alice, "bob: look")
			body := `{"room_list":{"fields":["highlight_count","notification_count"],"p":{"since":"1"}}}`
			s0 := h.v3Counts("bob_tok", "", body)
			if s0.RoomList == nil || !reflect.DeepEqual(s0.RoomList.Fields, []string{"notification_count", "highlight_count"}) {
				t.Fatalf("first page: %+v", s0.RoomList)
			}
			if got := s0.byRoom(); !reflect.DeepEqual(got, map[string][2]int{a: {2, 1}, b: {0, 0}}) {
				t.Fatalf("first page counts %v", got)
			}
			// The same counts as /sync's.
			if got := h.unreadSync("bob_tok", "").counts(t, a); got != [2]int{2, 1} {
				t.Fatalf("/sync counts %v", got)
			}
			hello := h.msg(b, alice, "hello")
			d1 := h.v3Counts("bob_tok", "since="+s0.Next, `{}`)
			if got := d1.byRoom(); !reflect.DeepEqual(got, map[string][2]int{b: {1, 0}}) {
				t.Fatalf("message delta %v", got)
			}
			h.edu(receiptRec(1, a, bob, "m.read", newest))
			d2 := h.v3Counts("bob_tok", "since="+d1.Next, `{}`)
			if got := d2.byRoom(); !reflect.DeepEqual(got, map[string][2]int{a: {0, 0}}) {
				t.Fatalf("receipt delta %v", got)
			}
			// Another user's receipt is no delta; the user's own wakes a long-poll.
			h.edu(receiptRec(2, b, alice, "m.read", newest))
			if d := h.v3Counts("bob_tok", "since="+d2.Next, `{}`); d.RoomList != nil {
				t.Fatalf("other user's receipt: delta %v", d.byRoom())
			}
			done := make(chan v3Counts, 1)
			go func() { done <- h.v3Counts("bob_tok", "timeout=10000&since="+d2.Next, `{}`) }()
			time.Sleep(100 * time.Millisecond)
			h.edu(receiptRec(3, b, bob, "m.read.private", hello))
			select {
			case d3 := <-done:
				if got := d3.byRoom(); !reflect.DeepEqual(got, map[string][2]int{b: {0, 0}}) {
					t.Fatalf("woken receipt delta %v", got)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the receipt did not wake the long-poll")
			}

			// A session without the count fields: no delta for a receipt.
			n0 := h.v3Counts("bob_tok", "", `{"room_list":{"fields":["name"],"p":{"since":"1"}}}`)
			h.edu(receiptRec(4, a, bob, "m.read", newest))
			if d := h.v3Counts("bob_tok", "since="+n0.Next, `{}`); d.RoomList != nil {
				t.Fatalf("receipt delta without count fields: %v", d.byRoom())
			}

			// Counts off: negotiated away.
			h.api.Syncer.NoUnreadCounts = true
			off := h.v3Counts("bob_tok", "", body)
			if off.RoomList == nil || len(off.RoomList.Fields) != 0 || off.byRoom()[a] != [2]int{-1, -1} {
				t.Fatalf("counts off: %+v", off.RoomList)
			}
		})
	}
}

// TestUnreadReceiptAhead: a receipt naming an event this instance does not have yet (a
// receipt that overtook its event) counts once the event arrives.
func TestUnreadReceiptAhead(t *testing.T) {
	h := newHarness(t, testenv.SQLitePath(t, "ahead"))
	const room = "!ahead:test"
	alice, bob := user("alice"), user("bob")
	h.createRoom(room, alice)
	h.member(room, bob, bob, "join")
	h.msg(room, alice, "one")
	s := h.unreadSync("bob_tok", "")
	if got := s.counts(t, room); got != [2]int{1, 0} {
		t.Fatalf("before: %v", got)
	}
	h.edu(receiptRec(1, room, bob, "m.read", "$later"))
	s = h.unreadSync("bob_tok", "since="+s.NextBatch)
	if got := s.counts(t, room); got != [2]int{1, 0} {
		t.Fatalf("receipt for an unknown event: %v", got)
	}
	h.send(ev{id: "$later", room: room, sender: alice, typ: "m.room.message", content: `{"body":"two"}`})
	h.msg(room, alice, "three")
	s = h.unreadSync("bob_tok", "since="+s.NextBatch)
	if got := s.counts(t, room); got != [2]int{1, 0} {
		t.Fatalf("after the event arrived: %v, want only three", got)
	}
}
