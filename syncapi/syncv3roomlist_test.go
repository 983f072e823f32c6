package syncapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/testenv"
)

// v3RoomList is the room_list stream of a POST /sync answer.
type v3RoomList struct {
	Next     string `json:"next"`
	RoomList *struct {
		P *struct {
			Limit int    `json:"limit"`
			Sort  string `json:"sort"`
			Next  string `json:"next"`
		} `json:"p"`
		Fields []string `json:"fields"`
		Rooms  []struct {
			RoomID       string          `json:"room_id"`
			Membership   string          `json:"membership"`
			Name         *string         `json:"name"`
			Avatar       *string         `json:"avatar"`
			JoinedCount  *int            `json:"joined_count"`
			InvitedCount *int            `json:"invited_count"`
			LastEvent    *clientEvent    `json:"last_event"`
			Tags         json.RawMessage `json:"tags"`
			IsDM         *bool           `json:"is_dm"`
		} `json:"rooms"`
	} `json:"room_list"`
}

func (h *v3Harness) v3List(token, query, body string) v3RoomList {
	h.t.Helper()
	code, raw := h.post(token, query, body)
	if code != 200 {
		h.t.Fatalf("POST /sync?%s %s: %d %s", query, body, code, raw)
	}
	var r v3RoomList
	if err := json.Unmarshal(raw, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (r v3RoomList) ids() []string {
	var out []string
	for _, x := range r.RoomList.Rooms {
		out = append(out, x.RoomID)
	}
	return out
}

// TestSyncV3RoomList: the room_list stream: pages by recency and by name stable while
// messages arrive, negotiated fields and limits, each field's value, deltas for a new
// message and a leave, and a long-poll woken by a message in any of the user's rooms.
func TestSyncV3RoomList(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newV3Harness(t, dsn(t))
			alice, bob := user("alice"), user("bob")
			const n = 30
			room := func(i int) string { return fmt.Sprintf("!r%02d:test", i) }
			names := map[string]string{}
			for i := 0; i < n; i++ {
				h.createRoom(room(i), alice)
				switch {
				case i%3 == 0:
					names[room(i)] = fmt.Sprintf("Room %02d", (i*7)%n)
					h.state(room(i), alice, "m.room.name", "", fmt.Sprintf(`{"name":%q}`, names[room(i)]))
				case i%3 == 1:
					names[room(i)] = fmt.Sprintf("#alias%02d:test", i)
					h.state(room(i), alice, "m.room.canonical_alias", "", fmt.Sprintf(`{"alias":%q}`, names[room(i)]))
				}
			}
			// Recency: messages in a shuffled order; the last one in r07.
			var recency []string
			for _, i := range []int{12, 3, 25, 0, 18, 7} {
				h.msg(room(i), alice, "hi")
				recency = append([]string{room(i)}, recency...)
			}
			inv := "!invite:test"
			h.createRoom(inv, bob)
			h.member(inv, bob, alice, "invite") // newest of all
			recency = append([]string{inv}, recency...)
			h.member(room(5), bob, bob, "join")
			h.state(room(5), alice, "m.room.avatar", "", `{"url":"mxc://test/av"}`) // r05 now the newest
			recency = append([]string{room(5)}, recency...)
			h.accountData(alice, room(9), "m.tag", `{"tags":{"u.work":{"order":0.5}}}`)
			h.accountData(alice, "", "m.direct", fmt.Sprintf(`{%q:[%q]}`, bob, room(5)))

			// Recency pages of 8, fields negotiated (an unknown one dropped).
			body := `{"room_list":{"fields":["name","avatar","member_count","last_event","tags","is_dm","org.example.unknown"],"p":{"limit":8,"since":"1"}}}`
			s0 := h.v3List("alice_tok", "", body)
			if p := s0.RoomList.P; p.Limit != 8 || p.Sort != "by_recency" || p.Next == "" ||
				!reflect.DeepEqual(s0.RoomList.Fields, []string{"name", "avatar", "member_count", "last_event", "tags", "is_dm"}) {
				t.Fatalf("first page: p %+v fields %v", s0.RoomList.P, s0.RoomList.Fields)
			}
			if got := s0.ids(); !reflect.DeepEqual(got, recency[:8]) {
				t.Fatalf("by_recency %v, want %v", got, recency[:8])
			}
			r5 := s0.RoomList.Rooms[0]
			if r5.Avatar == nil || *r5.Avatar != "mxc://test/av" || *r5.JoinedCount != 2 || *r5.InvitedCount != 0 || !*r5.IsDM ||
				r5.LastEvent == nil || r5.LastEvent.Type != "m.room.avatar" || r5.Name != nil {
				t.Fatalf("r05 fields %+v", r5)
			}
			if i := s0.RoomList.Rooms[1]; i.Membership != "invite" || i.LastEvent != nil || *i.InvitedCount != 1 {
				t.Fatalf("invite fields %+v", i)
			}
			// Walk the rest while new messages arrive: the snapshot holds.
			all := s0.ids()
			for cursor := s0.RoomList.P.Next; cursor != ""; {
				h.msg(room(29), alice, "churn")
				r := h.v3List("alice_tok", "since="+s0.Next, fmt.Sprintf(`{"room_list":{"p":{"since":%q}}}`, cursor))
				all = append(all, r.ids()...)
				for _, x := range r.RoomList.Rooms {
					if x.RoomID == room(9) && string(x.Tags) != `{"u.work":{"order":0.5}}` {
						t.Fatalf("r09 tags %s", x.Tags)
					}
					if x.RoomID == room(3) && (x.Name == nil || *x.Name != names[room(3)] || *x.IsDM) {
						t.Fatalf("r03 %+v", x)
					}
				}
				cursor = r.RoomList.P.Next
			}
			if len(all) != n+1 || !reflect.DeepEqual(all[:len(recency)], recency) {
				t.Fatalf("walked %d rooms: %v", len(all), all)
			}
			// The rest (no message since creation) by their last event (the creation), newest first.
			rest := all[len(recency):]
			if !sort.SliceIsSorted(rest, func(i, j int) bool { return rest[i] > rest[j] }) {
				t.Fatalf("rooms without messages out of recency order: %v", rest)
			}

			// by_name: named rooms (names and aliases, case-folded) first, then by room ID.
			byName := h.v3List("alice_tok", "", `{"room_list":{"fields":["name"],"p":{"sort":"by_name","limit":500,"since":"1"}}}`)
			if byName.RoomList.P.Limit != 100 || byName.RoomList.P.Sort != "by_name" || len(byName.RoomList.Rooms) != n+1 {
				t.Fatalf("by_name p %+v, %d rooms", byName.RoomList.P, len(byName.RoomList.Rooms))
			}
			var keys []string
			for _, x := range byName.RoomList.Rooms {
				if x.Name != nil {
					keys = append(keys, "0"+strings.ToLower(*x.Name))
				} else {
					keys = append(keys, "1"+x.RoomID)
				}
				if x.JoinedCount != nil || x.LastEvent != nil {
					t.Fatalf("fields not asked for: %+v", x)
				}
			}
			if !sort.StringsAreSorted(keys) {
				t.Fatalf("by_name order %v", keys)
			}

			// Deltas: a message in r03 and alice leaving r04.
			d0 := h.v3List("alice_tok", "since="+s0.Next, `{}`) // the churn
			if got := d0.ids(); !reflect.DeepEqual(got, []string{room(29)}) || d0.RoomList.P != nil {
				t.Fatalf("churn delta %v", got)
			}
			msg := h.msg(room(3), alice, "news")
			h.member(room(4), alice, alice, "leave")
			d1 := h.v3List("alice_tok", "since="+d0.Next, `{}`)
			got := map[string]string{}
			for _, x := range d1.RoomList.Rooms {
				got[x.RoomID] = x.Membership
				if x.RoomID == room(3) && (x.LastEvent == nil || x.LastEvent.EventID != msg) {
					t.Fatalf("r03 delta %+v", x)
				}
			}
			if !reflect.DeepEqual(got, map[string]string{room(3): "join", room(4): "leave"}) {
				t.Fatalf("delta %v", got)
			}
			// A message in any of alice's rooms wakes a long-poll.
			done := make(chan v3RoomList, 1)
			go func() { done <- h.v3List("alice_tok", "timeout=10000&since="+d1.Next, `{}`) }()
			time.Sleep(100 * time.Millisecond)
			h.msg(room(17), alice, "wake")
			select {
			case r := <-done:
				if r.RoomList == nil || !reflect.DeepEqual(r.ids(), []string{room(17)}) {
					t.Fatalf("woken with %+v", r.RoomList)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a message did not wake the long-poll")
			}
		})
	}
}

