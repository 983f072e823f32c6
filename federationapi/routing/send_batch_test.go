package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// countingRS records how many events each InputFederationEvents call carries.
type countingRS struct {
	rsapi.RoomserverAPI
	mu    sync.Mutex
	calls []int
}

func (c *countingRS) InputFederationEvents(ctx context.Context, req *rsapi.InputFederationEventsRequest) (*rsapi.InputFederationEventsResponse, error) {
	c.mu.Lock()
	c.calls = append(c.calls, len(req.Events))
	c.mu.Unlock()
	return c.RoomserverAPI.InputFederationEvents(ctx, req)
}

// take returns the calls recorded since the last take.
func (c *countingRS) take() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// TestSendBatchesRoomPDUs: the PDUs of one room of a /send go to the roomserver in one
// call; only those that lack prev events take the slow path: a child given before its
// parent is input again alone (no get_missing_events: the batch stored its parent); a PDU
// whose prev event the origin must send is fetched with get_missing_events, and the PDUs
// still waiting after it are given again in one call.
func TestSendBatchesRoomPDUs(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	counting := &countingRS{RoomserverAPI: e.rs}
	root := mux.NewRouter()
	Setup(root, root, Config{ServerName: us, RoomServer: counting, Fetcher: e.fetcher}, e.keys)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	e.srv = srv

	alice, bob := "@alice:"+us, "@bob:remote.example"
	cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	room := cr.RoomID
	joinRemote(t, e, room, bob)
	auth := messageAuth(t, e, room, bob)
	depth := int64(20)
	msg := func(body string, prev ...string) *event.Event {
		depth++
		return e.remoteEvent(t, event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
			Content: map[string]string{"msgtype": "m.text", "body": body}, PrevEvents: prev, AuthEvents: auth, Depth: depth})
	}
	send := func(txnID string, pdus ...*event.Event) map[string]string {
		t.Helper()
		raw := make([]json.RawMessage, len(pdus))
		for i, p := range pdus {
			raw[i] = p.JSON()
		}
		txn := map[string]any{"origin": "remote.example", "origin_server_ts": time.Now().UnixMilli(), "pdus": raw}
		var res struct {
			PDUs map[string]struct {
				Error string `json:"error"`
			} `json:"pdus"`
		}
		if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/"+txnID, txn, &res); s != http.StatusOK || len(res.PDUs) != len(pdus) {
			t.Fatalf("send %s: %d %+v", txnID, s, res)
		}
		out := map[string]string{}
		for id, r := range res.PDUs {
			out[id] = r.Error
		}
		return out
	}
	stored := func(evs ...*event.Event) {
		t.Helper()
		for _, ev := range evs {
			if _, err := e.rs.QueryEvent(ctx, ev.EventID()); err != nil {
				t.Fatalf("%s not stored: %v", ev.EventID(), err)
			}
		}
	}
	counting.take()

	last := lastEvent(t, e.rs, room, bob) // the forward extremity
	cases := []struct {
		name      string
		pdus      func() []*event.Event
		wantCalls []int
		wantAsked int // get_missing_events requests
	}{
		{"a chain of three", func() []*event.Event {
			p1 := msg("1", last)
			p2 := msg("2", p1.EventID())
			return []*event.Event{p1, p2, msg("3", p2.EventID())}
		}, []int{3}, 0},
		{"child before parent", func() []*event.Event {
			parent := msg("parent", last)
			return []*event.Event{msg("child", parent.EventID()), parent}
		}, []int{2, 1}, 0},
		{"a gap the origin fills", func() []*event.Event {
			missed := msg("missed", last)
			g2 := msg("g2", missed.EventID())
			e.fetcher.events[g2.EventID()] = missed.JSON()
			return []*event.Event{g2, msg("g3", g2.EventID())}
		}, []int{2, 1, 1, 1, 1}, 1},
	}
	for i, c := range cases {
		asked := len(e.fetcher.asked)
		pdus := c.pdus()
		res := send("batch"+string(rune('a'+i)), pdus...)
		for _, p := range pdus {
			if res[p.EventID()] != "" {
				t.Fatalf("%s: %s refused: %s", c.name, p.EventID(), res[p.EventID()])
			}
		}
		stored(pdus...)
		if got := counting.take(); !slices.Equal(got, c.wantCalls) {
			t.Fatalf("%s: InputFederationEvents calls of %v events, want %v", c.name, got, c.wantCalls)
		}
		if got := len(e.fetcher.asked) - asked; got != c.wantAsked {
			t.Fatalf("%s: %d get_missing_events requests, want %d", c.name, got, c.wantAsked)
		}
		last = pdus[len(pdus)-1].EventID()
		if c.name == "child before parent" {
			last = pdus[0].EventID() // the child
		}
	}
}
