package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestGroupCommit queues sends behind a held room lock so that they commit as one group,
// and checks that each is answered as if sent alone: refused ones with their own error and
// nothing stored, a repeated transaction ID with the first event, and the accepted ones as
// one chain (each event's prev_events the one before, depth +1) with dense topic 2 positions.
func TestGroupCommit(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, carol := user("alice"), user("carol")
		room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: "10"})
		type result struct {
			id  string
			err error
		}
		sends := []struct {
			name    string
			req     api.SendEventRequest
			wantErr string
			sameAs  int // 1-based index of an earlier send whose event comes back; 0 none
		}{
			{"message", api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"body":"1"}`), DeviceID: "D", TxnID: "a"}, "", 0},
			{"non-member", api.SendEventRequest{Sender: carol, Type: "m.room.message", Content: json.RawMessage(`{"body":"x"}`)}, "M_FORBIDDEN", 0},
			{"message 2", api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"body":"2"}`), DeviceID: "D", TxnID: "b"}, "", 0},
			{"bad content", api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(`[1]`)}, "M_BAD_JSON", 0},
			{"repeated txn", api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"body":"again"}`), DeviceID: "D", TxnID: "a"}, "", 1},
			{"state", api.SendEventRequest{Sender: alice, Type: "m.room.name", StateKey: sk(""), Content: json.RawMessage(`{"name":"g"}`)}, "", 0},
			{"message 3", api.SendEventRequest{Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"body":"3"}`)}, "", 0},
		}
		before := len(rs.outbox.roomEvents(t))
		results := make([]chan result, len(sends))
		unlock := rs.locks.lock(room)
		for i := range sends {
			results[i] = make(chan result, 1)
			req := sends[i].req
			req.RoomID = room
			go func() {
				resp, err := rs.SendEvent(ctx, &req)
				if err != nil {
					results[i] <- result{err: err}
					return
				}
				results[i] <- result{id: resp.EventID}
			}()
			// Queue them in order: wait until this one is queued.
			for queued(rs, room) != i+1 {
				runtime.Gosched()
			}
		}
		unlock()
		ids := make([]string, len(sends))
		for i, s := range sends {
			r := <-results[i]
			if got := errCode(r.err); got != s.wantErr {
				t.Fatalf("%s: error %v, want %q", s.name, r.err, s.wantErr)
			}
			ids[i] = r.id
			if s.sameAs != 0 && r.id != ids[s.sameAs-1] {
				t.Fatalf("%s: event %s, want %s", s.name, r.id, ids[s.sameAs-1])
			}
		}
		outs := rs.outbox.roomEvents(t)[before:]
		var want []string
		for i, s := range sends {
			if s.wantErr == "" && s.sameAs == 0 {
				want = append(want, ids[i])
			}
		}
		if len(outs) != len(want) {
			t.Fatalf("%d topic 2 records, want %d", len(outs), len(want))
		}
		var prevID string
		var prevDepth, prevPos int64
		for i, o := range outs {
			e := o.NewRoomEvent
			if e.EventID != want[i] {
				t.Fatalf("record %d is %s, want %s", i, e.EventID, want[i])
			}
			var parsed struct {
				Prev  []string `json:"prev_events"`
				Depth int64    `json:"depth"`
			}
			if err := json.Unmarshal(e.Event, &parsed); err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				if fmt.Sprint(parsed.Prev) != fmt.Sprint([]string{prevID}) || parsed.Depth != prevDepth+1 || o.StreamPos != prevPos+1 {
					t.Fatalf("%s: prev %v depth %d pos %d after %s depth %d pos %d", e.EventID, parsed.Prev, parsed.Depth, o.StreamPos, prevID, prevDepth, prevPos)
				}
			}
			prevID, prevDepth, prevPos = e.EventID, parsed.Depth, o.StreamPos
			row, err := rs.db2(t).EventByID(ctx, e.EventID)
			if err != nil || row == nil || row.StreamPos != o.StreamPos {
				t.Fatalf("%s stored as %+v, %v", e.EventID, row, err)
			}
		}
		ext, _ := rs.db2(t).ForwardExtremities(ctx, room)
		if len(ext) != 1 || ext[0] != prevID {
			t.Fatalf("extremities %v, want [%s]", ext, prevID)
		}
	})
}

func queued(rs *testRS, roomID string) int {
	rs.sendq.mu.Lock()
	defer rs.sendq.mu.Unlock()
	return len(rs.sendq.rooms[roomID])
}
