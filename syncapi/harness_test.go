package syncapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	rsinthttptest "github.com/axon-matrix/axon/roomserver/inthttp/inthttptest"
	"github.com/axon-matrix/axon/syncapi"
	userapi "github.com/axon-matrix/axon/userapi/api"
	uinthttptest "github.com/axon-matrix/axon/userapi/inthttp/inthttptest"
)

// fakeUserAPI knows access tokens "<localpart>_tok" for device "<LOCALPART>DEV" and stored filters.
type fakeUserAPI struct {
	userapi.UserAPI
	mu      sync.Mutex
	filters map[string]json.RawMessage
}

func (f *fakeUserAPI) QueryAccessToken(_ context.Context, tok string) (*userapi.Device, error) {
	lp, ok := strings.CutSuffix(tok, "_tok")
	if !ok {
		return nil, httputil.UnknownToken("Unknown access token")
	}
	return &userapi.Device{UserID: "@" + lp + ":test", DeviceID: strings.ToUpper(lp) + "DEV"}, nil
}

func (f *fakeUserAPI) GetFilter(_ context.Context, userID, id string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.filters[userID+"/"+id]; ok {
		return v, nil
	}
	return nil, httputil.NotFound("no filter")
}

// fakeRoomserver serves QueryEvent from a map (arrow 2).
type fakeRoomserver struct {
	rsapi.RoomserverAPI
	mu       sync.Mutex
	events   map[string]json.RawMessage
	writePos map[string]int64
	// queries counts the calls of QueryEvent and QueryEventsByID.
	queries, bulkQueries int
}

// QueryEventsByID answers from the same map as QueryEvent, unknown IDs left out.
func (f *fakeRoomserver) QueryEventsByID(_ context.Context, ids []string) (map[string]rsapi.EventJSON, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bulkQueries++
	if len(ids) > rsapi.MaxQueryEvents {
		return nil, httputil.InvalidParam("too many event IDs")
	}
	out := map[string]rsapi.EventJSON{}
	for _, id := range ids {
		if e, ok := f.events[id]; ok {
			out[id] = rsapi.EventJSON{RoomVersion: "10", Event: e}
		}
	}
	return out, nil
}

// QueryWritePosition (arrow 2, read your writes) answers from writePos (room or user ID →
// position); unknown ones are 0, so the fake never makes a read wait unless told to.
func (f *fakeRoomserver) QueryWritePosition(_ context.Context, roomID, userID string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return max(f.writePos[roomID], f.writePos[userID]), nil
}

func (f *fakeRoomserver) QueryEvent(_ context.Context, id string) (*rsapi.EventJSON, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	if e, ok := f.events[id]; ok {
		return &rsapi.EventJSON{RoomVersion: "10", Event: e}, nil
	}
	return nil, httputil.NotFound("no event %s", id)
}

// harness is a syncapi on a fresh database with its routes on an httptest-free router, fed
// by calling the topic handlers directly. Its userapi and roomserver are the fakes above,
// handed over directly (the monolith) or through their inthttp clients (the polylith: the
// token checks and filters of the Tier 1 → userapi arrow, and arrow 2's QueryEvent).
type harness struct {
	t      testing.TB
	api    *syncapi.SyncAPI
	router *mux.Router
	users  *fakeUserAPI
	rs     *fakeRoomserver
	pos    int64 // last topic 2 position handed out
	adPos  int64 // last topic 1 position handed out
	n      int   // event counter
}

// The two ways of handing the syncapi its userapi and roomserver.
const (
	implDirect  = "direct"
	implInthttp = "inthttp"
)

var impls = []string{implDirect, implInthttp}

// newHarness is a harness on the direct implementations.
func newHarness(t testing.TB, dsn string) *harness {
	t.Helper()
	return newHarnessImpl(t, implDirect, dsn)
}

// newHarnessImpl is a harness on dsn whose syncapi reaches the fakes as impl says
// (implDirect or implInthttp).
func newHarnessImpl(t testing.TB, impl, dsn string) *harness {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	users := &fakeUserAPI{filters: map[string]json.RawMessage{}}
	rs := &fakeRoomserver{events: map[string]json.RawMessage{}, writePos: map[string]int64{}}
	var u userapi.UserAPI = users
	var r rsapi.RoomserverAPI = rs
	switch impl {
	case implDirect:
	case implInthttp:
		u, r = uinthttptest.Serve(t, users), rsinthttptest.Serve(t, rs)
	default:
		t.Fatalf("unknown impl %q", impl)
	}
	api, err := syncapi.New(context.Background(), db, r, u)
	if err != nil {
		t.Fatal(err)
	}
	router := mux.NewRouter()
	api.AddPublicRoutes(router)
	return &harness{t: t, api: api, router: router, users: users, rs: rs}
}

func user(lp string) string { return "@" + lp + ":test" }

// ev is a federation-format event under construction.
type ev struct {
	id, room, sender, typ string
	stateKey              *string
	content               string
	txnDevice, txnID      string
	unsigned              string
}

