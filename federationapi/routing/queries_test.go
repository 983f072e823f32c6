package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/userapi"
	uapi "github.com/axon-matrix/axon/userapi/api"
	userinthttptest "github.com/axon-matrix/axon/userapi/inthttp/inthttptest"
)

// TestQueryEndpoints drives /query/profile (a real userapi over its internal HTTP API) and
// /query/directory (a real roomserver, arrow 3) with X-Matrix signed requests from
// remote.example: profiles of local users (whole and one field), aliases of local rooms
// with the servers of their joined members (remote.example once bob has joined), and the
// spec's errors for unknown, foreign and malformed input and for unsigned requests.
func TestQueryEndpoints(t *testing.T) {
	ctx := context.Background()
	e := newRoomEnv(t)
	udb, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "users")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udb.Close() })
	direct, err := userapi.NewInternalAPI(udb, us, discardOutbox{}, "account_data", userapi.WithBcryptCost(4))
	if err != nil {
		t.Fatal(err)
	}
	users := userinthttptest.Serve(t, direct)
	root := mux.NewRouter()
	root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	Setup(root, root, Config{ServerName: us, RoomServer: e.rs, Fetcher: e.fetcher, UserAPI: users}, e.keys)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	e.srv = srv

	alice, err := users.CreateAccount(ctx, &uapi.CreateAccountRequest{Localpart: "alice", DisplayName: "Alice A."})
	if err != nil {
		t.Fatal(err)
	}
	if err := users.SetAvatarURL(ctx, alice.UserID, "mxc://us.example/abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.CreateAccount(ctx, &uapi.CreateAccountRequest{Localpart: "plain"}); err != nil {
		t.Fatal(err)
	}
	if err := users.SetDisplayName(ctx, "@plain:"+us, ""); err != nil {
		t.Fatal(err)
	}

	profile := func(user, field string) string {
		v := url.Values{"user_id": {user}}
		if field != "" {
			v.Set("field", field)
		}
		return "/_matrix/federation/v1/query/profile?" + v.Encode()
	}
	for _, tc := range []struct {
		name, uri string
		status    int
		want      map[string]any
	}{
		{"whole profile", profile(alice.UserID, ""), 200, map[string]any{"displayname": "Alice A.", "avatar_url": "mxc://us.example/abc"}},
		{"display name", profile(alice.UserID, "displayname"), 200, map[string]any{"displayname": "Alice A."}},
		{"avatar", profile(alice.UserID, "avatar_url"), 200, map[string]any{"avatar_url": "mxc://us.example/abc"}},
		{"empty profile", profile("@plain:"+us, ""), 200, map[string]any{}},
		{"unknown user", profile("@nobody:"+us, ""), 404, map[string]any{"errcode": "M_NOT_FOUND"}},
		{"another server's user", profile("@bob:remote.example", ""), 400, map[string]any{"errcode": "M_INVALID_PARAM"}},
		{"not a user ID", profile("alice", ""), 400, map[string]any{"errcode": "M_INVALID_PARAM"}},
		{"unknown field", profile(alice.UserID, "status"), 400, map[string]any{"errcode": "M_INVALID_PARAM"}},
		{"no user_id", "/_matrix/federation/v1/query/profile", 400, map[string]any{"errcode": "M_MISSING_PARAM"}},
	} {
		var got map[string]any
		status := e.call(t, e.remote, "remote.example", "GET", tc.uri, nil, &got)
		delete(got, "error")
		if status != tc.status || !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s: %d %v, want %d %v", tc.name, status, got, tc.status, tc.want)
		}
	}

	cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice.UserID, Preset: "public_chat", RoomVersion: "10",
		RoomAliasName: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	directory := func(alias string) string {
		return "/_matrix/federation/v1/query/directory?" + url.Values{"room_alias": {alias}}.Encode()
	}
	var dir struct {
		RoomID  string   `json:"room_id"`
		Servers []string `json:"servers"`
	}
	if s := e.call(t, e.remote, "remote.example", "GET", directory("#lobby:"+us), nil, &dir); s != 200 || dir.RoomID != cr.RoomID ||
		!reflect.DeepEqual(dir.Servers, []string{us}) {
		t.Fatalf("directory: %d %+v", s, dir)
	}
	joinRemote(t, e, cr.RoomID, "@bob:remote.example")
	if s := e.call(t, e.remote, "remote.example", "GET", directory("#lobby:"+us), nil, &dir); s != 200 ||
		!reflect.DeepEqual(dir.Servers, []string{us, "remote.example"}) {
		t.Fatalf("directory after bob's join: %d %+v", s, dir)
	}
	for _, tc := range []struct {
		name, uri string
		status    int
		code      string
	}{
		{"unknown alias", directory("#nowhere:" + us), 404, "M_NOT_FOUND"},
		{"another server's alias", directory("#lobby:remote.example"), 404, "M_NOT_FOUND"},
		{"not an alias", directory("lobby"), 400, "M_INVALID_PARAM"},
		{"no room_alias", "/_matrix/federation/v1/query/directory", 400, "M_MISSING_PARAM"},
	} {
		var got map[string]any
		if s := e.call(t, e.remote, "remote.example", "GET", tc.uri, nil, &got); s != tc.status || got["errcode"] != tc.code {
			t.Fatalf("%s: %d %v, want %d %s", tc.name, s, got, tc.status, tc.code)
		}
	}

	// Unsigned requests are refused before anything is looked up.
	for _, uri := range []string{profile(alice.UserID, ""), directory("#lobby:" + us)} {
		if s, body := e.do(t, "GET", uri, nil); s != 401 || body["errcode"] != "M_UNAUTHORIZED" {
			t.Fatalf("unsigned %s: %d %v", uri, s, body)
		}
	}
}

// joinRemote joins user (of remote.example) to room through make_join and v2 send_join.
func joinRemote(t *testing.T, e *roomEnv, room, user string) {
	t.Helper()
	var mj struct {
		Event json.RawMessage `json:"event"`
	}
	if s := e.call(t, e.remote, "remote.example", "GET", "/_matrix/federation/v1/make_join/"+room+"/"+user+"?ver=10", nil, &mj); s != 200 {
		t.Fatalf("make_join: %d", s)
	}
	var tmpl struct {
		PrevEvents []string `json:"prev_events"`
		AuthEvents []string `json:"auth_events"`
		Depth      int64    `json:"depth"`
	}
	_ = json.Unmarshal(mj.Event, &tmpl)
	ev := e.remoteEvent(t, event.Builder{Type: "m.room.member", StateKey: &user, Sender: user, RoomID: room,
		Content: map[string]string{"membership": "join"}, PrevEvents: tmpl.PrevEvents, AuthEvents: tmpl.AuthEvents, Depth: tmpl.Depth})
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v2/send_join/"+room+"/"+ev.EventID(),
		json.RawMessage(ev.JSON()), nil); s != 200 {
		t.Fatalf("send_join: %d", s)
	}
}
