package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/appservice"
	asapi "github.com/axon-matrix/axon/appservice/api"
	asinthttptest "github.com/axon-matrix/axon/appservice/inthttp/inthttptest"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

const (
	echoASToken = "as_token_of_echo"
	echoHSToken = "hs_token_of_echo"
)

// echoRegistrations are two services: echo (users @_echo_… and @echo-…, exclusive; not
// rate-limited), whose URL is bridgeURL, and other (@_other_…, exclusive).
func echoRegistrations(t *testing.T, bridgeURL string) *asapi.Registrations {
	t.Helper()
	echo, err := asapi.ParseRegistration("echo.yaml", []byte(`id: echo
url: "`+bridgeURL+`"
as_token: `+echoASToken+`
hs_token: `+echoHSToken+`
sender_localpart: echobot
rate_limited: false
org.matrix.msc3202: true
protocols: [irc]
namespaces:
  users:
    - {exclusive: true, regex: "@_echo_.*:test\\.local"}
    - {exclusive: true, regex: "@echo-.*:test\\.local"}
  aliases:
    - {exclusive: true, regex: "#_echo_.*:test\\.local"}
`), testServer)
	if err != nil {
		t.Fatal(err)
	}
	other, err := asapi.ParseRegistration("other.yaml", []byte(`id: other
url: null
as_token: as_token_of_other
hs_token: hs_token_of_other
sender_localpart: otherbot
namespaces: {users: [{exclusive: true, regex: "@_other_.*:test\\.local"}]}
`), testServer)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := asapi.NewRegistrations([]*asapi.Registration{echo, other})
	if err != nil {
		t.Fatal(err)
	}
	return regs
}

// newASHarness is a harness whose clientapi knows the echo registrations and reaches the
// appservice component (direct or over inthttp, as the other arrows) for pings.
func newASHarness(t *testing.T, impl, dsn, bridgeURL string, mutate ...func(*Config)) *harness {
	t.Helper()
	regs := echoRegistrations(t, bridgeURL)
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "appservice")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	as, err := appservice.New(context.Background(), db, regs, appservice.Backoff{})
	if err != nil {
		t.Fatal(err)
	}
	asAPI := as.API()
	if impl == implInthttp {
		asAPI = asinthttptest.Serve(t, asAPI)
	}
	return newHarnessWith(t, impl, dsn, []Option{WithAppServices(regs, asAPI)}, mutate...)
}