func (e ev) json() json.RawMessage {
	m := map[string]any{"event_id": e.id, "room_id": e.room, "sender": e.sender, "type": e.typ,
		"content": json.RawMessage(e.content), "origin_server_ts": 1700000000000, "depth": 1,
		"prev_events": []string{}, "auth_events": []string{}, "hashes": map[string]string{"sha256": "x"}}
	if e.stateKey != nil {
		m["state_key"] = *e.stateKey
	}
	if e.unsigned != "" {
		m["unsigned"] = json.RawMessage(e.unsigned)
	}
	b, _ := json.Marshal(m)
	return b
}

func (h *harness) nextID() string {
	h.n++
	return fmt.Sprintf("$ev%d", h.n)
}

// record builds the topic 2 record of e at position pos (the event enters the state when
// it is a state event).
func record(pos int64, e ev) rsapi.OutputEvent {
	d := &rsapi.OutputNewRoomEventData{RoomVersion: "10", Event: e.json(), TxnDeviceID: e.txnDevice, TxnID: e.txnID}
	if e.stateKey != nil {
		d.AddsStateEventIDs = []string{e.id}
	}
	return rsapi.OutputEvent{Type: rsapi.OutputNewRoomEvent, StreamPos: pos, NewRoomEvent: d}
}

// deliver hands a topic 2 record to the consumer.
func (h *harness) deliver(out rsapi.OutputEvent) {
	h.t.Helper()
	b, _ := json.Marshal(out)
	if err := h.api.RoomEvents.Handle(context.Background(), eventlog.Message{Topic: "room_event", Key: "k", Value: b}); err != nil {
		h.t.Fatalf("handle pos %d: %v", out.StreamPos, err)
	}
}

// send publishes e at the next position and returns its ID.
func (h *harness) send(e ev) string {
	h.t.Helper()
	if e.id == "" {
		e.id = h.nextID()
	}
	h.pos++
	h.deliver(record(h.pos, e))
	return e.id
}

func sk(s string) *string { return &s }

func (h *harness) msg(room, sender, body string) string {
	return h.send(ev{room: room, sender: sender, typ: "m.room.message", content: fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, body)})
}

func (h *harness) member(room, sender, target, membership string) string {
	return h.send(ev{room: room, sender: sender, typ: "m.room.member", stateKey: sk(target), content: fmt.Sprintf(`{"membership":%q}`, membership)})
}

func (h *harness) state(room, sender, typ, key, content string) string {
	return h.send(ev{room: room, sender: sender, typ: typ, stateKey: sk(key), content: content})
}

// createRoom makes a room created and joined by creator.
func (h *harness) createRoom(room, creator string) {
	h.state(room, creator, "m.room.create", "", `{"room_version":"10"}`)
	h.member(room, creator, creator, "join")
	h.state(room, creator, "m.room.history_visibility", "", `{"history_visibility":"shared"}`)
}

func (h *harness) accountData(userID, roomID, typ, content string) {
	h.t.Helper()
	h.adPos++
	b, _ := json.Marshal(userapi.OutputAccountData{StreamPos: h.adPos, UserID: userID, RoomID: roomID, Type: typ, Content: json.RawMessage(content)})
	if err := h.api.AccountData.Handle(context.Background(), eventlog.Message{Value: b}); err != nil {
		h.t.Fatal(err)
	}
}

// get performs an authenticated GET (token "" sends none) and decodes the JSON body.
func (h *harness) get(token, path string) (int, map[string]any) {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		h.t.Fatalf("GET %s: %d %q is not a JSON object", path, rec.Code, rec.Body.String())
	}
	return rec.Code, body
}

// syncResp is the part of a /sync response the tests look at.
type syncResp struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events    []clientEvent `json:"events"`
				Limited   bool          `json:"limited"`
				PrevBatch string        `json:"prev_batch"`
			} `json:"timeline"`
			State       struct{ Events []clientEvent } `json:"state"`
			AccountData struct{ Events []clientEvent } `json:"account_data"`
			Summary     map[string]any                 `json:"summary"`
		} `json:"join"`
		Invite map[string]struct {
			InviteState struct{ Events []clientEvent } `json:"invite_state"`
		} `json:"invite"`
		Leave map[string]struct {
			Timeline struct {
				Events []clientEvent `json:"events"`
			} `json:"timeline"`
			State struct{ Events []clientEvent } `json:"state"`
		} `json:"leave"`
	} `json:"rooms"`
	AccountData struct{ Events []clientEvent } `json:"account_data"`
}

type clientEvent struct {
	EventID  string          `json:"event_id"`
	Type     string          `json:"type"`
	Sender   string          `json:"sender"`
	StateKey *string         `json:"state_key"`
	RoomID   string          `json:"room_id"`
	Content  map[string]any  `json:"content"`
	Unsigned map[string]any  `json:"unsigned"`
	Raw      json.RawMessage `json:"-"`
}

func (h *harness) sync(token, query string) syncResp {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/sync?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	if rec.Code != 200 {
		h.t.Fatalf("sync %s: %d %s", query, rec.Code, rec.Body.String())
	}
	var r syncResp
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func eventIDs(evs []clientEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.EventID
	}
	return out
}

func idsOf(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(map[string]any)["event_id"].(string))
	}
	return out
}
