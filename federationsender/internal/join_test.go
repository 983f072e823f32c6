package internal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/signing"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// fakeKeys is the serverkeyapi as arrow 12 uses it: FetchKeys from a fixed set.
type fakeKeys struct {
	keys  map[string]signing.SigningKey // server name → key
	calls int
}

func (f *fakeKeys) FetchKeys(_ context.Context, req *skapi.FetchKeysRequest) (*skapi.FetchKeysResponse, error) {
	f.calls++
	var out skapi.FetchKeysResponse
	for _, r := range req.Keys {
		if k, ok := f.keys[r.ServerName]; ok && string(k.ID) == r.KeyID {
			out.Keys = append(out.Keys, skapi.PublicKey{ServerName: r.ServerName, KeyID: r.KeyID,
				Key: signing.EncodeBase64(k.Public()), ValidUntilTS: 1 << 50})
		}
	}
	return &out, nil
}
func (f *fakeKeys) ServerKeys(context.Context) (json.RawMessage, error) {
	return nil, errors.New("unused")
}
func (f *fakeKeys) QueryKeys(context.Context, *skapi.QueryKeysRequest) (*skapi.QueryKeysResponse, error) {
	return nil, errors.New("unused")
}
func (f *fakeKeys) VerifyJSON(context.Context, *skapi.VerifyJSONRequest) (*skapi.VerifyJSONResponse, error) {
	return nil, errors.New("unused")
}

// resident is a fake remote server holding a room: it answers make_join and send_join
// (v2, or only v1 when noV2), and can misbehave as a test asks.
type resident struct {
	t       *testing.T
	srv     *httptest.Server
	name    string
	key     signing.SigningKey
	version matrix.RoomVersionID
	roomID  string
	state   []*event.Event
	last    *event.Event

	noV2          bool
	makeJoinError int                                      // status to answer make_join with
	tamperState   int                                      // index of a state event whose signature is broken (-1: none)
	returnEvent   func(ours map[string]any) map[string]any // the "event" of send_join v2, from ours
	gotJoin       json.RawMessage
}

func newResident(t *testing.T, version matrix.RoomVersionID) *resident {
	r := &resident{t: t, version: version, key: testKey(t, "res"), tamperState: -1}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	r.name = r.srv.Listener.Addr().String()
	creator := "@alice:" + r.name
	v := matrix.MustRoomVersion(version)
	build := func(b event.Builder) *event.Event {
		t.Helper()
		if b.RoomID == "" && !(v.RoomIDFromCreateEvent && b.Type == "m.room.create") {
			b.RoomID = r.roomID
		}
		b.Sender = creator
		b.ReferenceHashes = map[string]string{}
		for _, e := range r.state {
			h, _ := e.ReferenceHash()
			b.ReferenceHashes[e.EventID()] = h
		}
		e, err := b.Build(version, r.name, r.key.ID, r.key.Private)
		if err != nil {
			t.Fatal(err)
		}
		r.state = append(r.state, e)
		r.last = e
		return e
	}
	empty := ""
	createContent := map[string]any{"room_version": string(version)}
	if !v.RoomIDFromCreateEvent {
		r.roomID = "!room:" + r.name
	}
	if version == "1" {
		createContent["creator"] = creator
	}
	create := build(event.Builder{Type: "m.room.create", StateKey: &empty, Content: createContent, Depth: 1})
	if v.RoomIDFromCreateEvent {
		r.roomID = create.RoomID()
	}
	auth := []string{create.EventID()}
	if v.RoomIDFromCreateEvent {
		auth = nil // v12: the create event is implied
	}
	member := build(event.Builder{Type: "m.room.member", StateKey: &creator, Content: map[string]any{"membership": "join"},
		PrevEvents: []string{create.EventID()}, AuthEvents: auth, Depth: 2})
	pl := build(event.Builder{Type: "m.room.power_levels", StateKey: &empty, Content: map[string]any{"users": map[string]int{creator: 100}},
		PrevEvents: []string{member.EventID()}, AuthEvents: append(auth, member.EventID()), Depth: 3})
	build(event.Builder{Type: "m.room.join_rules", StateKey: &empty, Content: map[string]any{"join_rule": "public"},
		PrevEvents: []string{pl.EventID()}, AuthEvents: append(auth, member.EventID(), pl.EventID()), Depth: 4})
	return r
}

func (r *resident) refs(ids ...string) any {
	if matrix.MustRoomVersion(r.version).EventIDFormat != matrix.EventIDFormatServer {
		return ids
	}
	var pairs [][]any
	for _, id := range ids {
		for _, e := range r.state {
			if e.EventID() == id {
				h, _ := e.ReferenceHash()
				pairs = append(pairs, []any{id, map[string]string{"sha256": h}})
			}
		}
	}
	return pairs
}

