package internal

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

func newRoom(t *testing.T, rs *testRS, req api.CreateRoomRequest) string {
	t.Helper()
	resp, err := rs.CreateRoom(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.RoomID
}

func sk(s string) *string { return &s }

// eventCount counts stored events, to prove that refused requests store nothing.
func eventCount(t *testing.T, rs *testRS) int {
	t.Helper()
	var n int
	if err := rs.db.QueryRow(`SELECT COUNT(*) FROM roomserver_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSendEvent(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob := user("alice"), user("bob")
		for _, version := range []string{"1", "5", "10", "11", "12"} {
			t.Run("v"+version, func(t *testing.T) {
				room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: version, Preset: "public_chat"})
				if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob}); err != nil {
					t.Fatal(err)
				}
				big := `{"body":"` + strings.Repeat("x", 70000) + `"}`
				tests := []struct {
					name     string
					req      api.SendEventRequest
					wantErr  string
					wantSame string // the name of an earlier case whose event ID must come back
				}{
					{name: "message", req: api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"msgtype":"m.text","body":"hi"}`), DeviceID: "D", TxnID: "t1"}},
					{name: "same txn again", req: api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"body":"other"}`), DeviceID: "D", TxnID: "t1"}, wantSame: "message"},
					{name: "same txn other device", req: api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"body":"hi"}`), DeviceID: "E", TxnID: "t1"}},
					{name: "state by admin", req: api.SendEventRequest{Sender: alice, Type: "m.room.name", StateKey: sk(""), Content: json.RawMessage(`{"name":"new"}`)}},
					{name: "same state again", req: api.SendEventRequest{Sender: alice, Type: "m.room.name", StateKey: sk(""), Content: json.RawMessage(`{ "name" : "new" }`)}, wantSame: "state by admin"},
					{name: "state below level", req: api.SendEventRequest{Sender: bob, Type: "m.room.name", StateKey: sk(""), Content: json.RawMessage(`{"name":"bob's"}`)}, wantErr: "M_FORBIDDEN"},
					{name: "message by member", req: api.SendEventRequest{Sender: bob, Type: "m.room.message", Content: json.RawMessage(`{"body":"yo"}`)}},
					{name: "non-member", req: api.SendEventRequest{Sender: user("carol"), Type: "m.room.message", Content: json.RawMessage(`{"body":"x"}`)}, wantErr: "M_FORBIDDEN"},
					{name: "content not object", req: api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(`[1]`)}, wantErr: "M_BAD_JSON"},
					{name: "content missing", req: api.SendEventRequest{Sender: alice, Type: "m.room.message"}, wantErr: "M_BAD_JSON"},
					{name: "too large", req: api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(big)}, wantErr: "M_TOO_LARGE"},
					{name: "unknown room", req: api.SendEventRequest{RoomID: "!nope:" + testServer, Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{}`)}, wantErr: "M_NOT_FOUND"},
					{name: "bad canonical alias", req: api.SendEventRequest{Sender: alice, Type: "m.room.canonical_alias", StateKey: sk(""), Content: json.RawMessage(`{"alias":"#nope:` + testServer + `"}`)}, wantErr: "M_BAD_ALIAS"},
				}
				ids := map[string]string{}
				for _, tc := range tests {
					before := eventCount(t, rs)
					beforeOut := len(rs.outbox.roomEvents(t))
					req := tc.req
					if req.RoomID == "" {
						req.RoomID = room
					}
					resp, err := rs.SendEvent(ctx, &req)
					if got := errCode(err); got != tc.wantErr {
						t.Fatalf("%s: error %q, want %q (%v)", tc.name, got, tc.wantErr, err)
					}
					added, addedOut := eventCount(t, rs)-before, len(rs.outbox.roomEvents(t))-beforeOut
					if tc.wantErr != "" || tc.wantSame != "" {
						if added != 0 || addedOut != 0 {
							t.Fatalf("%s: stored %d events and %d outputs", tc.name, added, addedOut)
						}
						if tc.wantSame != "" && resp.EventID != ids[tc.wantSame] {
							t.Fatalf("%s: event %s, want %s", tc.name, resp.EventID, ids[tc.wantSame])
						}
						continue
					}
					if added != 1 || addedOut != 1 {
						t.Fatalf("%s: stored %d events and %d outputs", tc.name, added, addedOut)
					}
					ids[tc.name] = resp.EventID
					ev, err := rs.QueryEvent(ctx, resp.EventID)
					if err != nil || ev.RoomVersion != version {
						t.Fatalf("%s: QueryEvent %v %v", tc.name, ev, err)
					}
					last := rs.outbox.roomEvents(t)[beforeOut]
					if last.NewRoomEvent.EventID != resp.EventID || last.NewRoomEvent.TxnID != req.TxnID || last.NewRoomEvent.TxnDeviceID != req.DeviceID {
						t.Fatalf("%s: output %+v", tc.name, last.NewRoomEvent)
					}
					if req.StateKey != nil && (len(last.NewRoomEvent.AddsStateEventIDs) != 1 || len(last.NewRoomEvent.RemovesStateEventIDs) != 0) {
						t.Fatalf("%s: state change %+v", tc.name, last.NewRoomEvent)
					}
				}
				if string(stateOf(t, rs, room)["m.room.name/"]) != `{"name":"new"}` {
					t.Fatalf("name not in current state: %s", stateOf(t, rs, room)["m.room.name/"])
				}
			})
		}
	})
}

func TestRedaction(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob, carol := user("alice"), user("bob"), user("carol")
		for _, version := range []string{"1", "3", "10", "11", "12"} {
			t.Run("v"+version, func(t *testing.T) {
				room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: version, Preset: "public_chat"})
				for _, u := range []string{bob, carol} {
					if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: u}); err != nil {
						t.Fatal(err)
					}
				}
				send := func(sender, body string) string {
					resp, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: sender, Type: "m.room.message", Content: json.RawMessage(`{"body":"` + body + `"}`)})
					if err != nil {
						t.Fatal(err)
					}
					return resp.EventID
				}
				bobs, carols, alices := send(bob, "bob's secret"), send(carol, "carol's secret"), send(alice, "alice's secret")
				tests := []struct {
					name, sender, redacts, wantErr string
				}{
					{"own event", bob, bobs, ""},
					{"other's event without power", bob, carols, "M_FORBIDDEN"},
					{"other's event as admin", alice, carols, ""},
					{"unknown event", alice, "$unknown", "M_NOT_FOUND"},
					{"admin's event by member", carol, alices, "M_FORBIDDEN"},
				}
				for _, tc := range tests {
					before := eventCount(t, rs)
					beforeOut := len(rs.outbox.roomEvents(t))
					resp, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: tc.sender, Type: "m.room.redaction",
						Redacts: tc.redacts, Content: json.RawMessage(`{"reason":"spam"}`)})
					if got := errCode(err); got != tc.wantErr {
						t.Fatalf("%s: error %q, want %q (%v)", tc.name, got, tc.wantErr, err)
					}
					outs := rs.outbox.roomEvents(t)[beforeOut:]
					if tc.wantErr != "" {
						if eventCount(t, rs) != before || len(outs) != 0 {
							t.Fatalf("%s: refused redaction left state behind", tc.name)
						}
						ev, _ := rs.QueryEvent(ctx, tc.redacts)
						if ev != nil && ev.Redacted {
							t.Fatalf("%s: event redacted anyway", tc.name)
						}
						continue
					}
					ev, err := rs.QueryEvent(ctx, tc.redacts)
					if err != nil {
						t.Fatal(err)
					}
					if !ev.Redacted || strings.Contains(string(ev.Event), "secret") {
						t.Fatalf("%s: stored event not redacted: %s", tc.name, ev.Event)
					}
					if len(outs) != 2 || outs[0].Type != api.OutputNewRoomEvent || outs[1].Type != api.OutputRedaction ||
						outs[1].StreamPos != outs[0].StreamPos+1 {
						t.Fatalf("%s: outputs %+v", tc.name, outs)
					}
					r := outs[1].Redaction
					if r.RedactedEventID != tc.redacts || r.RedactionEventID != resp.EventID || strings.Contains(string(r.RedactedEvent), "secret") {
						t.Fatalf("%s: redaction output %+v", tc.name, r)
					}
					var red struct {
						Redacts string `json:"redacts"`
						Content struct {
							Redacts string `json:"redacts"`
						} `json:"content"`
					}
					_ = json.Unmarshal(outs[0].NewRoomEvent.Event, &red)
					if red.Redacts != tc.redacts && red.Content.Redacts != tc.redacts {
						t.Fatalf("%s: redaction event does not name the redacted event: %s", tc.name, outs[0].NewRoomEvent.Event)
					}
				}
			})
		}
	})
}

// TestTxnIdempotentUnderConcurrency sends one (sender, device, txn) from many goroutines at
// once: exactly one event is stored and everyone gets its ID.
func TestTxnIdempotentUnderConcurrency(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice := user("alice")
		room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice})
		before := eventCount(t, rs)
		const n = 8
		ids := make(chan string, n)
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			go func() {
				resp, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, DeviceID: "D", TxnID: "same",
					Type: "m.room.message", Content: json.RawMessage(`{"body":"once"}`)})
				if err != nil {
					errs <- err
					return
				}
				ids <- resp.EventID
			}()
		}
		first := ""
		for i := 0; i < n; i++ {
			select {
			case err := <-errs:
				t.Fatal(err)
			case id := <-ids:
				if first == "" {
					first = id
				} else if id != first {
					t.Fatalf("two events for one transaction: %s and %s", first, id)
				}
			}
		}
		if got := eventCount(t, rs) - before; got != 1 {
			t.Fatalf("%d events stored", got)
		}
	})
}