// TestSyncV3RoomListManyRooms: the recency order of an account in more rooms than a list
// of room IDs is read for (the newest events of the server read backwards, and every
// room's newest event when those are too few), walked page by page: all rooms quiet; a
// busy room the user is not in burying theirs; a few of theirs newer than the burst.
func TestSyncV3RoomListManyRooms(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newV3Harness(t, dsn(t))
			alice, bob := user("alice"), user("bob")
			l := &bulkLoader{h: h.harness}
			const n = 250
			newest := map[string]int64{}
			room := func(i int) string { return fmt.Sprintf("!m%03d:test", i) }
			for i := 0; i < n; i++ {
				l.send(ev{room: room(i), sender: alice, typ: "m.room.create", stateKey: sk(""), content: `{}`})
				l.send(ev{room: room(i), sender: alice, typ: "m.room.member", stateKey: sk(alice), content: `{"membership":"join"}`})
				newest[room(i)] = h.pos
			}
			for _, i := range []int{17, 3, 240, 99, 0} { // a few messages, out of room order
				l.send(ev{room: room(i), sender: alice, typ: "m.room.message", content: `{"body":"x"}`})
				newest[room(i)] = h.pos
			}
			l.flush()
			want := func() []string {
				var out []string
				for r := range newest {
					out = append(out, r)
				}
				sort.Slice(out, func(i, j int) bool { return newest[out[i]] > newest[out[j]] })
				return out
			}
			walk := func(limit int) []string {
				t.Helper()
				first := h.v3List("alice_tok", "", fmt.Sprintf(`{"room_list":{"fields":["name"],"p":{"limit":%d,"since":"1"}}}`, limit))
				all := first.ids()
				for cursor := first.RoomList.P.Next; cursor != ""; {
					r := h.v3List("alice_tok", "since="+first.Next, fmt.Sprintf(`{"room_list":{"p":{"since":%q}}}`, cursor))
					all = append(all, r.ids()...)
					cursor = r.RoomList.P.Next
				}
				return all
			}
			if got := walk(100); !reflect.DeepEqual(got, want()) {
				t.Fatalf("quiet rooms:\n got %v\nwant %v", got, want())
			}
			// Bob's busy room buries alice's rooms under 2,500 events.
			l.send(ev{room: "!busy:test", sender: bob, typ: "m.room.create", stateKey: sk(""), content: `{}`})
			for i := 0; i < 2500; i++ {
				l.send(ev{room: "!busy:test", sender: bob, typ: "m.room.message", content: `{"body":"x"}`})
			}
			l.flush()
			if got := walk(100); !reflect.DeepEqual(got, want()) {
				t.Fatalf("under a busy room:\n got %v\nwant %v", got, want())
			}
			// 30 of alice's rooms get news after the burst.
			for i := 0; i < 30; i++ {
				r := room((i * 37) % n)
				l.send(ev{room: r, sender: alice, typ: "m.room.message", content: `{"body":"y"}`})
				newest[r] = h.pos
			}
			l.flush()
			if got := walk(20); !reflect.DeepEqual(got, want()) {
				t.Fatalf("after news:\n got %v\nwant %v", got, want())
			}
		})
	}
}

