package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestHistoryQueries: QueryAuthChain, QueryBackfill and QueryEventByTimestamp on both
// databases.
func TestHistoryQueries(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice := user("alice")
		cr, err := rs.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "private_chat", RoomVersion: "11"})
		if err != nil {
			t.Fatal(err)
		}
		room := cr.RoomID
		var msgs []string
		for _, body := range []string{"a", "b", "c"} {
			resp, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message",
				Content: json.RawMessage(`{"msgtype":"m.text","body":"` + body + `"}`)})
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, resp.EventID)
		}
		chain, err := rs.QueryAuthChain(ctx, &api.AuthChainRequest{RoomID: room, EventID: msgs[2]})
		if err != nil || len(chain.AuthChain) < 3 {
			t.Fatalf("auth chain: %v %v", chain, err)
		}
		if _, err := rs.QueryAuthChain(ctx, &api.AuthChainRequest{RoomID: "!other:" + testServer, EventID: msgs[2]}); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("auth chain in another room: %v", err)
		}

		bf, err := rs.QueryBackfill(ctx, &api.BackfillRequest{RoomID: room, EventIDs: []string{msgs[2]}, Limit: 2})
		if err != nil || len(bf.Events) != 2 {
			t.Fatalf("backfill: %v %v", bf, err)
		}
		depth := func(js json.RawMessage) int64 {
			var h struct {
				Depth int64 `json:"depth"`
			}
			_ = json.Unmarshal(js, &h)
			return h.Depth
		}
		if depth(bf.Events[0]) <= depth(bf.Events[1]) {
			t.Fatal("backfill is not newest first")
		}
		all, err := rs.QueryBackfill(ctx, &api.BackfillRequest{RoomID: room, EventIDs: []string{msgs[2]}, Limit: 1000})
		if err != nil || depth(all.Events[len(all.Events)-1]) != 1 {
			t.Fatalf("backfill to the start: %v", err)
		}
		// private_chat is history_visibility shared: another server sees the bodies.
		other, err := rs.QueryBackfill(ctx, &api.BackfillRequest{RoomID: room, EventIDs: []string{msgs[2]}, Limit: 1, Server: "other.test"})
		if err != nil || len(other.Events) != 1 || !json.Valid(other.Events[0]) || string(other.Events[0]) != string(bf.Events[0]) {
			t.Fatalf("backfill for a server with shared visibility: %v", err)
		}

		ev, _ := rs.QueryEvent(ctx, msgs[1])
		var h struct {
			TS int64 `json:"origin_server_ts"`
		}
		_ = json.Unmarshal(ev.Event, &h)
		back, err := rs.QueryEventByTimestamp(ctx, &api.EventByTimestampRequest{RoomID: room, TS: h.TS, Dir: "b"})
		if err != nil || back.OriginServerTS > h.TS {
			t.Fatalf("timestamp backwards: %+v %v", back, err)
		}
		fwd, err := rs.QueryEventByTimestamp(ctx, &api.EventByTimestampRequest{RoomID: room, TS: h.TS + 1, Dir: "f"})
		if err != nil && errCode(err) != "M_NOT_FOUND" || (err == nil && fwd.OriginServerTS <= h.TS) {
			t.Fatalf("timestamp forwards: %+v %v", fwd, err)
		}
		if _, err := rs.QueryEventByTimestamp(ctx, &api.EventByTimestampRequest{RoomID: room, TS: 0, Dir: "sideways"}); errCode(err) != "M_INVALID_PARAM" {
			t.Fatalf("bad dir: %v", err)
		}
		if _, err := rs.QueryEventByTimestamp(ctx, &api.EventByTimestampRequest{RoomID: "!nope:" + testServer, TS: 0, Dir: "f"}); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("unknown room: %v", err)
		}
	})
}
