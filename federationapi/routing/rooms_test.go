package routing

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/roomserver"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/inthttp/inthttptest"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

type discardOutbox struct{}

func (discardOutbox) Stage(context.Context, *sql.Tx, ...eventlog.Message) error { return nil }
func (discardOutbox) Kick()                                                     {}
func (discardOutbox) Run(ctx context.Context) error                             { <-ctx.Done(); return nil }

// fakeFetcher answers get_missing_events from a fixed list and records the requests.
type fakeFetcher struct {
	events map[string]json.RawMessage // latest event ID → the events to answer
	asked  []federation.MissingEventsRequest
}

func (f *fakeFetcher) GetMissingEvents(_ context.Context, dest, _ string, req federation.MissingEventsRequest) (federation.MissingEventsResponse, error) {
	f.asked = append(f.asked, req)
	var out federation.MissingEventsResponse
	for _, id := range req.LatestEvents {
		if js, ok := f.events[id]; ok {
			out.Events = append(out.Events, js)
		}
	}
	return out, nil
}

// roomEnv is a federationapi in front of a real roomserver of us.example (over its
// internal HTTP API, as in the polylith), with remote.example and stranger.example as the
// other servers.
type roomEnv struct {
	*testEnv
	rs       rsapi.RoomserverAPI
	fetcher  *fakeFetcher
	stranger signing.SigningKey
}

func newRoomEnv(t *testing.T) *roomEnv {
	base := newEnv(t)
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "rs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	direct, err := roomserver.NewInternalAPI(context.Background(), db, us, string(base.keys.own.ID), base.keys.own.Private, discardOutbox{},
		roomserver.Topics{RoomEvent: "room_event", Membership: "membership", Federation: "pdu_federation"})
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := signing.GenerateKey("s", nil)
	base.keys.remote["stranger.example|"+string(stranger.ID)] = skapi.PublicKey{ServerName: "stranger.example", KeyID: string(stranger.ID),
		Key: signing.EncodeBase64(stranger.Public()), ValidUntilTS: time.Now().Add(time.Hour).UnixMilli()}
	e := &roomEnv{testEnv: base, rs: inthttptest.Serve(t, direct), fetcher: &fakeFetcher{events: map[string]json.RawMessage{}}, stranger: stranger}
	root := mux.NewRouter()
	root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	Setup(root, root, Config{ServerName: us, RoomServer: e.rs, Fetcher: e.fetcher}, base.keys)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	e.srv = srv
	return e
}

