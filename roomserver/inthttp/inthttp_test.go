package inthttp

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver"
	"github.com/axon-matrix/axon/roomserver/api"
)

// discardOutbox accepts staged messages and drops them: these tests are about the transport.
type discardOutbox struct{}

func (discardOutbox) Stage(context.Context, *sql.Tx, ...eventlog.Message) error { return nil }
func (discardOutbox) Kick()                                                     {}
func (discardOutbox) Run(ctx context.Context) error                             { <-ctx.Done(); return nil }

const server = "test.local"

func direct(t *testing.T, dsn string) api.RoomserverAPI {
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, key, _ := ed25519.GenerateKey(nil)
	a, err := roomserver.NewInternalAPI(context.Background(), db, server, "ed25519:t", key, discardOutbox{},
		roomserver.Topics{RoomEvent: "room_event", Membership: "membership"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const secret = "s3cret"

// overHTTP puts the direct implementation behind AddRoutes on an httptest server, guarded
// by the internal API secret as the polylith guards it, and returns a Client of it.
func overHTTP(t *testing.T, dsn string) api.RoomserverAPI {
	root := mux.NewRouter()
	AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), direct(t, dsn))
	srv := httptest.NewServer(inthttp.RequireSecret(secret, root))
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, secret, inthttp.WithHTTPClient(srv.Client()))
}

