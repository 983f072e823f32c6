package internal

import (
	"context"
	"encoding/json"
	"testing"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver/api"
)

// backfillSender adds arrow 17's backfill to fakeSender: /backfill answered by the
// resident roomserver (QueryBackfill) without the wire.
type backfillSender struct {
	*fakeSender
	asked []fsapi.PerformBackfillRequest
}

func (b *backfillSender) PerformBackfill(ctx context.Context, req *fsapi.PerformBackfillRequest) (*fsapi.PerformBackfillResponse, error) {
	b.asked = append(b.asked, *req)
	resp, err := b.resident.QueryBackfill(ctx, &api.BackfillRequest{RoomID: req.RoomID, EventIDs: req.EventIDs, Limit: req.Limit, Server: "b.test"})
	if err != nil {
		return nil, err
	}
	return &fsapi.PerformBackfillResponse{Origin: b.resident.serverName, Events: resp.Events}, nil
}

// TestPerformBackfill: b.test, which joined a.test's room after its history, backfills it
// (arrow 2 → arrow 17 → a's /backfill): from what it holds first, then from a; what it
// fetched is stored, served again without asking, and never live (no topic 2 or 6
// record, current state unchanged).
func TestPerformBackfill(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var b *testRS
			a := newNamedRoomserver(t, dsn(t), "a.test")
			sender := &backfillSender{fakeSender: &fakeSender{t: t, resident: a, joiner: func() *testRS { return b }}}
			b = newNamedRoomserver(t, dsn(t), "b.test", WithFederationSender(sender))
			alice, bob := "@alice:a.test", "@bob:b.test"
			cr, err := a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "public_chat"})
			if err != nil {
				t.Fatal(err)
			}
			room := cr.RoomID
			var msgs []string
			for _, body := range []string{"m1", "m2", "m3", "m4", "m5"} {
				resp, err := a.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message",
					Content: json.RawMessage(`{"msgtype":"m.text","body":"` + body + `"}`)})
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, resp.EventID)
			}
			join, err := b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob, ServerNames: []string{"a.test"}})
			if err != nil {
				t.Fatal(err)
			}
			outBefore, fedBefore := len(b.outbox.roomEvents(t)), len(b.fedEvents(t))
			stateBefore := currentStateMap(t, b, room)

			bodies := func(evs []json.RawMessage) []string {
				var out []string
				for _, js := range evs {
					var e struct {
						Type    string `json:"type"`
						Content struct {
							Body string `json:"body"`
						} `json:"content"`
					}
					_ = json.Unmarshal(js, &e)
					if e.Type == "m.room.message" {
						out = append(out, e.Content.Body)
					}
				}
				return out
			}
			first, err := b.PerformBackfill(ctx, &api.BackfillHistoryRequest{RoomID: room, EventIDs: []string{join.EventID}, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if got := bodies(first.Events); len(got) != 3 || got[0] != "m5" || got[1] != "m4" || got[2] != "m3" || first.Fetched != 3 {
				t.Fatalf("first backfill: %v (fetched %d)", got, first.Fetched)
			}
			if len(sender.asked) != 1 || sender.asked[0].EventIDs[0] != msgs[4] || sender.asked[0].Servers[0] != "a.test" {
				t.Fatalf("asked: %+v", sender.asked)
			}
			// The same again comes from b's store.
			again, err := b.PerformBackfill(ctx, &api.BackfillHistoryRequest{RoomID: room, EventIDs: []string{join.EventID}, Limit: 3})
			if err != nil || again.Fetched != 0 || len(sender.asked) != 1 || len(again.Events) != 3 {
				t.Fatalf("backfill again: %+v %v (asked %d)", again, err, len(sender.asked))
			}
			// Further back: the rest of the messages and the room's first events.
			rest, err := b.PerformBackfill(ctx, &api.BackfillHistoryRequest{RoomID: room, EventIDs: []string{msgs[2]}, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			if got := bodies(rest.Events); len(got) != 2 || got[0] != "m2" || got[1] != "m1" {
				t.Fatalf("rest: %v", got)
			}
			var last struct{ Type string }
			_ = json.Unmarshal(rest.Events[len(rest.Events)-1], &last)
			if last.Type != "m.room.create" {
				t.Fatalf("history ends with %s", last.Type)
			}
			// Not live.
			if n := len(b.outbox.roomEvents(t)); n != outBefore {
				t.Fatalf("backfill staged %d topic 2 records", n-outBefore)
			}
			if n := len(b.fedEvents(t)); n != fedBefore {
				t.Fatalf("backfill staged %d topic 6 records", n-fedBefore)
			}
			if after := currentStateMap(t, b, room); len(after) != len(stateBefore) {
				t.Fatalf("current state changed: %d → %d entries", len(stateBefore), len(after))
			}
			if _, err := b.PerformBackfill(ctx, &api.BackfillHistoryRequest{RoomID: "!nope:a.test", EventIDs: []string{"$x"}, Limit: 5}); errCode(err) != "M_NOT_FOUND" {
				t.Fatalf("unknown room: %v", err)
			}
		})
	}
}