// TestAppServiceClientAPI: the as_token acts as the sender (created on first use) or,
// with ?user_id=, as a registered user of its namespaces; other users are refused 403;
// m.login.application_service registers namespace users without UIA, in every
// registration mode and without the registration rate limit (rate_limited: false);
// exclusive namespaces are refused to everyone else with 400 M_EXCLUSIVE; the ping
// reaches the service with its hs_token.
func TestAppServiceClientAPI(t *testing.T) {
	var pings []string
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_matrix/app/v1/ping" || r.Header.Get("Authorization") != "Bearer "+echoHSToken {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errcode":"M_FORBIDDEN"}`))
			return
		}
		var body struct {
			TransactionID string `json:"transaction_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		pings = append(pings, body.TransactionID)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer bridge.Close()
	for dbName, dsn := range testenv.Databases(t) {
		for _, impl := range impls {
			t.Run(dbName+"/"+impl, func(t *testing.T) {
				pings = nil
				h := newASHarness(t, impl, dsn(t), bridge.URL, withRateLimits(func(rl *config.RateLimits) {
					rl.Registration = burstOf(1)
				}), func(c *Config) { c.RegistrationMode = config.RegistrationClosed })
				as := func(userID string) string {
					if userID == "" {
						return "/_matrix/client/v3/account/whoami"
					}
					return "/_matrix/client/v3/account/whoami?user_id=" + url.QueryEscape(userID)
				}

				// The sender, created on first use.
				r := h.must(h.do("GET", as(""), echoASToken, nil), 200)
				if r.str("user_id") != "@echobot:test.local" || r.body["device_id"] != nil {
					t.Fatalf("whoami as the service: %s", r.raw)
				}
				if _, err := h.userAPI.GetAccount(context.Background(), "@echobot:test.local"); err != nil {
					t.Fatalf("sender account: %v", err)
				}

				// Registration of namespace users (registration is closed for others; the
				// burst of 1 would refuse the second without rate_limited: false).
				reg := func(token, username string) resp {
					return h.do("POST", "/_matrix/client/v3/register", token,
						map[string]any{"type": "m.login.application_service", "username": username})
				}
				ghost := h.must(reg(echoASToken, "_echo_bob"), 200)
				if ghost.str("user_id") != "@_echo_bob:test.local" || ghost.str("access_token") == "" {
					t.Fatalf("ghost registration: %s", ghost.raw)
				}
				h.must(reg(echoASToken, "echo-carol"), 200)
				h.must(reg(echoASToken, "_echo_bob"), 400, "M_USER_IN_USE")
				h.must(reg(echoASToken, "alice"), 400, "M_EXCLUSIVE")
				h.must(reg(echoASToken, "_other_x"), 400, "M_EXCLUSIVE")
				h.must(reg("not-a-token", "_echo_x"), 401, "M_UNKNOWN_TOKEN")
				h.must(reg("", "_echo_x"), 401, "M_MISSING_TOKEN")

				// Exclusive namespaces are refused to ordinary registration (shared-secret
				// admin registration makes the ordinary user here).
				h.must(h.do("GET", "/_matrix/client/v3/register/available?username=echo-dave", "", nil), 400, "M_EXCLUSIVE")
				alice := h.registerSharedSecret("alice", false)

				// Masquerading.
				r = h.must(h.do("GET", as("@_echo_bob:test.local"), echoASToken, nil), 200)
				if r.str("user_id") != "@_echo_bob:test.local" {
					t.Fatalf("whoami as the ghost: %s", r.raw)
				}
				h.must(h.do("GET", as("@alice:test.local"), echoASToken, nil), 403, "M_FORBIDDEN")
				h.must(h.do("GET", as("@_other_x:test.local"), echoASToken, nil), 403, "M_FORBIDDEN")
				h.must(h.do("GET", as("@_echo_nobody:test.local"), echoASToken, nil), 403, "M_FORBIDDEN")
				h.must(h.do("GET", as(""), "as_token_of_echo-wrong", nil), 401, "M_UNKNOWN_TOKEN")
				// A user's own token ignores ?user_id=.
				r = h.must(h.do("GET", as("@_echo_bob:test.local"), alice, nil), 200)
				if r.str("user_id") != "@alice:test.local" {
					t.Fatalf("user_id honoured for a user's token: %s", r.raw)
				}
				// The ghost acts in rooms through the service.
				room := h.must(h.do("POST", "/_matrix/client/v3/createRoom?user_id=%40_echo_bob%3Atest.local", echoASToken,
					map[string]any{"preset": "public_chat"}), 200).str("room_id")
				h.must(h.do("PUT", "/_matrix/client/v3/rooms/"+room+"/send/m.room.message/t1?user_id=%40_echo_bob%3Atest.local",
					echoASToken, map[string]any{"msgtype": "m.text", "body": "hi"}), 200)

				// The ping: only the service's own as_token, for its own ID.
				ping := "/_matrix/client/v1/appservice/echo/ping"
				r = h.must(h.do("POST", ping, echoASToken, map[string]any{"transaction_id": "txn-1"}), 200)
				if _, ok := r.body["duration_ms"].(float64); !ok || len(pings) != 1 || pings[0] != "txn-1" {
					t.Fatalf("ping: %s, bridge saw %v", r.raw, pings)
				}
				h.must(h.do("POST", "/_matrix/client/v1/appservice/other/ping", echoASToken, map[string]any{}), 403, "M_FORBIDDEN")
				h.must(h.do("POST", ping, alice, map[string]any{}), 403, "M_FORBIDDEN")
				h.must(h.do("POST", "/_matrix/client/v1/appservice/other/ping", "as_token_of_other", map[string]any{}), 400, "M_URL_NOT_SET")
			})
		}
	}
}

