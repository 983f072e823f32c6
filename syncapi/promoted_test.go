package syncapi_test

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// TestPromotedBackfilledEventShownOnce: an event this server first got as backfilled
// history (at a negative position) and whose topic 2 record comes later (the roomserver
// promoted the outlier when it arrived live, roomserver/internal/federation_promote.go) is
// shown once, where it was: /messages holds it once, /sync does not show it as new.
func TestPromotedBackfilledEventShownOnce(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, dsn(t))
			room, bob, alice := "!fed:remote", user("bob"), "@alice:remote"
			hist := &historyRoomserver{}
			h.rs.RoomserverAPI = hist
			for _, body := range []string{"h3", "h2", "h1"} {
				hist.history = append(hist.history, ev{id: "$" + body, room: room, sender: alice, typ: "m.room.message",
					content: `{"msgtype":"m.text","body":"` + body + `"}`})
			}
			hist.history = append(hist.history, ev{id: "$create", room: room, sender: alice, typ: "m.room.create", stateKey: sk(""), content: `{"room_version":"10"}`})
			hist.join = h.member(room, bob, bob, "join")
			first := h.sync("bob_tok", "")
			history := func() string {
				t.Helper()
				code, body := h.get("bob_tok", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/messages?dir=b&limit=50")
				if code != 200 {
					t.Fatalf("messages: %d %v", code, body)
				}
				var ids []string
				for _, c := range body["chunk"].([]any) {
					ids = append(ids, c.(map[string]any)["event_id"].(string))
				}
				return strings.Join(ids, ",")
			}
			want := hist.join + ",$h3,$h2,$h1,$create"
			if got := history(); got != want {
				t.Fatalf("history: %s, want %s", got, want)
			}
			// $h2 arrives live and is promoted: its topic 2 record, then a new message.
			h.send(ev{id: "$h2", room: room, sender: alice, typ: "m.room.message", content: `{"msgtype":"m.text","body":"h2"}`})
			after := h.msg(room, alice, "after")
			again := h.sync("bob_tok", "since="+url.QueryEscape(first.NextBatch)+"&timeout=0")
			if got := eventIDs(again.Rooms.Join[room].Timeline.Events); !reflect.DeepEqual(got, []string{after}) {
				t.Fatalf("incremental sync timeline: %v, want only %s", got, after)
			}
			if got := history(); got != after+","+want {
				t.Fatalf("history after the promotion: %s, want %s", got, after+","+want)
			}
		})
	}
}
