package syncapi_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// historyRoomserver answers arrow 2's PerformBackfill from a fixed history, newest first:
// what a roomserver would have fetched from the room's other servers.
type historyRoomserver struct {
	rsapi.RoomserverAPI
	mu      sync.Mutex
	join    string // the first event the syncapi holds
	history []ev
	asked   []rsapi.BackfillHistoryRequest
}

func (f *historyRoomserver) PerformBackfill(_ context.Context, req *rsapi.BackfillHistoryRequest) (*rsapi.BackfillHistoryResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, *req)
	start := len(f.history)
	for i, e := range f.history {
		if req.EventIDs[0] == f.join {
			start = 0
			break
		}
		if e.id == req.EventIDs[0] {
			start = i + 1
		}
	}
	out := &rsapi.BackfillHistoryResponse{RoomVersion: "10"}
	for _, e := range f.history[start:min(len(f.history), start+req.Limit)] {
		out.Events = append(out.Events, e.json())
		out.EventIDs = append(out.EventIDs, e.id)
	}
	return out, nil
}

// TestMessagesBackfill: /messages past the start of what this server holds of a room joined
// over federation asks the roomserver for the history (arrow 2), pages through it at
// negative positions (t-N tokens) and stops at the room's create event; /sync never shows
// the backfilled events.
func TestMessagesBackfill(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, dsn(t))
			room, bob, alice := "!fed:remote", user("bob"), "@alice:remote"
			hist := &historyRoomserver{}
			h.rs.RoomserverAPI = hist
			for _, body := range []string{"h4", "h3", "h2", "h1"} {
				hist.history = append(hist.history, ev{id: "$" + body, room: room, sender: alice, typ: "m.room.message",
					content: `{"msgtype":"m.text","body":"` + body + `"}`})
			}
			hist.history = append(hist.history, ev{id: "$create", room: room, sender: alice, typ: "m.room.create", stateKey: sk(""), content: `{"room_version":"10"}`})
			hist.join = h.member(room, bob, bob, "join")
			h.msg(room, bob, "after")
			first := h.sync("bob_tok", "")

			page := func(query string) (bodies []string, end string) {
				t.Helper()
				code, body := h.get("bob_tok", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/messages?"+query)
				if code != 200 {
					t.Fatalf("messages %s: %d %v", query, code, body)
				}
				for _, c := range body["chunk"].([]any) {
					e := c.(map[string]any)
					content := e["content"].(map[string]any)
					if b, ok := content["body"].(string); ok {
						bodies = append(bodies, b)
					} else {
						bodies = append(bodies, e["type"].(string))
					}
				}
				end, _ = body["end"].(string)
				return bodies, end
			}
			got, end := page("dir=b&limit=3")
			if strings.Join(got, ",") != "after,m.room.member,h4" || !strings.HasPrefix(end, "t-") {
				t.Fatalf("first page: %v end %q", got, end)
			}
			got, end = page("dir=b&limit=10&from=" + end)
			if strings.Join(got, ",") != "h3,h2,h1,m.room.create" || end != "" {
				t.Fatalf("second page: %v end %q", got, end)
			}
			if len(hist.asked) != 1 || hist.asked[0].EventIDs[0] != hist.join || hist.asked[0].RoomID != room {
				t.Fatalf("backfill requests: %+v", hist.asked)
			}
			// Again from the top: all from this server's store now.
			got, _ = page("dir=b&limit=20")
			if strings.Join(got, ",") != "after,m.room.member,h4,h3,h2,h1,m.room.create" || len(hist.asked) != 1 {
				t.Fatalf("whole history: %v (asked %d)", got, len(hist.asked))
			}
			// Forwards from the oldest backfilled position.
			got, _ = page("dir=f&limit=3&from=t-5")
			if strings.Join(got, ",") != "h1,h2,h3" {
				t.Fatalf("forwards through history: %v", got)
			}
			// /sync: backfilled history is never new.
			again := h.sync("bob_tok", "since="+url.QueryEscape(first.NextBatch)+"&timeout=0")
			if _, ok := again.Rooms.Join[room]; ok {
				t.Fatalf("incremental sync shows the room: %+v", again.Rooms.Join[room])
			}
			full := h.sync("bob_tok", "")
			for _, e := range full.Rooms.Join[room].Timeline.Events {
				if strings.HasPrefix(e.EventID, "$h") || e.EventID == "$create" {
					t.Fatalf("initial sync timeline holds backfilled %s", e.EventID)
				}
			}
			// A malformed negative token is refused.
			if code, body := h.get("bob_tok", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/messages?dir=b&from=t-0"); code != 400 {
				t.Fatalf("t-0: %d %v", code, body)
			}
		})
	}
}