// TestAppServicePingErrors: the service's failures map to the spec's ping errors.
func TestAppServicePingErrors(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errcode":"M_UNKNOWN_TOKEN"}`))
	}))
	defer bad.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	for _, tt := range []struct {
		name, url, errcode string
		status             int
	}{
		{"bad status", bad.URL, "M_BAD_STATUS", 502},
		{"connection refused", downURL, "M_CONNECTION_FAILED", 502},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newASHarness(t, implInthttp, testenv.SQLitePath(t, "clientapi"), tt.url)
			r := h.must(h.do("POST", "/_matrix/client/v1/appservice/echo/ping", echoASToken, map[string]any{}), tt.status, tt.errcode)
			if tt.errcode == "M_BAD_STATUS" && (r.body["status"] != float64(500) || r.str("body") != `{"errcode":"M_UNKNOWN_TOKEN"}`) {
				t.Fatalf("bad status details lost: %s", r.raw)
			}
		})
	}
}

// TestAppServiceQueries: an unknown user or alias in a service's namespaces is asked of the
// service (GET /_matrix/app/v1/users/…, /rooms/…), which creates it through the client
// API; then the profile, the alias and a join by the alias work. What no service claims is
// 404, and asked again only after a while.
func TestAppServiceQueries(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			var h *harness
			var mu sync.Mutex
			calls := map[string]int{}
			bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+echoHSToken {
					w.WriteHeader(http.StatusForbidden)
					return
				}
				mu.Lock()
				calls[r.URL.Path]++
				mu.Unlock()
				switch r.URL.Path {
				case "/_matrix/app/v1/users/@_echo_new:test.local":
					h.must(h.do("POST", "/_matrix/client/v3/register", echoASToken,
						map[string]any{"type": "m.login.application_service", "username": "_echo_new", "inhibit_login": true}), 200)
				case "/_matrix/app/v1/rooms/#_echo_portal:test.local":
					h.must(h.do("POST", "/_matrix/client/v3/createRoom", echoASToken,
						map[string]any{"room_alias_name": "_echo_portal", "preset": "public_chat"}), 200)
				default:
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`{"errcode":"M_NOT_FOUND"}`))
					return
				}
				_, _ = w.Write([]byte(`{}`))
			}))
			defer bridge.Close()
			h = newASHarness(t, impl, testenv.SQLitePath(t, "clientapi"), bridge.URL)
			alice := h.registerSharedSecret("alice", false)

			h.must(h.do("GET", "/_matrix/client/v3/profile/@_echo_new:test.local", alice, nil), 200)
			h.must(h.do("GET", "/_matrix/client/v3/profile/@_echo_none:test.local", alice, nil), 404, "M_NOT_FOUND")
			h.must(h.do("GET", "/_matrix/client/v3/profile/@_echo_none:test.local", alice, nil), 404, "M_NOT_FOUND")
			h.must(h.do("GET", "/_matrix/client/v3/profile/@bob:test.local", alice, nil), 404, "M_NOT_FOUND")

			r := h.must(h.do("GET", "/_matrix/client/v3/directory/room/%23_echo_portal:test.local", alice, nil), 200)
			if r.str("room_id") == "" {
				t.Fatalf("alias: %s", r.raw)
			}
			h.must(h.do("GET", "/_matrix/client/v3/directory/room/%23_echo_gone:test.local", alice, nil), 404, "M_NOT_FOUND")
			h.must(h.do("GET", "/_matrix/client/v3/directory/room/%23other:test.local", alice, nil), 404, "M_NOT_FOUND")
			joined := h.must(h.do("POST", "/_matrix/client/v3/join/%23_echo_portal:test.local", alice, map[string]any{}), 200)
			if joined.str("room_id") != r.str("room_id") {
				t.Fatalf("join by alias: %s", joined.raw)
			}

			mu.Lock()
			defer mu.Unlock()
			want := map[string]int{"/_matrix/app/v1/users/@_echo_new:test.local": 1, "/_matrix/app/v1/users/@_echo_none:test.local": 1,
				"/_matrix/app/v1/rooms/#_echo_portal:test.local": 1, "/_matrix/app/v1/rooms/#_echo_gone:test.local": 1}
			if !reflect.DeepEqual(calls, want) {
				t.Fatalf("the bridge was asked %v, want %v", calls, want)
			}
		})
	}
}