func (r *resident) serve(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	p := req.URL.Path
	switch {
	case strings.HasPrefix(p, "/_matrix/federation/v1/make_join/"):
		if r.makeJoinError != 0 {
			w.WriteHeader(r.makeJoinError)
			w.Write([]byte(`{"errcode":"M_FORBIDDEN","error":"not invited"}`))
			return
		}
		if !strings.Contains(req.URL.RawQuery, "ver="+string(r.version)) {
			w.WriteHeader(400)
			w.Write([]byte(`{"errcode":"M_INCOMPATIBLE_ROOM_VERSION","error":"no"}`))
			return
		}
		user := p[strings.LastIndex(p, "/")+1:]
		authIDs := []string{}
		for _, e := range r.state {
			if e.Type() != "m.room.create" || !matrix.MustRoomVersion(r.version).RoomIDFromCreateEvent {
				if e.Type() != "m.room.member" {
					authIDs = append(authIDs, e.EventID())
				}
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"room_version": r.version, "event": map[string]any{
			"type": "m.room.member", "state_key": user, "sender": user, "room_id": r.roomID,
			"content": map[string]any{"membership": "join"}, "prev_events": r.refs(r.last.EventID()),
			"auth_events": r.refs(authIDs...), "depth": r.last.Depth() + 1, "origin_server_ts": 1}})
	case strings.HasPrefix(p, "/_matrix/federation/v2/send_join/") && r.noV2:
		w.WriteHeader(404)
		w.Write([]byte(`{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`))
	case strings.HasPrefix(p, "/_matrix/federation/v1/send_join/"), strings.HasPrefix(p, "/_matrix/federation/v2/send_join/"):
		var ours map[string]any
		raw := json.RawMessage{}
		json.NewDecoder(req.Body).Decode(&raw)
		r.gotJoin = raw
		json.Unmarshal(raw, &ours)
		var state []json.RawMessage
		for i, e := range r.state {
			js := json.RawMessage(e.JSON())
			if i == r.tamperState {
				var m map[string]any
				json.Unmarshal(js, &m)
				m["signatures"] = map[string]any{r.name: map[string]string{string(r.key.ID): signing.EncodeBase64(make([]byte, 64))}}
				js, _ = json.Marshal(m)
			}
			state = append(state, js)
		}
		body := map[string]any{"origin": r.name, "state": state, "auth_chain": state}
		if r.returnEvent != nil {
			body["event"] = r.returnEvent(ours)
		}
		if strings.Contains(p, "/v1/") {
			json.NewEncoder(w).Encode([]any{200, body})
			return
		}
		json.NewEncoder(w).Encode(body)
	default:
		w.WriteHeader(404)
		w.Write([]byte(`{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`))
	}
}

func testAPI(t *testing.T, r *resident) (*API, signing.SigningKey) {
	key := testKey(t, "me")
	keys := &fakeKeys{keys: map[string]signing.SigningKey{testOrigin: key, r.name: r.key}}
	return &API{ServerName: testOrigin, Key: key, Client: testClient(t, key), Keys: keys}, key
}

