package routing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	asapi "github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/userapi"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

// fakeAppService is the appservice component for arrow 9: it records the queries and
// "creates" what its bridge would (create).
type fakeAppService struct {
	asapi.AppServiceAPI
	mu     sync.Mutex
	asked  []string
	create func(id string) bool
}

func (f *fakeAppService) QueryUser(_ context.Context, req *asapi.QueryUserRequest) (*asapi.QueryResponse, error) {
	f.mu.Lock()
	f.asked = append(f.asked, req.UserID)
	f.mu.Unlock()
	return &asapi.QueryResponse{Exists: f.create(req.UserID)}, nil
}

func (f *fakeAppService) QueryAlias(_ context.Context, req *asapi.QueryAliasRequest) (*asapi.QueryResponse, error) {
	f.mu.Lock()
	f.asked = append(f.asked, req.Alias)
	f.mu.Unlock()
	return &asapi.QueryResponse{Exists: f.create(req.Alias)}, nil
}

// TestQueriesAskAppServices (arrow 9): /query/profile and /query/directory of an unknown
// user or alias in a service's namespaces ask the service, and answer from what it
// created; what it does not create, and what no namespace holds (never asked), is 404.
func TestQueriesAskAppServices(t *testing.T) {
	ctx := context.Background()
	e := newRoomEnv(t)
	udb, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "users")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udb.Close() })
	users, err := userapi.NewInternalAPI(udb, us, discardOutbox{}, "account_data", userapi.WithBcryptCost(4))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := asapi.ParseRegistration("bridge.yaml", []byte(`id: bridge
url: "http://127.0.0.1:1"
as_token: as-bridge
hs_token: hs-bridge
sender_localpart: bridgebot
namespaces:
  users: [{exclusive: true, regex: "@_bridge_.*"}]
  aliases: [{exclusive: true, regex: "#_bridge_.*"}]
`), us)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := asapi.NewRegistrations([]*asapi.Registration{reg})
	if err != nil {
		t.Fatal(err)
	}
	as := &fakeAppService{}
	as.create = func(id string) bool {
		switch id {
		case "@_bridge_new:" + us:
			_, err := users.CreateAccount(ctx, &uapi.CreateAccountRequest{Localpart: "_bridge_new", DisplayName: "Ghost", AccountType: uapi.AccountTypeAppService})
			return err == nil
		case "#_bridge_portal:" + us:
			_, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: "@bridgebot:" + us, Preset: "public_chat",
				RoomVersion: "10", RoomAliasName: "_bridge_portal"})
			return err == nil
		}
		return false
	}
	root := mux.NewRouter()
	root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	Setup(root, root, Config{ServerName: us, RoomServer: e.rs, Fetcher: e.fetcher, UserAPI: users,
		AppServices: regs, AppService: as}, e.keys)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	e.srv = srv

	profile := func(user string) string {
		return "/_matrix/federation/v1/query/profile?" + url.Values{"user_id": {user}}.Encode()
	}
	directory := func(alias string) string {
		return "/_matrix/federation/v1/query/directory?" + url.Values{"room_alias": {alias}}.Encode()
	}
	for _, tc := range []struct {
		name, uri string
		status    int
		check     func(map[string]any) bool
	}{
		{"created ghost", profile("@_bridge_new:" + us), 200, func(b map[string]any) bool { return b["displayname"] == "Ghost" }},
		{"ghost the bridge does not know", profile("@_bridge_none:" + us), 404, func(b map[string]any) bool { return b["errcode"] == "M_NOT_FOUND" }},
		{"outside the namespaces", profile("@carol:" + us), 404, func(b map[string]any) bool { return b["errcode"] == "M_NOT_FOUND" }},
		{"created portal", directory("#_bridge_portal:" + us), 200, func(b map[string]any) bool { s, _ := b["room_id"].(string); return s != "" }},
		{"portal the bridge does not know", directory("#_bridge_gone:" + us), 404, func(b map[string]any) bool { return b["errcode"] == "M_NOT_FOUND" }},
		{"alias outside the namespaces", directory("#lobby:" + us), 404, func(b map[string]any) bool { return b["errcode"] == "M_NOT_FOUND" }},
	} {
		var got map[string]any
		if s := e.call(t, e.remote, "remote.example", "GET", tc.uri, nil, &got); s != tc.status || !tc.check(got) {
			t.Fatalf("%s: %d %v", tc.name, s, got)
		}
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	want := []string{"@_bridge_new:" + us, "@_bridge_none:" + us, "#_bridge_portal:" + us, "#_bridge_gone:" + us}
	if len(as.asked) != len(want) {
		t.Fatalf("asked %v, want %v", as.asked, want)
	}
	for i := range want {
		if as.asked[i] != want[i] {
			t.Fatalf("asked %v, want %v", as.asked, want)
		}
	}
}