// TestAppServiceTimestampAndDevice: ?ts= sets origin_server_ts of events an as_token
// sends (messages and state), and is ignored for a user's own token; ?device_id= (MSC3202,
// on for echo) acts as one of the masqueraded user's devices, an unknown device is 400
// M_EXCLUSIVE; a bad ts is 400 M_INVALID_PARAM.
func TestAppServiceTimestampAndDevice(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			h := newASHarness(t, impl, testenv.SQLitePath(t, "clientapi"), "http://127.0.0.1:1")
			ghost := h.must(h.do("POST", "/_matrix/client/v3/register", echoASToken,
				map[string]any{"type": "m.login.application_service", "username": "_echo_ts"}), 200)
			alice := h.registerSharedSecret("alice", false)
			const asGhost = "user_id=%40_echo_ts%3Atest.local"
			room := h.must(h.do("POST", "/_matrix/client/v3/createRoom?"+asGhost, echoASToken,
				map[string]any{"preset": "public_chat"}), 200).str("room_id")
			h.must(h.do("POST", "/_matrix/client/v3/join/"+room, alice, map[string]any{}), 200)
			tsOf := func(eventID string) int64 {
				t.Helper()
				ev, err := h.rsAPI.QueryEvent(context.Background(), eventID)
				if err != nil {
					t.Fatal(err)
				}
				var e struct {
					TS int64 `json:"origin_server_ts"`
				}
				if err := json.Unmarshal(ev.Event, &e); err != nil {
					t.Fatal(err)
				}
				return e.TS
			}
			const old = int64(1500000000000)
			for _, tt := range []struct {
				name, path, token string
				massaged          bool
			}{
				{"message", "/send/m.room.message/ts1?ts=1500000000000&" + asGhost, echoASToken, true},
				{"state", "/state/m.room.topic?ts=1500000000000&" + asGhost, echoASToken, true},
				{"sender", "/send/m.room.message/ts2?ts=1500000000000", echoASToken, false}, // not joined: 403 below
				{"user token", "/send/m.room.message/ts3?ts=1500000000000", alice, false},
			} {
				body := map[string]any{"msgtype": "m.text", "body": tt.name, "topic": tt.name}
				if tt.name == "sender" {
					h.must(h.do("PUT", "/_matrix/client/v3/rooms/"+room+tt.path, tt.token, body), 403, "M_FORBIDDEN")
					continue
				}
				id := h.must(h.do("PUT", "/_matrix/client/v3/rooms/"+room+tt.path, tt.token, body), 200).str("event_id")
				if got := tsOf(id); (got == old) != tt.massaged {
					t.Errorf("%s: origin_server_ts %d (massaged: want %v)", tt.name, got, tt.massaged)
				}
			}
			h.must(h.do("PUT", "/_matrix/client/v3/rooms/"+room+"/send/m.room.message/ts4?ts=soon&"+asGhost, echoASToken,
				map[string]any{"body": "x"}), 400, "M_INVALID_PARAM")

			// ?device_id=: one of the ghost's devices, or 400 M_EXCLUSIVE.
			dev := ghost.str("device_id")
			r := h.must(h.do("GET", "/_matrix/client/v3/account/whoami?"+asGhost+"&device_id="+dev, echoASToken, nil), 200)
			if r.str("device_id") != dev {
				t.Fatalf("whoami with device_id: %s", r.raw)
			}
			r = h.must(h.do("GET", "/_matrix/client/v3/account/whoami?"+asGhost+"&org.matrix.msc3202.device_id="+dev, echoASToken, nil), 200)
			if r.str("device_id") != dev {
				t.Fatalf("whoami with org.matrix.msc3202.device_id: %s", r.raw)
			}
			h.must(h.do("GET", "/_matrix/client/v3/account/whoami?"+asGhost+"&device_id=NOPE", echoASToken, nil), 400, "M_EXCLUSIVE")
		})
	}
}

