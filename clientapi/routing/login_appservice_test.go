package routing

import (
	"context"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestAppServiceLogin: POST /login with m.login.application_service and the as_token
// gives the service's sender or a registered user of its namespaces a new device with its
// own access token (device_id and initial_device_display_name honoured, a known device_id
// reused); everything else is refused with the spec's codes. GET /login lists the type.
func TestAppServiceLogin(t *testing.T) {
	for dbName, dsn := range testenv.Databases(t) {
		for _, impl := range impls {
			t.Run(dbName+"/"+impl, func(t *testing.T) { testAppServiceLogin(t, impl, dsn(t)) })
		}
	}
}

func asLogin(user string, extra ...string) map[string]any {
	body := map[string]any{"type": "m.login.application_service", "identifier": map[string]any{"type": "m.id.user", "user": user}}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	return body
}

func testAppServiceLogin(t *testing.T, impl, dsn string) {
	h := newASHarness(t, impl, dsn, "http://127.0.0.1:1")
	const login = "/_matrix/client/v3/login"

	r := h.must(h.do("GET", login, "", nil), 200)
	var types []string
	for _, f := range r.body["flows"].([]any) {
		types = append(types, f.(map[string]any)["type"].(string))
	}
	if len(types) != 2 || types[0] != "m.login.password" || types[1] != "m.login.application_service" {
		t.Fatalf("flows = %s", r.raw)
	}

	for _, u := range []string{"_echo_bob", "echo-carol", "_echo_gone"} {
		h.must(h.do("POST", "/_matrix/client/v3/register", echoASToken,
			map[string]any{"type": "m.login.application_service", "username": u, "inhibit_login": true}), 200)
	}
	if err := h.userAPI.DeactivateAccount(context.Background(), "@_echo_gone:test.local"); err != nil {
		t.Fatal(err)
	}
	alice := h.register("alice")

	ok := []struct {
		name, wantUser, wantDevice string
		body                       any
	}{
		{"sender by localpart, created on first use", "@echobot:test.local", "", asLogin("echobot")},
		{"ghost by full ID with device", "@_echo_bob:test.local", "BRIDGE",
			asLogin("@_echo_bob:test.local", "device_id", "BRIDGE", "initial_device_display_name", "echo bridge")},
		{"upper-case localpart", "@_echo_bob:test.local", "", asLogin("@_ECHO_Bob:test.local")},
		{"legacy user field", "@echo-carol:test.local", "",
			map[string]any{"type": "m.login.application_service", "user": "echo-carol"}},
	}
	tokens := map[string]string{}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			r := h.must(h.do("POST", login, echoASToken, c.body), 200)
			if r.str("user_id") != c.wantUser || r.str("access_token") == "" || r.str("device_id") == "" ||
				(c.wantDevice != "" && r.str("device_id") != c.wantDevice) || r.str("home_server") != testServer {
				t.Fatalf("login: %s", r.raw)
			}
			// The token is a device's token of that user, not the as_token.
			w := h.must(h.do("GET", "/_matrix/client/v3/account/whoami", r.str("access_token"), nil), 200)
			if w.str("user_id") != c.wantUser || w.str("device_id") != r.str("device_id") {
				t.Fatalf("whoami = %s", w.raw)
			}
			tokens[c.name] = r.str("access_token")
		})
	}
	if _, err := h.userAPI.GetAccount(context.Background(), "@echobot:test.local"); err != nil {
		t.Fatalf("sender account: %v", err)
	}
	bob := tokens["ghost by full ID with device"]
	if r := h.must(h.do("GET", "/_matrix/client/v3/devices/BRIDGE", bob, nil), 200); r.str("display_name") != "echo bridge" {
		t.Fatalf("device = %s", r.raw)
	}
	// Logging in again on the same device replaces its token and keeps its name.
	again := h.must(h.do("POST", login, echoASToken, asLogin("_echo_bob", "device_id", "BRIDGE")), 200)
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", bob, nil), 401, "M_UNKNOWN_TOKEN")
	if r := h.must(h.do("GET", "/_matrix/client/v3/devices/BRIDGE", again.str("access_token"), nil), 200); r.str("display_name") != "echo bridge" {
		t.Fatalf("device after second login = %s", r.raw)
	}

	bad := []struct {
		name, token string
		body        any
		status      int
		errcode     string
	}{
		{"no token", "", asLogin("_echo_bob"), 401, "M_MISSING_TOKEN"},
		{"unknown token", "not-an-as-token", asLogin("_echo_bob"), 401, "M_UNKNOWN_TOKEN"},
		{"a user's token", alice.token, asLogin("alice"), 401, "M_UNKNOWN_TOKEN"},
		{"user outside the namespaces", echoASToken, asLogin("alice"), 403, "M_FORBIDDEN"},
		{"another service's exclusive user", echoASToken, asLogin("@_other_x:test.local"), 403, "M_FORBIDDEN"},
		{"another service's sender", echoASToken, asLogin("otherbot"), 403, "M_FORBIDDEN"},
		{"remote user", echoASToken, asLogin("@_echo_bob:elsewhere.org"), 403, "M_FORBIDDEN"},
		{"unregistered namespace user", echoASToken, asLogin("_echo_nobody"), 403, "M_FORBIDDEN"},
		{"deactivated namespace user", echoASToken, asLogin("_echo_gone"), 403, "M_FORBIDDEN"},
		{"missing identifier", echoASToken, map[string]any{"type": "m.login.application_service"}, 400, "M_MISSING_PARAM"},
		{"unknown identifier type", echoASToken, map[string]any{"type": "m.login.application_service",
			"identifier": map[string]any{"type": "m.id.thirdparty", "medium": "email", "address": "a@b.c"}}, 400, "M_UNKNOWN"},
		{"identifier wrong type", echoASToken, map[string]any{"type": "m.login.application_service", "identifier": "echobot"}, 400, "M_BAD_JSON"},
		{"device_id too long", echoASToken, asLogin("_echo_bob", "device_id", string(make([]byte, 600))), 400, "M_INVALID_PARAM"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do("POST", login, c.token, c.body), c.status, c.errcode)
		})
	}
	// The as_token logs in nobody with a password login.
	h.must(h.do("POST", login, echoASToken, map[string]any{"type": "m.login.password", "user": "_echo_bob", "password": "x"}), 403, "M_FORBIDDEN")
}