// TestPerformJoin joins rooms of versions 1, 10 and 12 held by a fake resident server:
// the join event is ours (built from the template, signed by us, with the caller's
// content), and the room's state and auth chain come back verified.
func TestPerformJoin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version matrix.RoomVersionID
		noV2    bool
	}{
		{"v10", "10", false},
		{"v1", "1", false},
		{"v12", "12", false},
		{"v10 send_join v1 fallback", "10", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResident(t, tc.version)
			r.noV2 = tc.noV2
			a, key := testAPI(t, r)
			user := "@bob:" + testOrigin
			resp, err := a.PerformJoin(context.Background(), &api.PerformJoinRequest{RoomID: r.roomID, UserID: user,
				ServerNames: []string{testOrigin, r.name}, Content: json.RawMessage(`{"displayname":"Bob","membership":"leave"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if resp.RoomVersion != string(tc.version) || resp.Origin != r.name || len(resp.StateEvents) != 4 || len(resp.AuthChain) != 4 {
				t.Fatalf("response: version %s origin %s, %d state, %d auth", resp.RoomVersion, resp.Origin, len(resp.StateEvents), len(resp.AuthChain))
			}
			// The IDs and parsed events, which spare the roomserver a second parse, match the
			// JSON index for index.
			for _, part := range []struct {
				raws   []json.RawMessage
				ids    []string
				parsed []matrix.PDU
			}{{resp.StateEvents, resp.StateEventIDs, resp.StateParsed}, {resp.AuthChain, resp.AuthChainIDs, resp.AuthChainParsed}} {
				if len(part.ids) != len(part.raws) || len(part.parsed) != len(part.raws) {
					t.Fatalf("%d events, %d IDs, %d parsed", len(part.raws), len(part.ids), len(part.parsed))
				}
				for i, raw := range part.raws {
					e, err := event.NewEventFromUntrustedJSON(raw, tc.version)
					if err != nil || e.EventID() != part.ids[i] || part.parsed[i].EventID() != part.ids[i] || string(part.parsed[i].JSON()) != string(raw) {
						t.Fatalf("event %d: %v, ID %s, listed %s, parsed %s", i, err, e.EventID(), part.ids[i], part.parsed[i].EventID())
					}
				}
			}
			join, err := event.NewEventFromUntrustedJSON(resp.JoinEvent, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			var content struct{ Membership, Displayname string }
			json.Unmarshal(join.Content(), &content)
			if join.Sender() != user || !join.StateKeyEquals(user) || content.Membership != "join" || content.Displayname != "Bob" {
				t.Fatalf("join event: %s", resp.JoinEvent)
			}
			if join.PrevEventIDs()[0] != r.last.EventID() || join.Depth() != r.last.Depth()+1 {
				t.Fatalf("join event not from the template: %s", resp.JoinEvent)
			}
			lookup := func(_ context.Context, s string, id signing.KeyID) (event.VerifyKey, error) {
				return event.VerifyKey{Key: key.Public()}, nil
			}
			if err := event.VerifyEventSignatures(context.Background(), join, lookup); err != nil {
				t.Fatalf("our signature: %v", err)
			}
			if string(r.gotJoin) == "" {
				t.Fatal("the resident got no join")
			}
		})
	}
}

// TestPerformJoinVerifies: a state event with a bad signature is dropped (the spec's
// rule), a join event the resident changed beyond signing it is an error, a forged
// signature on it too, and the resident's refusal is M_FORBIDDEN.
func TestPerformJoinVerifies(t *testing.T) {
	ctx := context.Background()
	user := "@bob:" + testOrigin
	join := func(r *resident) (*api.PerformJoinResponse, error) {
		a, _ := testAPI(t, r)
		return a.PerformJoin(ctx, &api.PerformJoinRequest{RoomID: r.roomID, UserID: user, ServerNames: []string{r.name}})
	}

	r := newResident(t, "10")
	r.tamperState = 2 // the power levels
	resp, err := join(r)
	if err != nil || len(resp.StateEvents) != 3 || len(resp.AuthChain) != 3 {
		t.Fatalf("bad signature: %v, %+v", err, resp)
	}
	for _, s := range resp.StateEvents {
		if strings.Contains(string(s), "m.room.power_levels") {
			t.Fatal("the event with a bad signature was kept")
		}
	}

	r = newResident(t, "10")
	r.tamperState = 0 // the create event: nothing can be joined without it
	if _, err := join(r); err == nil {
		t.Fatal("join without a valid create event succeeded")
	}

	r = newResident(t, "10")
	r.returnEvent = func(ours map[string]any) map[string]any {
		signed, _ := json.Marshal(ours)
		out, _ := event.SignEventJSON("10", r.name, r.key.ID, r.key.Private, signed)
		var m map[string]any
		json.Unmarshal(out, &m)
		return m
	}
	if resp, err := join(r); err != nil || !strings.Contains(string(resp.JoinEvent), r.name) {
		t.Fatalf("countersigned join: %v %+v", err, resp)
	}

	r = newResident(t, "10")
	r.returnEvent = func(ours map[string]any) map[string]any {
		ours["origin_server_ts"] = 5 // changed beyond a signature
		return ours
	}
	if _, err := join(r); err == nil {
		t.Fatal("a changed join event was accepted")
	}

	r = newResident(t, "10")
	r.returnEvent = func(ours map[string]any) map[string]any {
		sigs := ours["signatures"].(map[string]any)
		sigs[r.name] = map[string]string{string(r.key.ID): signing.EncodeBase64(make([]byte, 64))}
		return ours
	}
	if _, err := join(r); err == nil {
		t.Fatal("a join event with a forged resident signature was accepted")
	}

	r = newResident(t, "10")
	r.makeJoinError = 403
	var me *httputil.MatrixError
	if _, err := join(r); !errors.As(err, &me) || me.ErrCode != "M_FORBIDDEN" || me.Status != 403 {
		t.Fatalf("refused join: %v", err)
	}

	a, _ := testAPI(t, r)
	for _, bad := range []api.PerformJoinRequest{
		{RoomID: r.roomID, UserID: "@bob:elsewhere", ServerNames: []string{r.name}},
		{RoomID: "nonsense", UserID: user, ServerNames: []string{r.name}},
	} {
		if _, err := a.PerformJoin(ctx, &bad); !errors.As(err, &me) || me.Status != 400 {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
	if _, err := a.PerformJoin(ctx, &api.PerformJoinRequest{RoomID: r.roomID, UserID: user, ServerNames: []string{testOrigin}}); !errors.As(err, &me) || me.ErrCode != "M_NOT_FOUND" {
		t.Fatalf("no server: %v", err)
	}
}
