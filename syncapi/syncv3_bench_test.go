package syncapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
)

// bulkLoader hands topic 2 records to the consumer in runs (one transaction per run), so
// a benchmark can set up thousands of rooms quickly.
type bulkLoader struct {
	h    *harness
	msgs []eventlog.Message
}

func (l *bulkLoader) send(e ev) string {
	if e.id == "" {
		e.id = l.h.nextID()
	}
	l.h.pos++
	b, _ := json.Marshal(record(l.h.pos, e))
	l.msgs = append(l.msgs, eventlog.Message{Topic: "room_event", Key: "k", Value: b})
	if len(l.msgs) == 256 {
		l.flush()
	}
	return e.id
}

func (l *bulkLoader) flush() {
	if len(l.msgs) == 0 {
		return
	}
	if err := l.h.api.RoomEvents.HandleBatch(context.Background(), l.msgs); err != nil {
		l.h.t.Fatal(err)
	}
	l.msgs = nil
}

// BenchmarkSyncV3 measures sync v3 requests through the HTTP handler on SQLite (docs/
// benchmarks.md): room_list's first page (20 rooms by recency, every field, a new
// session each time) and a room_list delta after one new message in one room, for an
// account in 5,000 rooms; and the first page of the room stream (20 events and two pieces
// of required state) of a room of 2,000 events.
func BenchmarkSyncV3(b *testing.B) {
	const rooms = 5000
	hb := newHarness(b, testenv.SQLitePath(b, "v3bench"))
	h := &v3Harness{harness: hb}
	h.router = hb.router
	alice := user("alice")
	l := &bulkLoader{h: hb}
	for r := 0; r < rooms; r++ {
		rid := fmt.Sprintf("!b%04d:test", r)
		l.send(ev{room: rid, sender: alice, typ: "m.room.create", stateKey: sk(""), content: `{"room_version":"10"}`})
		l.send(ev{room: rid, sender: alice, typ: "m.room.member", stateKey: sk(alice), content: `{"membership":"join"}`})
		l.send(ev{room: rid, sender: alice, typ: "m.room.name", stateKey: sk(""), content: fmt.Sprintf(`{"name":"Room %d"}`, r)})
		l.send(ev{room: rid, sender: alice, typ: "m.room.message", content: `{"msgtype":"m.text","body":"hi"}`})
	}
	big := "!big:test"
	l.send(ev{room: big, sender: alice, typ: "m.room.create", stateKey: sk(""), content: `{"room_version":"10"}`})
	l.send(ev{room: big, sender: alice, typ: "m.room.member", stateKey: sk(alice), content: `{"membership":"join"}`})
	for i := 0; i < 2000; i++ {
		l.send(ev{room: big, sender: alice, typ: "m.room.message", content: fmt.Sprintf(`{"msgtype":"m.text","body":"m%d"}`, i)})
	}
	l.flush()

	listPage := `{"room_list":{"p":{"limit":20,"since":"1"}}}`
	b.Run("room_list_first_page_5000_rooms", func(b *testing.B) {
		h.t = b
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r := h.v3List("alice_tok", "", listPage)
			if len(r.RoomList.Rooms) != 20 || r.RoomList.Rooms[0].LastEvent == nil {
				b.Fatalf("page %+v", r.RoomList)
			}
		}
	})
	b.Run("room_list_delta_one_message", func(b *testing.B) {
		h.t = b
		since := h.v3List("alice_tok", "", listPage).Next
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			h.msg(fmt.Sprintf("!b%04d:test", i%rooms), alice, "new")
			b.StartTimer()
			r := h.v3List("alice_tok", "since="+since, `{}`)
			if r.RoomList == nil || len(r.RoomList.Rooms) != 1 {
				b.Fatalf("delta %+v", r.RoomList)
			}
			since = r.Next
		}
	})
	b.Run("room_first_page", func(b *testing.B) {
		h.t = b
		body := `{"room":{"room_id":"` + big + `","timeline_limit":20,"required_state":[["m.room.create",""],["m.room.member","*"]],"p":{"since":"1"}}}`
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r := h.v3RoomReq("alice_tok", "", body)
			if r.Room == nil || len(r.Room.Timeline) != 20 || len(r.Room.State) != 2 {
				b.Fatalf("page %+v", r.Room)
			}
		}
	})
}

// BenchmarkSyncV3RoomWake measures the room stream's cost per wake: 200 members of one
// room, each with a session watching it (timeline and required state); per iteration one
// new message and every session's delta (what a woken long-poll of each does).
func BenchmarkSyncV3RoomWake(b *testing.B) {
	const members = 200
	hb := newHarness(b, testenv.SQLitePath(b, "v3wake"))
	h := &v3Harness{harness: hb}
	h.router = hb.router
	room := "!wake:test"
	h.createRoom(room, user("m0"))
	h.state(room, user("m0"), "m.room.topic", "", `{"topic":"wake"}`)
	for m := 1; m < members; m++ {
		h.member(room, user(fmt.Sprint("m", m)), user(fmt.Sprint("m", m)), "join")
	}
	body := `{"room":{"room_id":"` + room + `","timeline_limit":5,"required_state":[["m.room.topic",""]]}}`
	since := make([]string, members)
	for m := range since {
		since[m] = h.v3RoomReq(fmt.Sprint("m", m, "_tok"), "", body).Next
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id := h.msg(room, user(fmt.Sprint("m", i%members)), "wake")
		b.StartTimer()
		for m := range since {
			r := h.v3RoomReq(fmt.Sprint("m", m, "_tok"), "since="+since[m], `{}`)
			if r.Room == nil || len(r.Room.Timeline) != 1 || r.Room.Timeline[0].EventID != id {
				b.Fatalf("member %d: %+v", m, r.Room)
			}
			since[m] = r.Next
		}
	}
}