// TestAppServiceThirdParty: the third-party lookups reach the service declaring the
// protocol with its hs_token and the client's query; answers come back merged (the
// instance_id added), invalid results dropped; an unknown protocol is 404 M_NOT_FOUND and
// a reverse lookup without its parameter 400 M_MISSING_PARAM.
func TestAppServiceThirdParty(t *testing.T) {
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+echoHSToken {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		q := r.URL.Query()
		switch r.URL.Path {
		case "/_matrix/app/v1/thirdparty/protocol/irc":
			_, _ = w.Write([]byte(`{"user_fields":["network","nickname"],"location_fields":["network","channel"],"icon":"mxc://x/y",
				"field_types":{},"instances":[{"desc":"Libera","network_id":"libera","fields":{"network":"libera"}}]}`))
		case "/_matrix/app/v1/thirdparty/location/irc":
			if q.Get("channel") != "#go" || q.Get("access_token") != "" {
				t.Errorf("location query %q", r.URL.RawQuery)
			}
			_, _ = w.Write([]byte(`[{"alias":"#_echo_go:test.local","protocol":"irc","fields":{"channel":"#go"}},
				{"alias":"#bad:test.local","protocol":"slack","fields":{}}, {"protocol":"irc","fields":{}}]`))
		case "/_matrix/app/v1/thirdparty/user":
			_, _ = w.Write([]byte(`[{"userid":"` + q.Get("userid") + `","protocol":"irc","fields":{"nickname":"bob"}}]`))
		case "/_matrix/app/v1/thirdparty/location":
			_, _ = w.Write([]byte(`[{"alias":"` + q.Get("alias") + `","protocol":"irc","fields":{"channel":"#go"}}]`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer bridge.Close()
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			h := newASHarness(t, impl, testenv.SQLitePath(t, "clientapi"), bridge.URL)
			alice := h.registerSharedSecret("alice", false)
			r := h.must(h.do("GET", "/_matrix/client/v3/thirdparty/protocols", alice, nil), 200)
			irc, _ := r.body["irc"].(map[string]any)
			inst, _ := irc["instances"].([]any)
			if len(inst) != 1 || inst[0].(map[string]any)["instance_id"] != "echo|libera" || irc["icon"] != "mxc://x/y" {
				t.Fatalf("protocols: %s", r.raw)
			}
			r = h.must(h.do("GET", "/_matrix/client/v3/thirdparty/protocol/irc", alice, nil), 200)
			if r.str("icon") != "mxc://x/y" {
				t.Fatalf("protocol: %s", r.raw)
			}
			h.must(h.do("GET", "/_matrix/client/v3/thirdparty/protocol/slack", alice, nil), 404, "M_NOT_FOUND")
			h.must(h.do("GET", "/_matrix/client/v3/thirdparty/location/slack", alice, nil), 404, "M_NOT_FOUND")
			h.must(h.do("GET", "/_matrix/client/v3/thirdparty/protocols", "", nil), 401, "M_MISSING_TOKEN")

			list := func(path string) []any {
				t.Helper()
				r := h.must(h.do("GET", path, alice, nil), 200)
				var out []any
				if err := json.Unmarshal(r.raw, &out); err != nil {
					t.Fatalf("%s: %s", path, r.raw)
				}
				return out
			}
			if got := list("/_matrix/client/v3/thirdparty/location/irc?channel=%23go"); len(got) != 1 || got[0].(map[string]any)["alias"] != "#_echo_go:test.local" {
				t.Fatalf("location: %v", got)
			}
			if got := list("/_matrix/client/v3/thirdparty/user?userid=%40_echo_bob%3Atest.local"); len(got) != 1 {
				t.Fatalf("reverse user: %v", got)
			}
			if got := list("/_matrix/client/v3/thirdparty/user?userid=%40bob%3Atest.local"); len(got) != 0 {
				t.Fatalf("reverse user outside every namespace: %v", got)
			}
			if got := list("/_matrix/client/v3/thirdparty/location?alias=%23_echo_go%3Atest.local"); len(got) != 1 {
				t.Fatalf("reverse location: %v", got)
			}
			h.must(h.do("GET", "/_matrix/client/v3/thirdparty/location", alice, nil), 400, "M_MISSING_PARAM")
		})
	}
}

// TestAppServiceAliasesAndInvites: an exclusive alias namespace is refused to others (400
// M_EXCLUSIVE on PUT /directory/room and createRoom's room_alias_name) and open to the
// service; an invite (and a createRoom invite) of an unknown user of the namespace asks
// the service first, which registers it, so the invite succeeds.
func TestAppServiceAliasesAndInvites(t *testing.T) {
	var h *harness
	var mu sync.Mutex
	var asked []string
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		if u, ok := strings.CutPrefix(r.URL.Path, "/_matrix/app/v1/users/@"); ok && strings.HasPrefix(u, "_echo_inv") {
			h.must(h.do("POST", "/_matrix/client/v3/register", echoASToken,
				map[string]any{"type": "m.login.application_service", "username": strings.TrimSuffix(u, ":test.local"), "inhibit_login": true}), 200)
			_, _ = w.Write([]byte(`{}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errcode":"M_NOT_FOUND"}`))
	}))
	defer bridge.Close()
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			asked = nil
			h = newASHarness(t, impl, testenv.SQLitePath(t, "clientapi"), bridge.URL)
			alice := h.registerSharedSecret("alice", false)
			room := h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice, map[string]any{}), 200).str("room_id")
			h.must(h.do("PUT", "/_matrix/client/v3/directory/room/%23_echo_x:test.local", alice, map[string]any{"room_id": room}), 400, "M_EXCLUSIVE")
			h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice, map[string]any{"room_alias_name": "_echo_y"}), 400, "M_EXCLUSIVE")
			h.must(h.do("PUT", "/_matrix/client/v3/directory/room/%23mine:test.local", alice, map[string]any{"room_id": room}), 200)
			h.must(h.do("POST", "/_matrix/client/v3/createRoom", echoASToken, map[string]any{"room_alias_name": "_echo_z"}), 200)

			h.must(h.do("POST", "/_matrix/client/v3/rooms/"+room+"/invite", alice, map[string]any{"user_id": "@_echo_inv1:test.local"}), 200)
			h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice, map[string]any{"invite": []string{"@_echo_inv2:test.local"}}), 200)
			mu.Lock()
			defer mu.Unlock()
			want := []string{"/_matrix/app/v1/users/@_echo_inv1:test.local", "/_matrix/app/v1/users/@_echo_inv2:test.local"}
			if !reflect.DeepEqual(asked, want) {
				t.Fatalf("the bridge was asked %v, want %v", asked, want)
			}
		})
	}
}

