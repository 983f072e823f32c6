package syncv3proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/syncv3"
	"github.com/axon-matrix/axon/internal/testenv"
)

func TestParseUpstream(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"https://matrix.example.org", true},
		{"http://127.0.0.1:8008/", true},
		{"https://example.org/prefix", true},
		{"ftp://example.org", false},
		{"example.org", false},
		{"https://", false},
		{"https://example.org?x=1", false},
		{"https://user:pw@example.org", false},
	} {
		if _, err := ParseUpstream(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseUpstream(%q): %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}

func TestWithRoomID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"type":"m.x"}`, `{"room_id":"!r:t","type":"m.x"}`},
		{` {} `, `{"room_id":"!r:t"}`},
		{`{"room_id":"!other:t","type":"m.x"}`, `{"room_id":"!other:t","type":"m.x"}`},
	} {
		got := string(withRoomID(json.RawMessage(tc.in), "!r:t"))
		if got != tc.want {
			t.Errorf("withRoomID(%s) = %s, want %s", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("withRoomID(%s) is not JSON", tc.in)
		}
	}
}

func TestByRecency(t *testing.T) {
	ev := func(ts int64) joinedRoom {
		var jr joinedRoom
		jr.Timeline.Events = []json.RawMessage{json.RawMessage(fmt.Sprintf(`{"origin_server_ts":%d}`, ts))}
		return jr
	}
	got := byRecency(map[string]joinedRoom{"!c": ev(5), "!a": ev(9), "!b": ev(5), "!none": {}})
	if want := []string{"!none", "!b", "!c", "!a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("byRecency = %v, want %v", got, want)
	}
}

// member is a client-format m.room.member event.
func member(id, user, membership string) string {
	return fmt.Sprintf(`{"event_id":%q,"type":"m.room.member","state_key":%q,"sender":%q,"content":{"membership":%q,"displayname":%q},"origin_server_ts":1}`,
		id, user, user, membership, user[1:2])
}

func message(id, body string) string {
	return fmt.Sprintf(`{"event_id":%q,"type":"m.room.message","sender":"@a:t","content":{"body":%q},"origin_server_ts":2}`, id, body)
}

func parse(t *testing.T, s string) *syncResponse {
	t.Helper()
	var r syncResponse
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestIngest: two accounts' pollers see the same room: events are stored once, each
// account's memberships and to-device messages are its own, typing changes only count
// when the typers change, and a restart keeps the positions.
func TestIngest(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := dsn(t)
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: d})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			st, err := OpenStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			src := &Source{st: st, n: newNotifier()}
			a := parse(t, `{"next_batch":"a1","rooms":{"join":{"!r:t":{
				"state":{"events":[`+member("$ma", "@a:t", "join")+`]},
				"timeline":{"events":[`+message("$m1", "one")+`,`+member("$mb", "@b:t", "invite")+`]},
				"ephemeral":{"events":[{"type":"m.typing","content":{"user_ids":["@b:t"]}}]},
				"unread_notifications":{"notification_count":2,"highlight_count":1}}}},
				"account_data":{"events":[{"type":"m.direct","content":{"@b:t":["!r:t"]}}]},
				"to_device":{"events":[{"type":"m.x","sender":"@b:t","content":{"body":"hi"}}]}}`)
			ch, err := st.Ingest(ctx, "@a:t", "ADEV", a)
			if err != nil {
				t.Fatal(err)
			}
			if !ch.user || !ch.rooms["!r:t"] {
				t.Fatalf("changes: %+v", ch)
			}
			pos := src.Position()
			// 3 events (room positions a stride apart); the typing change, the unread counts
			// (unread.go) and the to-device message.
			if pos.Room != 3*posStride || pos.EDU != 3 || pos.AccountData != 1 {
				t.Fatalf("position %+v", pos)
			}
			if rooms, err := src.AccountDataRooms(ctx, "@a:t", 0, 1); err != nil || !rooms["!r:t"] {
				t.Fatalf("account data rooms %v %v", rooms, err)
			}
			// The same account data again is no change.
			if _, err := st.Ingest(ctx, "@a:t", "ADEV", parse(t, `{"next_batch":"a2","account_data":{"events":[{"type":"m.direct","content":{"@b:t":["!r:t"]}}]}}`)); err != nil {
				t.Fatal(err)
			}
			if src.Position() != pos {
				t.Fatalf("unchanged account data moved the position: %+v", src.Position())
			}
			// b's poller sees the same events and its own join.
			b := parse(t, `{"next_batch":"b1","rooms":{"join":{"!r:t":{
				"state":{"events":[`+member("$ma", "@a:t", "join")+`,`+member("$mb", "@b:t", "invite")+`]},
				"timeline":{"events":[`+message("$m1", "one")+`,`+member("$mb2", "@b:t", "join")+`]},
				"ephemeral":{"events":[{"type":"m.typing","content":{"user_ids":["@b:t"]}}]}}}}}`)
			if _, err := st.Ingest(ctx, "@b:t", "BDEV", b); err != nil {
				t.Fatal(err)
			}
			if pos = src.Position(); pos.Room != 4*posStride || pos.EDU != 3 || pos.AccountData != 1 {
				t.Fatalf("after b: position %+v (events stored twice or typing counted again)", pos)
			}
			rooms, err := src.Rooms(ctx, "@b:t", pos.Room)
			if err != nil || len(rooms) != 1 || rooms[0].Membership != "join" || rooms[0].Pos != 4*posStride {
				t.Fatalf("b's rooms %+v %v", rooms, err)
			}
			if rooms, _ := src.Rooms(ctx, "@b:t", 3*posStride); len(rooms) != 1 || rooms[0].Membership != "invite" {
				t.Fatalf("b's rooms at 3: %+v", rooms)
			}
			evs, next, more, err := src.Timeline(ctx, "@a:t", "!r:t", pos.Room, 0, 2)
			if err != nil || len(evs) != 2 || evs[0].ID != "$mb" || evs[1].ID != "$mb2" || !more || next != 3*posStride-1 {
				t.Fatalf("timeline %+v next %d more %v %v", evs, next, more, err)
			}
			ms, err := src.Members(ctx, "@a:t", "!r:t", pos.Room)
			if err != nil || len(ms) != 2 || ms[1].Membership != "join" {
				t.Fatalf("members %+v %v", ms, err)
			}
			if _, err := src.Members(ctx, "@c:t", "!r:t", pos.Room); err == nil {
				t.Fatal("an outsider read the members")
			}
			ty, err := src.Typing(ctx, "@b:t", "!r:t", -1, pos)
			if err != nil || ty == nil {
				t.Fatalf("typing %s %v", ty, err)
			}
			if ty, _ := src.Typing(ctx, "@b:t", "!r:t", pos.EDU, pos); ty != nil {
				t.Fatalf("typing unchanged since %d: %s", pos.EDU, ty)
			}
			if low, ok := src.ToDevicePending("@a:t", "ADEV"); !ok || low != 3 {
				t.Fatalf("pending %d %v", low, ok)
			}
			if _, ok := src.ToDevicePending("@b:t", "BDEV"); ok {
				t.Fatal("b has a's message")
			}
			msgs, err := src.ToDevice(ctx, "@a:t", "ADEV", 0, pos.EDU, 10)
			if err != nil || len(msgs) != 1 || !json.Valid(msgs[0].Event) {
				t.Fatalf("to-device %+v %v", msgs, err)
			}
			if err := src.DeleteToDevice(ctx, "@a:t", "ADEV", 3); err != nil {
				t.Fatal(err)
			}
			if _, ok := src.ToDevicePending("@a:t", "ADEV"); ok {
				t.Fatal("deleted message still pending")
			}
			if since, _ := st.Since(ctx, "@b:t", "BDEV"); since != "b1" {
				t.Fatalf("b's since %q", since)
			}
			// A restart loads the positions.
			st2, err := OpenStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if got := (&Source{st: st2}).Position(); got != (syncv3.Pos{Room: 4 * posStride, EDU: 3, AccountData: 1}) {
				t.Fatalf("after a restart: %+v", got)
			}
		})
	}
}