// call makes an X-Matrix signed request as origin with key; out receives the JSON answer.
func (e *roomEnv) call(t *testing.T, key signing.SigningKey, origin, method, uri string, body any, out any) int {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	x, err := federation.RequestToSign{Method: method, URI: uri, Origin: origin, Destination: us, Content: raw}.Sign(key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, e.srv.URL+uri, bytes.NewReader(raw))
	req.Header.Set("Authorization", x.String())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// remoteEvent builds an event as remote.example with its current key.
func (e *roomEnv) remoteEvent(t *testing.T, b event.Builder) *event.Event {
	t.Helper()
	ev, err := b.Build("10", "remote.example", e.remote.ID, e.remote.Private)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestRoomEndpoints(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	alice, bob := "@alice:"+us, "@bob:remote.example"
	cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	room := cr.RoomID

	// make_join: only for the origin's own users; the room's version must be offered.
	var mj struct {
		RoomVersion string          `json:"room_version"`
		Event       json.RawMessage `json:"event"`
		ErrCode     string          `json:"errcode"`
	}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/make_join/"+room+"/@eve:stranger.example?ver=10", nil, &mj); s != 403 || mj.ErrCode != "M_FORBIDDEN" {
		t.Fatalf("make_join for another server's user: %d %s", s, mj.ErrCode)
	}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/make_join/"+room+"/"+bob+"?ver=1", nil, &mj); s != 400 || mj.ErrCode != "M_INCOMPATIBLE_ROOM_VERSION" {
		t.Fatalf("make_join without the room's version: %d %s", s, mj.ErrCode)
	}
	join := func(user string, v1 bool) []json.RawMessage {
		t.Helper()
		if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/make_join/"+room+"/"+user+"?ver=9&ver=10", nil, &mj); s != 200 || mj.RoomVersion != "10" {
			t.Fatalf("make_join: %d %+v", s, mj)
		}
		var tmpl struct {
			PrevEvents []string `json:"prev_events"`
			AuthEvents []string `json:"auth_events"`
			Depth      int64    `json:"depth"`
		}
		_ = json.Unmarshal(mj.Event, &tmpl)
		ev := e.remoteEvent(t, event.Builder{Type: "m.room.member", StateKey: &user, Sender: user, RoomID: room,
			Content: map[string]string{"membership": "join"}, PrevEvents: tmpl.PrevEvents, AuthEvents: tmpl.AuthEvents, Depth: tmpl.Depth})
		var answer struct {
			State     []json.RawMessage `json:"state"`
			AuthChain []json.RawMessage `json:"auth_chain"`
			Event     json.RawMessage   `json:"event"`
		}
		path := "/_matrix/federation/v2/send_join/" + room + "/" + ev.EventID()
		if v1 {
			path = "/_matrix/federation/v1/send_join/" + room + "/" + ev.EventID()
			var pair []json.RawMessage
			if s := e.call(t, e.remote, "remote.example", "PUT", path, json.RawMessage(ev.JSON()), &pair); s != 200 || len(pair) != 2 || string(pair[0]) != "200" {
				t.Fatalf("send_join v1: %d %s", s, pair)
			}
			_ = json.Unmarshal(pair[1], &answer)
		} else if s := e.call(t, e.remote, "remote.example", "PUT", path, json.RawMessage(ev.JSON()), &answer); s != 200 {
			t.Fatalf("send_join v2: %d", s)
		}
		if len(answer.State) < 5 || len(answer.AuthChain) == 0 || len(answer.Event) == 0 {
			t.Fatalf("send_join answer: %d state, %d auth chain", len(answer.State), len(answer.AuthChain))
		}
		return answer.State
	}
	join(bob, false)
	join("@carol:remote.example", true)
	if m, _, err := e.rs.QueryMembership(ctx, room, bob); err != nil || m != "join" {
		t.Fatalf("bob: %q %v", m, err)
	}

	// /send: a message on top of the room, one with a missing prev event fetched with
	// get_missing_events, a tampered one (stored redacted), a forged one.
	authFor := func(user string) []string {
		var ids []string
		for _, tp := range []rsapi.StateTuple{{EventType: "m.room.create"}, {EventType: "m.room.power_levels"}, {EventType: "m.room.member", StateKey: user}} {
			evs, err := e.rs.QueryCurrentState(ctx, room, []rsapi.StateTuple{tp})
			if err != nil || len(evs) != 1 {
				t.Fatalf("state %v: %v", tp, err)
			}
			parsed, _ := event.NewEventFromTrustedJSON(evs[0], "10")
			ids = append(ids, parsed.EventID())
		}
		return ids
	}
	prev := []string{lastEvent(t, e.rs, room, "@carol:remote.example")} // the forward extremity
	msg := func(body string, prev []string, depth int64) *event.Event {
		return e.remoteEvent(t, event.Builder{Type: "m.room.message", Sender: bob, RoomID: room,
			Content: map[string]string{"msgtype": "m.text", "body": body}, PrevEvents: prev, AuthEvents: authFor(bob), Depth: depth})
	}
	m1 := msg("one", prev, 20)
	gapped := msg("gapped", prev, 21)
	m2 := msg("two", []string{gapped.EventID()}, 22)
	e.fetcher.events[m2.EventID()] = gapped.JSON()
	var tampered map[string]any
	_ = json.Unmarshal(msg("secret", prev, 23).JSON(), &tampered)
	tampered["content"] = map[string]string{"msgtype": "m.text", "body": "changed"}
	tamperedJSON, _ := json.Marshal(tampered)
	other, _ := signing.GenerateKey("cur", nil) // remote's key ID, another key
	fb := event.Builder{Type: "m.room.message", Sender: bob, RoomID: room, Content: map[string]string{"body": "forged"},
		PrevEvents: prev, AuthEvents: authFor(bob), Depth: 24}
	forged, err := fb.Build("10", "remote.example", other.ID, other.Private)
	if err != nil {
		t.Fatal(err)
	}
	tamperedEv, err := event.NewEventFromUntrustedJSON(tamperedJSON, "10")
	if err != nil || !tamperedEv.IsRedacted() {
		t.Fatalf("tampered event: %v", err)
	}
	txn := map[string]any{"origin": "remote.example", "origin_server_ts": time.Now().UnixMilli(),
		"pdus": []json.RawMessage{m1.JSON(), m2.JSON(), tamperedJSON, forged.JSON()}, "edus": []any{map[string]any{"edu_type": "m.typing", "content": map[string]any{}}}}
	var res struct {
		PDUs map[string]struct {
			Error string `json:"error"`
		} `json:"pdus"`
	}
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/t1", txn, &res); s != 200 || len(res.PDUs) != 4 {
		t.Fatalf("send: %d %+v", s, res)
	}
	for id, want := range map[string]bool{m1.EventID(): true, m2.EventID(): true, tamperedEv.EventID(): true, forged.EventID(): false} {
		if ok := res.PDUs[id].Error == ""; ok != want {
			t.Errorf("result of %s: %+v", id, res.PDUs[id])
		}
	}
	if len(e.fetcher.asked) != 1 || e.fetcher.asked[0].LatestEvents[0] != m2.EventID() || len(e.fetcher.asked[0].EarliestEvents) == 0 {
		t.Fatalf("get_missing_events requests: %+v", e.fetcher.asked)
	}
	for _, id := range []string{m1.EventID(), m2.EventID(), gapped.EventID()} {
		if _, err := e.rs.QueryEvent(ctx, id); err != nil {
			t.Errorf("%s not stored: %v", id, err)
		}
	}
	if _, err := e.rs.QueryEvent(ctx, forged.EventID()); err == nil {
		t.Error("forged event stored")
	}
	if ev, err := e.rs.QueryEvent(ctx, tamperedEv.EventID()); err != nil || bytes.Contains(ev.Event, []byte("changed")) {
		t.Errorf("tampered event stored unredacted: %s %v", ev.Event, err)
	}
	// A repeat of t1 gets the first answer, whatever it holds; t1 from another origin is
	// another transaction.
	m3 := msg("three", []string{m2.EventID()}, 25)
	txn["pdus"] = []json.RawMessage{m3.JSON()}
	var again struct {
		PDUs map[string]any `json:"pdus"`
	}
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/t1", txn, &again); s != 200 || len(again.PDUs) != 4 {
		t.Fatalf("repeat: %d %+v", s, again)
	}
	if _, err := e.rs.QueryEvent(ctx, m3.EventID()); err == nil {
		t.Fatal("a repeated transaction ID was processed again")
	}
	// Limits.
	many := make([]json.RawMessage, 51)
	for i := range many {
		many[i] = m3.JSON()
	}
	var errBody map[string]any
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/t2", map[string]any{"pdus": many}, &errBody); s != 400 {
		t.Fatalf("51 PDUs: %d %v", s, errBody)
	}
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/t3", map[string]any{"origin": "remote.example"}, &errBody); s != 400 || errBody["errcode"] != "M_BAD_JSON" {
		t.Fatalf("no pdus: %d %v", s, errBody)
	}

	// /event, /state, /state_ids: for servers in the room only.
	var got struct {
		PDUs         []json.RawMessage `json:"pdus"`
		AuthChain    []json.RawMessage `json:"auth_chain"`
		PDUIDs       []string          `json:"pdu_ids"`
		AuthChainIDs []string          `json:"auth_chain_ids"`
		ErrCode      string            `json:"errcode"`
	}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/event/"+m1.EventID(), nil, &got); s != 200 || len(got.PDUs) != 1 {
		t.Fatalf("event: %d %+v", s, got)
	}
	if s := e.call(t, e.stranger, "stranger.example", "GET", "/_matrix/federation/v1/event/"+m1.EventID(), nil, &got); s != 403 || got.ErrCode != "M_FORBIDDEN" {
		t.Fatalf("event for a stranger: %d %+v", s, got)
	}
	got = struct {
		PDUs         []json.RawMessage `json:"pdus"`
		AuthChain    []json.RawMessage `json:"auth_chain"`
		PDUIDs       []string          `json:"pdu_ids"`
		AuthChainIDs []string          `json:"auth_chain_ids"`
		ErrCode      string            `json:"errcode"`
	}{}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/state_ids/"+room+"?event_id="+m2.EventID(), nil, &got); s != 200 || len(got.PDUIDs) < 7 || len(got.AuthChainIDs) == 0 {
		t.Fatalf("state_ids: %d %+v", s, got)
	}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/state/"+room+"?event_id="+m2.EventID(), nil, &got); s != 200 || len(got.PDUs) != len(got.PDUIDs) || len(got.AuthChain) == 0 {
		t.Fatalf("state: %d %d pdus", s, len(got.PDUs))
	}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/state/"+room, nil, &got); s != 400 || got.ErrCode != "M_MISSING_PARAM" {
		t.Fatalf("state without event_id: %d %s", s, got.ErrCode)
	}
	if s := e.call(t, e.stranger, "stranger.example", "GET", "/_matrix/federation/v1/state_ids/"+room+"?event_id="+m2.EventID(), nil, &got); s != 403 {
		t.Fatalf("state_ids for a stranger: %d", s)
	}
	// get_missing_events: what lies between bob's join and m2.
	var missing struct {
		Events  []json.RawMessage `json:"events"`
		ErrCode string            `json:"errcode"`
	}
	if s := e.call(t, e.remote, "remote.example", "POST", "/_matrix/federation/v1/get_missing_events/"+room,
		map[string]any{"earliest_events": prev, "latest_events": []string{m2.EventID()}, "limit": 10}, &missing); s != 200 || len(missing.Events) != 1 {
		t.Fatalf("get_missing_events: %d %d events", s, len(missing.Events))
	}
	if got, _ := event.NewEventFromTrustedJSON(missing.Events[0], "10"); got == nil || got.EventID() != gapped.EventID() {
		t.Fatalf("get_missing_events answered %s", missing.Events[0])
	}
	if s := e.call(t, e.remote, "remote.example", "POST", "/_matrix/federation/v1/get_missing_events/"+room, map[string]any{}, &missing); s != 400 || missing.ErrCode != "M_MISSING_PARAM" {
		t.Fatalf("get_missing_events without latest_events: %d %s", s, missing.ErrCode)
	}
	if s := e.call(t, e.stranger, "stranger.example", "POST", "/_matrix/federation/v1/get_missing_events/"+room,
		map[string]any{"latest_events": []string{m2.EventID()}}, nil); s != 403 {
		t.Fatalf("get_missing_events for a stranger: %d", s)
	}
	// Unauthenticated requests never reach the handlers.
	if status, body := e.do(t, "GET", "/_matrix/federation/v1/state_ids/"+room+"?event_id="+m2.EventID(), nil); status != 401 || body["errcode"] != "M_UNAUTHORIZED" {
		t.Fatalf("unsigned: %d %v", status, body)
	}
}

// lastEvent returns the ID of a user's current membership event.
func lastEvent(t *testing.T, rs rsapi.RoomserverAPI, room, user string) string {
	t.Helper()
	_, id, err := rs.QueryMembership(context.Background(), room, user)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// messageAuth returns the auth events of a message of user in room (create, power levels,
// the user's membership), as the room's current state names them.
func messageAuth(t *testing.T, e *roomEnv, room, user string) []string {
	t.Helper()
	var auth []string
	for _, tp := range []rsapi.StateTuple{{EventType: "m.room.create"}, {EventType: "m.room.power_levels"}, {EventType: "m.room.member", StateKey: user}} {
		evs, err := e.rs.QueryCurrentState(context.Background(), room, []rsapi.StateTuple{tp})
		if err != nil || len(evs) != 1 {
			t.Fatalf("state %v: %v", tp, err)
		}
		parsed, err := event.NewEventFromTrustedJSON(evs[0], "10")
		if err != nil {
			t.Fatal(err)
		}
		auth = append(auth, parsed.EventID())
	}
	return auth
}
