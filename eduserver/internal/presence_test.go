package internal

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/axon-matrix/axon/eduserver/api"
)

func strp(s string) *string { return &s }

// TestPresence: explicit changes and a /sync's implicit ones; only a change of state,
// status or currently_active publishes (keyed by user), activity alone only moves
// last_active; idle users go offline; read-your-writes positions follow the writes.
func TestPresence(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		const alice, bob = "@alice:edu.test", "@bob:remote.test"
		type want struct {
			presence string
			msg      *string
			ago      int64
			active   bool
		}
		steps := []struct {
			name    string
			advance time.Duration
			req     *api.SetPresenceRequest
			idle    bool // run one idle check instead of req
			errcode string
			record  bool // a topic 3 record is published
			state   want // alice's presence afterwards
		}{
			{"never seen", 0, nil, false, "", false, want{presence: "offline"}},
			{"bad state", 0, &api.SetPresenceRequest{UserID: alice, Presence: "busy"}, false, "M_INVALID_PARAM", false, want{presence: "offline"}},
			{"status too long", 0, &api.SetPresenceRequest{UserID: alice, Presence: "online", StatusMsg: strp(string(make([]byte, 3000)))}, false,
				"M_INVALID_PARAM", false, want{presence: "offline"}},
			{"sync offline does nothing", 0, &api.SetPresenceRequest{UserID: alice, Presence: "offline", FromSync: true}, false, "", false,
				want{presence: "offline"}},
			{"sync online", 0, &api.SetPresenceRequest{UserID: alice, Presence: "online", FromSync: true}, false, "", true,
				want{presence: "online", active: true}},
			{"sync again: activity only", 40 * time.Second, &api.SetPresenceRequest{UserID: alice, Presence: "online", FromSync: true}, false, "", false,
				want{presence: "online", active: true}},
			{"set unavailable with status", 10 * time.Second, &api.SetPresenceRequest{UserID: alice, Presence: "unavailable", StatusMsg: strp("lunch")}, false,
				"", true, want{presence: "unavailable", msg: strp("lunch")}},
			{"a sync keeps unavailable and the status", 10 * time.Second, &api.SetPresenceRequest{UserID: alice, Presence: "online", FromSync: true}, false,
				"", false, want{presence: "unavailable", msg: strp("lunch")}},
			{"not idle yet", 4 * time.Minute, nil, true, "", false, want{presence: "unavailable", msg: strp("lunch"), ago: 4 * 60_000}},
			{"idle: offline", 2 * time.Minute, nil, true, "", true, want{presence: "offline", msg: strp("lunch"), ago: 6 * 60_000}},
			{"online again clears the status", 0, &api.SetPresenceRequest{UserID: alice, Presence: "online"}, false, "", true,
				want{presence: "online", active: true}},
		}
		seen := 0
		for _, s := range steps {
			f.now = f.now.Add(s.advance)
			switch {
			case s.idle:
				if err := f.e.idleOut(f.ctx); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			case s.req != nil:
				if got := errcodeOf(f.e.SetPresence(f.ctx, s.req)); got != s.errcode {
					t.Fatalf("%s: errcode %q, want %q", s.name, got, s.errcode)
				}
			}
			recs, keys := f.records()
			if n := len(recs) - seen; (n == 1) != s.record || n > 1 {
				t.Fatalf("%s: %d new records, want record=%v", s.name, n, s.record)
			}
			if s.record {
				r := recs[seen]
				seen++
				if r.Kind != api.OutputPresenceKind || keys[seen-1] != alice || r.Presence.UserID != alice || r.Presence.Presence != s.state.presence ||
					!sameMsg(r.Presence.StatusMsg, s.state.msg) || r.Presence.CurrentlyActive != s.state.active {
					t.Fatalf("%s: record %+v %+v key %q", s.name, r, r.Presence, keys[seen-1])
				}
				if pos, _ := f.e.QueryWritePosition(f.ctx, alice); pos != r.StreamPos {
					t.Fatalf("%s: write position %d, want %d", s.name, pos, r.StreamPos)
				}
			}
			got, err := f.e.GetPresence(f.ctx, alice)
			if err != nil {
				t.Fatal(err)
			}
			if got.Presence != s.state.presence || !sameMsg(got.StatusMsg, s.state.msg) || got.CurrentlyActive != s.state.active || got.LastActiveAgo != s.state.ago {
				t.Fatalf("%s: GET %+v, want %+v", s.name, got, s.state)
			}
		}

		// Another server's user stays online past the local idle time, not past
		// RemotePresenceIdle.
		if err := f.e.setPresence(f.ctx, &api.SetPresenceRequest{UserID: bob, Presence: "online"}, f.e.nowMS()); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			after time.Duration
			want  string
		}{{10 * time.Minute, "online"}, {25 * time.Minute, "offline"}} {
			f.now = f.now.Add(c.after)
			if err := f.e.idleOut(f.ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.e.GetPresence(f.ctx, bob); got.Presence != c.want {
				t.Fatalf("remote user after %s more: %q, want %q", c.after, got.Presence, c.want)
			}
		}
	})
}

// TestPresenceDisabled: with presence switched off, SetPresence is accepted and ignored and
// everyone reads as offline.
func TestPresenceDisabled(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		f.e.PresenceEnabled = false
		if err := f.e.SetPresence(f.ctx, &api.SetPresenceRequest{UserID: "@alice:edu.test", Presence: "online"}); err != nil {
			t.Fatal(err)
		}
		if recs, _ := f.records(); len(recs) != 0 {
			t.Fatalf("%d records published", len(recs))
		}
		if got, _ := f.e.GetPresence(f.ctx, "@alice:edu.test"); got.Presence != "offline" {
			t.Fatalf("GET %+v", got)
		}
	})
}

// TestWritePositions: typing, receipts and to-device record the position the writer's
// (and a to-device recipient's) /sync must reflect.
func TestWritePositions(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		const alice, bob = "@alice:edu.test", "@bob:edu.test"
		pos := func(u string) int64 { p, _ := f.e.QueryWritePosition(f.ctx, u); return p }
		if pos(alice) != 0 {
			t.Fatal("position before any write")
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(f.e.SetTyping(f.ctx, &api.SetTypingRequest{RoomID: room, UserID: alice, Typing: true}))
		if pos(alice) != 1 || pos(bob) != 0 {
			t.Fatalf("after typing: %d %d", pos(alice), pos(bob))
		}
		must(f.e.SetReceipt(f.ctx, &api.SetReceiptRequest{RoomID: room, UserID: bob, Type: api.ReceiptRead, EventID: "$e"}))
		if pos(alice) != 1 || pos(bob) != 2 {
			t.Fatalf("after receipt: %d %d", pos(alice), pos(bob))
		}
		req := &api.SendToDeviceRequest{Sender: alice, SenderDevice: "A", TxnID: "t1", Type: "m.test",
			Messages: map[string]map[string]json.RawMessage{bob: {"B1": json.RawMessage(`{"a":1}`), "B2": json.RawMessage(`{}`)}}}
		must(f.e.SendToDevice(f.ctx, req))
		if pos(alice) != 4 || pos(bob) != 4 {
			t.Fatalf("after to-device: %d %d", pos(alice), pos(bob))
		}
		must(f.e.SendToDevice(f.ctx, req))                                             // the same transaction: nothing staged, nothing moves
		must(f.e.SetTyping(f.ctx, &api.SetTypingRequest{RoomID: room, UserID: alice})) // 5
		if pos(alice) != 5 || pos(bob) != 4 {
			t.Fatalf("after repeat and stop: %d %d", pos(alice), pos(bob))
		}
	})
}