// TestAppServiceLoginRateLimits: a service with rate_limited: false (echo) skips the
// per-address login limit; a rate-limited one (other) does not.
func TestAppServiceLoginRateLimits(t *testing.T) {
	h := newASHarness(t, implDirect, testenv.SQLitePath(t, "clientapi"), "http://127.0.0.1:1",
		withRateLimits(func(rl *config.RateLimits) { rl.LoginAddress = burstOf(1) }))
	for range 3 {
		h.must(h.do("POST", "/_matrix/client/v3/login", echoASToken, asLogin("echobot")), 200)
	}
	h.must(h.do("POST", "/_matrix/client/v3/login", "as_token_of_other", asLogin("otherbot")), 200)
	h.must(h.do("POST", "/_matrix/client/v3/login", "as_token_of_other", asLogin("otherbot")), 429, "M_LIMIT_EXCEEDED")
}

// TestAppServiceLoginWithoutServices: without registrations the type is not offered and
// any token is unknown.
func TestAppServiceLoginWithoutServices(t *testing.T) {
	h := newHarnessDSN(t, implDirect, testenv.SQLitePath(t, "clientapi"))
	r := h.must(h.do("GET", "/_matrix/client/v3/login", "", nil), 200)
	if f := r.body["flows"].([]any); len(f) != 1 {
		t.Fatalf("flows = %s", r.raw)
	}
	h.must(h.do("POST", "/_matrix/client/v3/login", "some-token", asLogin("echobot")), 401, "M_UNKNOWN_TOKEN")
}