func status(err error) (int, string) {
	var me *httputil.MatrixError
	if errors.As(err, &me) {
		return me.Status, me.ErrCode
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, ""
}

// TestSameBehaviourDirectAndOverHTTP runs one scenario against the direct implementation
// and against the inthttp client, on SQLite and Postgres: both must answer alike.
func TestSameBehaviourDirectAndOverHTTP(t *testing.T) {
	for dbName, dsn := range testenv.Databases(t) {
		for name, mk := range map[string]func(*testing.T, string) api.RoomserverAPI{"direct": direct, "inthttp": overHTTP} {
			t.Run(dbName+"/"+name, func(t *testing.T) { sameBehaviour(t, mk(t, dsn(t))) })
		}
	}
}

func sameBehaviour(t *testing.T, a api.RoomserverAPI) {
	ctx := context.Background()
	alice, bob := "@alice:"+server, "@bob:"+server
	room, err := a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat", Name: "Pub", RoomAliasName: "pub", Visibility: "public"})
	if err != nil {
		t.Fatal(err)
	}
	if room.RoomAlias != "#pub:"+server {
		t.Fatalf("alias %q", room.RoomAlias)
	}
	if _, err := a.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: "#pub:" + server, Sender: bob}); err != nil {
		t.Fatal(err)
	}
	sent, err := a.SendEvent(ctx, &api.SendEventRequest{RoomID: room.RoomID, Sender: bob, Type: "m.room.message", Content: json.RawMessage(`{"body":"hi"}`), TxnID: "1", DeviceID: "D"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := a.QueryEvent(ctx, sent.EventID)
	if err != nil || ev.RoomVersion != "12" || !json.Valid(ev.Event) {
		t.Fatalf("QueryEvent %+v %v", ev, err)
	}
	if m, id, err := a.QueryMembership(ctx, room.RoomID, bob); err != nil || m != "join" || id == "" {
		t.Fatalf("membership %q %q %v", m, id, err)
	}
	st, err := a.QueryCurrentState(ctx, room.RoomID, []api.StateTuple{{EventType: "m.room.name"}})
	if err != nil || len(st) != 1 {
		t.Fatalf("state %v %v", st, err)
	}
	if st, err := a.QueryStateForUser(ctx, room.RoomID, bob, nil); err != nil || len(st) < 8 {
		t.Fatalf("state for user %d %v", len(st), err)
	}
	if v, err := a.QueryRoomVersion(ctx, room.RoomID); v != "12" || err != nil {
		t.Fatalf("version %q %v", v, err)
	}
	if rooms, err := a.QueryRoomsForUser(ctx, bob, []string{"join"}); err != nil || len(rooms) != 1 {
		t.Fatalf("rooms %v %v", rooms, err)
	}
	if err := a.SetRoomAlias(ctx, "#other:"+server, room.RoomID, bob); err != nil {
		t.Fatal(err)
	}
	if id, servers, err := a.ResolveRoomAlias(ctx, "#other:"+server); err != nil || id != room.RoomID || len(servers) != 1 {
		t.Fatalf("resolve %q %v %v", id, servers, err)
	}
	if aliases, err := a.GetAliasesForRoom(ctx, room.RoomID); err != nil || len(aliases) != 2 {
		t.Fatalf("aliases %v %v", aliases, err)
	}
	if err := a.RemoveRoomAlias(ctx, "#other:"+server, bob); err != nil {
		t.Fatal(err)
	}
	if pr, err := a.QueryPublicRooms(ctx, &api.PublicRoomsRequest{Filter: "pub"}); err != nil || len(pr.Chunk) != 1 || pr.Chunk[0].NumJoinedMembers != 2 {
		t.Fatalf("public rooms %+v %v", pr, err)
	}
	if err := a.SetRoomVisibility(ctx, room.RoomID, alice, "private"); err != nil {
		t.Fatal(err)
	}
	if v, err := a.GetRoomVisibility(ctx, room.RoomID); v != "private" || err != nil {
		t.Fatalf("visibility %q %v", v, err)
	}
	if _, err := a.PerformMembership(ctx, &api.MembershipRequest{Action: "leave", RoomID: room.RoomID, Sender: bob}); err != nil {
		t.Fatal(err)
	}
	if err := a.Forget(ctx, room.RoomID, bob); err != nil {
		t.Fatal(err)
	}
	// Errors keep their status and errcode.
	errTests := []struct {
		name       string
		call       func() error
		wantStatus int
		wantCode   string
	}{
		{"unknown room", func() error { _, err := a.QueryRoomVersion(ctx, "!x:"+server); return err }, 404, "M_NOT_FOUND"},
		{"forbidden", func() error {
			_, err := a.SendEvent(ctx, &api.SendEventRequest{RoomID: room.RoomID, Sender: bob, Type: "m.room.message", Content: json.RawMessage(`{}`)})
			return err
		}, 403, "M_FORBIDDEN"},
		{"unsupported version", func() error {
			_, err := a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: "0"})
			return err
		}, 400, "M_UNSUPPORTED_ROOM_VERSION"},
		{"alias taken", func() error { return a.SetRoomAlias(ctx, "#pub:"+server, room.RoomID, alice) }, 409, "M_UNKNOWN"},
		{"forget while joined", func() error { return a.Forget(ctx, room.RoomID, alice) }, 400, "M_UNKNOWN"},
		{"content not JSON", func() error {
			_, err := a.SendEvent(ctx, &api.SendEventRequest{RoomID: room.RoomID, Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{nope`)})
			return err
		}, 400, "M_BAD_JSON"},
		{"creation_content not JSON", func() error {
			_, err := a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, CreationContent: json.RawMessage(`[`)})
			return err
		}, 400, "M_BAD_JSON"},
	}
	for _, tc := range errTests {
		if s, c := status(tc.call()); s != tc.wantStatus || c != tc.wantCode {
			t.Errorf("%s: %d %s, want %d %s", tc.name, s, c, tc.wantStatus, tc.wantCode)
		}
	}
}

func TestClientWithoutSecretIsRefused(t *testing.T) {
	root := mux.NewRouter()
	AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), direct(t, testenv.SQLitePath(t, "rs")))
	srv := httptest.NewServer(inthttp.RequireSecret(secret, root))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, "", inthttp.WithHTTPClient(srv.Client()))
	if s, code := status(c.Forget(context.Background(), "!r:x", "@u:x")); s != 401 || code != "M_UNAUTHORIZED" {
		t.Fatalf("%d %s", s, code)
	}
}
