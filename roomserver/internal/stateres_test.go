package internal

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestForkedDAGResolvesState makes the DAG fork as federation will (events whose
// prev_events are not the forward extremities) and checks that the current state is the
// resolution of the extremities' states, that topic 2 reports the change, and that the next
// local event merges the fork.
func TestForkedDAGResolvesState(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		clock := time.UnixMilli(1_700_000_000_000)
		rs.now = func() time.Time { clock = clock.Add(time.Second); return clock }
		alice := user("alice")
		for _, version := range []string{"1", "2", "10", "12"} {
			t.Run("v"+version, func(t *testing.T) {
				room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: version, Preset: "public_chat"})
				send := func(typ string, stateKey *string, content string, prev []string) (string, api.OutputEvent) {
					t.Helper()
					var id string
					err := rs.writeRoom(ctx, "test", room, func(ctx context.Context, w *roomWriter) error {
						e, err := w.send(ctx, eventTemplate{Type: typ, StateKey: stateKey, Content: json.RawMessage(content), Prev: prev}, alice, sendOpts{})
						if err == nil {
							id = e.EventID()
						}
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					outs := rs.outbox.roomEvents(t)
					return id, outs[len(outs)-1]
				}
				m1, _ := send("m.room.message", nil, `{"body":"base"}`, nil)
				f1, _ := send("m.room.name", sk(""), `{"name":"a"}`, nil)
				f2, out2 := send("m.room.topic", sk(""), `{"topic":"t"}`, []string{m1})
				if len(out2.NewRoomEvent.AddsStateEventIDs) != 1 || out2.NewRoomEvent.AddsStateEventIDs[0] != f2 || len(out2.NewRoomEvent.RemovesStateEventIDs) != 0 {
					t.Fatalf("fork adds %v removes %v", out2.NewRoomEvent.AddsStateEventIDs, out2.NewRoomEvent.RemovesStateEventIDs)
				}
				f3, out3 := send("m.room.name", sk(""), `{"name":"b"}`, []string{m1})
				ext, _ := rs.db2(t).ForwardExtremities(ctx, room)
				want := []string{f1, f2, f3}
				sort.Strings(want)
				if len(ext) != 3 || ext[0] != want[0] || ext[1] != want[1] || ext[2] != want[2] {
					t.Fatalf("extremities %v, want %v", ext, want)
				}
				state := stateOf(t, rs, room)
				name := string(state["m.room.name/"])
				if string(state["m.room.topic/"]) != `{"topic":"t"}` {
					t.Fatalf("topic %s", state["m.room.topic/"])
				}
				switch version {
				case "1":
					// v1 breaks the tie by event ID: either name may win, but the output must agree.
					if name != `{"name":"a"}` && name != `{"name":"b"}` {
						t.Fatalf("name %s", name)
					}
				default:
					// v2/v2.1: same power, same mainline position; the later origin_server_ts wins.
					if name != `{"name":"b"}` {
						t.Fatalf("name %s", name)
					}
					if len(out3.NewRoomEvent.AddsStateEventIDs) != 1 || out3.NewRoomEvent.AddsStateEventIDs[0] != f3 ||
						len(out3.NewRoomEvent.RemovesStateEventIDs) != 1 || out3.NewRoomEvent.RemovesStateEventIDs[0] != f1 {
						t.Fatalf("resolution adds %v removes %v", out3.NewRoomEvent.AddsStateEventIDs, out3.NewRoomEvent.RemovesStateEventIDs)
					}
				}
				// The next local event merges the fork: all three extremities as prev_events.
				resp, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"body":"merge"}`)})
				if err != nil {
					t.Fatal(err)
				}
				ev, _ := rs.QueryEvent(ctx, resp.EventID)
				var parsed struct {
					PrevEvents []json.RawMessage `json:"prev_events"`
					Depth      int64             `json:"depth"`
				}
				_ = json.Unmarshal(ev.Event, &parsed)
				if len(parsed.PrevEvents) != 3 {
					t.Fatalf("merge prev_events %s", parsed.PrevEvents)
				}
				if ext, _ := rs.db2(t).ForwardExtremities(ctx, room); len(ext) != 1 || ext[0] != resp.EventID {
					t.Fatalf("extremities after merge %v", ext)
				}
				if string(stateOf(t, rs, room)["m.room.name/"]) != name {
					t.Fatalf("merge changed the state")
				}
			})
		}
	})
}
