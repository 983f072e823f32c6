package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
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