// TestSyncV3RoomListAccountDataDeltas: a change of the user's tags of a room (m.tag room
// account data) or of m.direct is a room_list delta for the rooms concerned, woken from a
// long-poll too; account data of other types, and another user's tags, are not; a session
// that asked for neither tags nor is_dm gets no such delta.
func TestSyncV3RoomListAccountDataDeltas(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newV3Harness(t, dsn(t))
			alice, bob := user("alice"), user("bob")
			rooms := []string{"!a:test", "!b:test", "!c:test"}
			for _, r := range rooms {
				h.createRoom(r, alice)
			}
			s0 := h.v3List("alice_tok", "", `{"room_list":{"p":{"since":"1"}}}`)
			if len(s0.RoomList.Rooms) != 3 {
				t.Fatalf("first page %v", s0.ids())
			}
			noAD := h.v3List("alice_tok", "", `{"room_list":{"fields":["name","last_event"],"p":{"since":"1"}}}`)

			cases := []struct {
				name      string
				change    func()
				wantRooms []string // nil: no delta
				check     func(t *testing.T, r v3RoomList)
			}{
				{"tag added", func() { h.accountData(alice, rooms[1], "m.tag", `{"tags":{"m.favourite":{"order":0.1}}}`) },
					[]string{rooms[1]}, func(t *testing.T, r v3RoomList) {
						if x := r.RoomList.Rooms[0]; string(x.Tags) != `{"m.favourite":{"order":0.1}}` || x.Membership != "join" ||
							x.LastEvent == nil || x.JoinedCount == nil {
							t.Fatalf("tagged room %+v tags %s", x, x.Tags)
						}
					}},
				{"tag removed", func() { h.accountData(alice, rooms[1], "m.tag", `{"tags":{}}`) },
					[]string{rooms[1]}, func(t *testing.T, r v3RoomList) {
						if x := r.RoomList.Rooms[0]; x.Tags != nil {
							t.Fatalf("untagged room still has tags %s", x.Tags)
						}
					}},
				{"m.direct", func() { h.accountData(alice, "", "m.direct", fmt.Sprintf(`{%q:[%q,%q]}`, bob, rooms[0], rooms[2])) },
					[]string{rooms[0], rooms[2]}, func(t *testing.T, r v3RoomList) {
						for _, x := range r.RoomList.Rooms {
							if x.IsDM == nil || !*x.IsDM {
								t.Fatalf("DM room %s is_dm %v", x.RoomID, x.IsDM)
							}
						}
					}},
				{"other account data", func() { h.accountData(alice, rooms[0], "com.example.x", `{}`) }, nil, nil},
				{"bob's tags", func() { h.accountData(bob, rooms[0], "m.tag", `{"tags":{"u.x":{}}}`) }, nil, nil},
			}
			since := s0.Next
			for _, tc := range cases {
				tc.change()
				r := h.v3List("alice_tok", "since="+since, `{}`)
				if tc.wantRooms == nil {
					if r.RoomList != nil || r.Next != since {
						t.Fatalf("%s: delta %+v next %s", tc.name, r.RoomList, r.Next)
					}
					continue
				}
				got := r.ids()
				sort.Strings(got)
				if r.RoomList == nil || !reflect.DeepEqual(got, tc.wantRooms) || r.Next == since {
					t.Fatalf("%s: delta rooms %v, want %v", tc.name, got, tc.wantRooms)
				}
				tc.check(t, r)
				since = r.Next
			}
			// The session without tags and is_dm saw none of it.
			if r := h.v3List("alice_tok", "since="+noAD.Next, `{}`); r.RoomList != nil {
				t.Fatalf("delta without tags/is_dm fields: %v", r.ids())
			}
			// A tag change wakes a long-poll.
			done := make(chan v3RoomList, 1)
			go func() { done <- h.v3List("alice_tok", "timeout=10000&since="+since, `{}`) }()
			time.Sleep(100 * time.Millisecond)
			h.accountData(alice, rooms[2], "m.tag", `{"tags":{"u.late":{}}}`)
			select {
			case r := <-done:
				if r.RoomList == nil || !reflect.DeepEqual(r.ids(), []string{rooms[2]}) {
					t.Fatalf("woken with %+v", r.RoomList)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a tag change did not wake the long-poll")
			}
		})
	}
}