// TestAppServiceRoomDirectory: a service lists rooms per network with its as_token (others
// 403); POST /publicRooms shows them only with include_all_networks (beside the published
// rooms) or alone for their third_party_instance_id; "private" unlists; an unknown room is
// 404 and an unknown instance ID 400.
func TestAppServiceRoomDirectory(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			h := newASHarness(t, impl, testenv.SQLitePath(t, "clientapi"), "http://127.0.0.1:1")
			alice := h.registerSharedSecret("alice", false)
			public := h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice, map[string]any{"preset": "public_chat", "visibility": "public", "name": "published"}), 200).str("room_id")
			bridged := h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice, map[string]any{"preset": "public_chat", "name": "bridged"}), 200).str("room_id")
			list := func(token, network, room string, body map[string]any) resp {
				return h.do("PUT", "/_matrix/client/v3/directory/list/appservice/"+network+"/"+room, token, body)
			}
			h.must(list(echoASToken, "libera", bridged, map[string]any{"visibility": "public"}), 200)
			h.must(list(alice, "libera", bridged, map[string]any{"visibility": "public"}), 403, "M_FORBIDDEN")
			h.must(list(echoASToken, "libera", "!nowhere:test.local", map[string]any{}), 404, "M_NOT_FOUND")
			h.must(list(echoASToken, "libera", bridged, map[string]any{"visibility": "secret"}), 400, "M_INVALID_PARAM")

			rooms := func(body map[string]any) []string {
				t.Helper()
				r := h.must(h.do("POST", "/_matrix/client/v3/publicRooms", alice, body), 200)
				var out []string
				for _, c := range r.body["chunk"].([]any) {
					out = append(out, c.(map[string]any)["room_id"].(string))
				}
				return out
			}
			for _, tt := range []struct {
				name string
				body map[string]any
				want []string
			}{
				{"default", map[string]any{}, []string{public}},
				{"all networks", map[string]any{"include_all_networks": true}, []string{public, bridged}},
				{"the network", map[string]any{"third_party_instance_id": "echo|libera"}, []string{bridged}},
				{"another network", map[string]any{"third_party_instance_id": "echo|oftc"}, nil},
			} {
				if got := rooms(tt.body); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
				}
			}
			h.must(h.do("POST", "/_matrix/client/v3/publicRooms", alice, map[string]any{"third_party_instance_id": "nope|x"}), 400, "M_INVALID_PARAM")
			h.must(list(echoASToken, "libera", bridged, map[string]any{"visibility": "private"}), 200)
			if got := rooms(map[string]any{"third_party_instance_id": "echo|libera"}); len(got) != 0 {
				t.Fatalf("after unlisting: %v", got)
			}
		})
	}
}
