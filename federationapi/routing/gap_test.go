package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// gapFetcher is remote.example's side of a gap: get_missing_events answers the newest
// limit events of a chain, /state and /event what the remote holds.
type gapFetcher struct {
	chain  []*event.Event                      // the events us.example missed, oldest first
	state  map[string]federation.StateResponse // prev event ID → the state before it
	asked  []string                            // /state and /event requests
	failAt string                              // a /state request for this event fails
}

func (f *gapFetcher) GetMissingEvents(_ context.Context, _, _ string, req federation.MissingEventsRequest) (federation.MissingEventsResponse, error) {
	var out federation.MissingEventsResponse
	from := max(0, len(f.chain)-req.Limit)
	for _, e := range f.chain[from:] {
		out.Events = append(out.Events, e.JSON())
	}
	return out, nil
}

func (f *gapFetcher) State(_ context.Context, _, _, eventID string) (federation.StateResponse, error) {
	f.asked = append(f.asked, "state "+eventID)
	if eventID == f.failAt {
		return federation.StateResponse{}, fmt.Errorf("unreachable")
	}
	st, ok := f.state[eventID]
	if !ok {
		return st, fmt.Errorf("unknown event %s", eventID)
	}
	return st, nil
}

func (f *gapFetcher) GetEvent(_ context.Context, _, eventID string) (federation.Transaction, error) {
	f.asked = append(f.asked, "event "+eventID)
	for _, e := range f.chain {
		if e.EventID() == eventID {
			return federation.Transaction{Origin: "remote.example", PDUs: []json.RawMessage{e.JSON()}}, nil
		}
	}
	return federation.Transaction{}, fmt.Errorf("unknown event %s", eventID)
}

// TestSendAcrossGap: remote.example's bob sends 30 events us.example never gets (among
// them a change of his display name) and then one more; /send fetches 20 with
// get_missing_events, the gap remains, so the state after the last missing event is
// fetched (/state, /event), checked and given to the roomserver, which accepts the event
// — its auth events include the renamed membership us.example had never seen. When the
// state cannot be fetched the event is refused as before.
func TestSendAcrossGap(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	alice, bob := "@alice:"+us, "@bob:remote.example"
	cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	room := cr.RoomID
	joinRemote(t, e, room, bob)
	f := &gapFetcher{state: map[string]federation.StateResponse{}}
	// The state the remote answers holds our own events: the serverkeyapi knows our key.
	own := e.keys.own
	e.keys.remote[us+"|"+string(own.ID)] = skapi.PublicKey{ServerName: us, KeyID: string(own.ID),
		Key: signing.EncodeBase64(own.Public()), ValidUntilTS: time.Now().Add(time.Hour).UnixMilli()}
	root := mux.NewRouter()
	root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	Setup(root, root, Config{ServerName: us, RoomServer: e.rs, Fetcher: f}, e.keys)
	e.srv = httptest.NewServer(root)
	t.Cleanup(e.srv.Close)

	stateNow := func() map[string]*event.Event {
		evs, err := e.rs.QueryCurrentState(ctx, room, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*event.Event{}
		for _, js := range evs {
			p, err := event.NewEventFromTrustedJSON(js, "10")
			if err != nil {
				t.Fatal(err)
			}
			out[p.Type()+"|"+*p.StateKey()] = p
		}
		return out
	}
	state := stateNow()
	authOf := func() []string {
		return []string{state["m.room.create|"].EventID(), state["m.room.power_levels|"].EventID(), state["m.room.member|"+bob].EventID()}
	}
	prev := []string{lastEvent(t, e.rs, room, bob)}
	depth := int64(20)
	for i := 0; i < 31; i++ {
		depth++
		b := event.Builder{Type: "m.room.message", Sender: bob, RoomID: room, Content: map[string]string{"msgtype": "m.text", "body": "missed"},
			PrevEvents: prev, AuthEvents: authOf(), Depth: depth}
		if i == 10 {
			b.Type, b.StateKey = "m.room.member", &bob
			b.Content = map[string]string{"membership": "join", "displayname": "Bob Renamed"}
			b.AuthEvents = append(authOf(), state["m.room.join_rules|"].EventID())
		}
		ev := e.remoteEvent(t, b)
		if i == 30 {
			break
		}
		sts := make([]json.RawMessage, 0, len(state))
		for _, s := range state {
			sts = append(sts, s.JSON())
		}
		f.state[ev.EventID()] = federation.StateResponse{PDUs: sts, AuthChain: []json.RawMessage{}}
		if i == 10 {
			state["m.room.member|"+bob] = ev
		}
		f.chain = append(f.chain, ev)
		prev = []string{ev.EventID()}
	}
	last := e.remoteEvent(t, event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
		Content: map[string]string{"msgtype": "m.text", "body": "after the gap"}, PrevEvents: prev, AuthEvents: authOf(), Depth: depth + 1})

	send := func(txnID string) string {
		t.Helper()
		txn := map[string]any{"origin": "remote.example", "origin_server_ts": time.Now().UnixMilli(), "pdus": []json.RawMessage{last.JSON()}}
		var res struct {
			PDUs map[string]struct {
				Error string `json:"error"`
			} `json:"pdus"`
		}
		if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/"+txnID, txn, &res); s != 200 {
			t.Fatalf("send: %d", s)
		}
		r, ok := res.PDUs[last.EventID()]
		if !ok {
			t.Fatalf("no result for %s: %+v", last.EventID(), res)
		}
		return r.Error
	}
	f.failAt = prev[0]
	if msg := send("gap-1"); msg == "" {
		t.Fatal("accepted without the state at the gap")
	}
	if _, err := e.rs.QueryEvent(ctx, last.EventID()); err == nil {
		t.Fatal("stored without the state at the gap")
	}
	f.failAt, f.asked = "", nil
	if msg := send("gap-2"); msg != "" {
		t.Fatalf("refused across the gap: %s", msg)
	}
	if want := []string{"state " + prev[0], "event " + prev[0]}; fmt.Sprint(f.asked) != fmt.Sprint(want) {
		t.Fatalf("requests %v, want %v", f.asked, want)
	}
	if _, err := e.rs.QueryEvent(ctx, last.EventID()); err != nil {
		t.Fatalf("%s not stored: %v", last.EventID(), err)
	}
	var content struct {
		DisplayName string `json:"displayname"`
	}
	_ = json.Unmarshal(stateNow()["m.room.member|"+bob].Content(), &content)
	if content.DisplayName != "Bob Renamed" {
		t.Fatalf("bob's membership after the gap: %+v", content)
	}
}