// TestSyncV3RoomListBytes: for an account in 100 rooms of 20 messages each (names, one
// other member), the first room_list page (20 rooms, every field) against the spec's
// initial GET /sync of the same account (no filter: the default timeline of 10 events per
// room), in response bytes (docs/benchmarks.md "Sync v3"; -v prints them). The page must
// be the smaller one by far: it carries one event per room for 20 rooms.
func TestSyncV3RoomListBytes(t *testing.T) {
	h := newV3Harness(t, testenv.SQLitePath(t, "v3bytes"))
	alice, bob := user("alice"), user("bob")
	l := &bulkLoader{h: h.harness}
	for r := 0; r < 100; r++ {
		rid := fmt.Sprintf("!s%03d:test", r)
		l.send(ev{room: rid, sender: alice, typ: "m.room.create", stateKey: sk(""), content: `{"room_version":"10"}`})
		l.send(ev{room: rid, sender: alice, typ: "m.room.member", stateKey: sk(alice), content: `{"membership":"join"}`})
		l.send(ev{room: rid, sender: alice, typ: "m.room.name", stateKey: sk(""), content: fmt.Sprintf(`{"name":"Room %d"}`, r)})
		l.send(ev{room: rid, sender: bob, typ: "m.room.member", stateKey: sk(bob), content: `{"membership":"join"}`})
		for m := 0; m < 20; m++ {
			l.send(ev{room: rid, sender: []string{alice, bob}[m%2], typ: "m.room.message",
				content: fmt.Sprintf(`{"msgtype":"m.text","body":"message %d of room %d"}`, m, r)})
		}
	}
	l.flush()

	code, page := h.post("alice_tok", "", `{"room_list":{"p":{"limit":20,"since":"1"}}}`)
	if code != 200 {
		t.Fatalf("room_list page: %d %s", code, page)
	}
	req := httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/sync", nil)
	req.Header.Set("Authorization", "Bearer alice_tok")
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET /sync: %d %s", rec.Code, rec.Body.Bytes())
	}
	var initial struct {
		Rooms struct {
			Join map[string]json.RawMessage `json:"join"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &initial); err != nil || len(initial.Rooms.Join) != 100 {
		t.Fatalf("initial sync: %d rooms, %v", len(initial.Rooms.Join), err)
	}
	var list v3RoomList
	if err := json.Unmarshal(page, &list); err != nil || len(list.RoomList.Rooms) != 20 {
		t.Fatalf("room_list page: %s", page)
	}
	t.Logf("100 rooms × 20 messages: room_list first page (20 rooms, every field) %d bytes; spec GET /sync initial sync %d bytes (%.1f×)",
		len(page), rec.Body.Len(), float64(rec.Body.Len())/float64(len(page)))
	if len(page)*5 > rec.Body.Len() {
		t.Fatalf("room_list page %d bytes, initial sync %d bytes", len(page), rec.Body.Len())
	}
}
