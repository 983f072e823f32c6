package routing

import (
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

func TestLoginLogout(t *testing.T) { forEachImpl(t, testLoginLogout) }

func testLoginLogout(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t, withRateLimits(func(rl *config.RateLimits) {
		rl.LoginFailedAttempts = config.Rate{PerSecond: 0.17, BurstCount: 3}
	}))
	alice := h.register("alice")

	r := h.must(h.do("GET", "/_matrix/client/v3/login", "", nil), 200)
	if f := r.body["flows"].([]any); len(f) != 1 || f[0].(map[string]any)["type"] != "m.login.password" {
		t.Fatalf("flows = %s", r.raw)
	}

	ok := []struct {
		name string
		body map[string]any
	}{
		{"identifier localpart", map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": alice.password}},
		{"identifier full id", map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "@alice:test.local"}, "password": alice.password, "device_id": "LAPTOP", "initial_device_display_name": "laptop"}},
		{"legacy user", map[string]any{"type": "m.login.password", "user": "alice", "password": alice.password}},
	}
	tokens := []string{}
	for _, c := range ok {
		r := h.must(h.do("POST", "/_matrix/client/v3/login", "", c.body), 200)
		if r.str("user_id") != alice.id || r.str("access_token") == "" || r.str("device_id") == "" || r.str("home_server") != testServer {
			t.Fatalf("%s: %s", c.name, r.raw)
		}
		if wk, _ := r.body["well_known"].(map[string]any); wk["m.homeserver"] == nil {
			t.Fatalf("%s: no well_known: %s", c.name, r.raw)
		}
		if _, ok := r.body["refresh_token"]; ok {
			t.Fatalf("%s: refresh_token returned", c.name)
		}
		tokens = append(tokens, r.str("access_token"))
	}

	bad := []struct {
		name    string
		body    any
		status  int
		errcode string
	}{
		{"wrong password", map[string]any{"type": "m.login.password", "user": "alice", "password": "nope"}, 403, "M_FORBIDDEN"},
		{"unknown user", map[string]any{"type": "m.login.password", "user": "nobody", "password": "x"}, 403, "M_FORBIDDEN"},
		{"remote user", map[string]any{"type": "m.login.password", "user": "@alice:elsewhere.org", "password": alice.password}, 403, "M_FORBIDDEN"},
		{"unknown type", map[string]any{"type": "m.login.token", "token": "x"}, 400, "M_UNKNOWN"},
		{"unknown identifier", map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.phone"}, "password": "x"}, 400, "M_UNKNOWN"},
		{"missing type", map[string]any{"user": "alice", "password": "x"}, 400, "M_MISSING_PARAM"},
		{"missing password", map[string]any{"type": "m.login.password", "user": "alice"}, 400, "M_MISSING_PARAM"},
		{"password wrong type", map[string]any{"type": "m.login.password", "user": "alice", "password": 1}, 400, "M_BAD_JSON"},
		{"not json", "nope", 400, "M_NOT_JSON"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do("POST", "/_matrix/client/v3/login", "", c.body), c.status, c.errcode)
		})
	}

	// Password guessing is rate limited per user (the failures above count too); other
	// users are not affected.
	var limited resp
	for i := 0; i < 10; i++ {
		limited = h.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": "guess"})
		if limited.status == 429 {
			break
		}
	}
	h.must(limited, 429, "M_LIMIT_EXCEEDED")
	if ms, _ := limited.body["retry_after_ms"].(float64); ms <= 0 {
		t.Fatalf("no retry_after_ms: %s", limited.raw)
	}
	h.must(h.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": alice.password}), 429, "M_LIMIT_EXCEEDED")
	h.register("bob")
	h.must(h.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password", "user": "bob", "password": "pw-bob"}), 200)

	// logout ends one token; logout/all ends the rest.
	h.must(h.do("POST", "/_matrix/client/v3/logout", tokens[0], nil), 200)
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", tokens[0], nil), 401, "M_UNKNOWN_TOKEN")
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", tokens[1], nil), 200)
	h.must(h.do("POST", "/_matrix/client/r0/logout/all", tokens[1], map[string]any{}), 200)
	for _, tok := range append(tokens, alice.token) {
		h.must(h.do("GET", "/_matrix/client/v3/account/whoami", tok, nil), 401, "M_UNKNOWN_TOKEN")
	}
}

func TestDevices(t *testing.T) { forEachImpl(t, testDevices) }

func testDevices(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	bob := h.register("bob")
	second := h.must(h.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password",
		"user": "alice", "password": alice.password, "device_id": "SECOND"}), 200).str("access_token")

	r := h.must(h.do("GET", "/_matrix/client/v3/devices", alice.token, nil), 200)
	if devs := r.body["devices"].([]any); len(devs) != 2 {
		t.Fatalf("devices = %s", r.raw)
	}
	h.must(h.do("PUT", "/_matrix/client/v3/devices/SECOND", alice.token, map[string]any{"display_name": "tablet"}), 200)
	if r := h.must(h.do("GET", "/_matrix/client/v3/devices/SECOND", alice.token, nil), 200); r.str("display_name") != "tablet" {
		t.Fatalf("device = %s", r.raw)
	}

	bad := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"get unknown", "GET", "/_matrix/client/v3/devices/NOPE", alice.token, nil, 404, "M_NOT_FOUND"},
		{"get other user's", "GET", "/_matrix/client/v3/devices/" + bob.device, alice.token, nil, 404, "M_NOT_FOUND"},
		{"put unknown", "PUT", "/_matrix/client/v3/devices/NOPE", alice.token, map[string]any{"display_name": "x"}, 404, "M_NOT_FOUND"},
		{"put wrong type", "PUT", "/_matrix/client/v3/devices/SECOND", alice.token, map[string]any{"display_name": 3}, 400, "M_BAD_JSON"},
		{"delete unknown", "DELETE", "/_matrix/client/v3/devices/NOPE", alice.token, map[string]any{}, 404, "M_NOT_FOUND"},
		{"delete_devices missing list", "POST", "/_matrix/client/v3/delete_devices", alice.token, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"delete_devices wrong type", "POST", "/_matrix/client/v3/delete_devices", alice.token, map[string]any{"devices": "SECOND"}, 400, "M_BAD_JSON"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, c.body), c.status, c.errcode)
		})
	}

	// DELETE /devices/{id}: 401 challenge, wrong password (401 with M_FORBIDDEN), someone
	// else's password (403), then the right one.
	r = h.must(h.do("DELETE", "/_matrix/client/v3/devices/SECOND", alice.token, nil), 401)
	session := r.str("session")
	if f := r.body["flows"].([]any); f[0].(map[string]any)["stages"].([]any)[0] != "m.login.password" {
		t.Fatalf("flows = %s", r.raw)
	}
	auth := func(user, pw string) map[string]any {
		return map[string]any{"auth": map[string]any{"type": "m.login.password", "session": session, "password": pw,
			"identifier": map[string]any{"type": "m.id.user", "user": user}}}
	}
	r = h.must(h.do("DELETE", "/_matrix/client/v3/devices/SECOND", alice.token, auth("alice", "wrong")), 401, "M_FORBIDDEN")
	if r.str("session") != session {
		t.Fatalf("session changed: %s", r.raw)
	}
	h.must(h.do("DELETE", "/_matrix/client/v3/devices/SECOND", alice.token, auth("bob", bob.password)), 403, "M_FORBIDDEN")
	// The session belongs to this request: another operation cannot use it.
	h.must(h.do("POST", "/_matrix/client/v3/delete_devices", alice.token, map[string]any{"devices": []string{alice.device},
		"auth": auth("alice", alice.password)["auth"]}), 403, "M_FORBIDDEN")
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", second, nil), 200)
	h.must(h.do("DELETE", "/_matrix/client/v3/devices/SECOND", alice.token, auth("alice", alice.password)), 200)
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", second, nil), 401, "M_UNKNOWN_TOKEN")

	// POST /delete_devices.
	third := h.must(h.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password",
		"user": "alice", "password": alice.password, "device_id": "THIRD"}), 200).str("access_token")
	r = h.must(h.do("POST", "/_matrix/client/v3/delete_devices", alice.token, map[string]any{"devices": []string{"THIRD"}}), 401)
	session = r.str("session")
	h.must(h.do("POST", "/_matrix/client/v3/delete_devices", alice.token, map[string]any{"devices": []string{"THIRD"},
		"auth": map[string]any{"type": "m.login.password", "session": session, "user": "alice", "password": alice.password}}), 200)
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", third, nil), 401, "M_UNKNOWN_TOKEN")
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", alice.token, nil), 200)
}

func TestPasswordAndDeactivate(t *testing.T) { forEachImpl(t, testPasswordAndDeactivate) }

func testPasswordAndDeactivate(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	other := h.must(h.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password",
		"user": "alice", "password": alice.password}), 200).str("access_token")
	uia := func(path string, body map[string]any, pw string) resp {
		r := h.must(h.do("POST", path, alice.token, body), 401)
		body["auth"] = map[string]any{"type": "m.login.password", "session": r.str("session"), "user": "alice", "password": pw}
		return h.do("POST", path, alice.token, body)
	}

	h.must(h.do("POST", "/_matrix/client/v3/account/password", alice.token, `{"new_password": 5}`), 400, "M_BAD_JSON")
	h.must(uia("/_matrix/client/v3/account/password", map[string]any{"new_password": "new-pw"}, "wrong"), 401, "M_FORBIDDEN")
	h.must(uia("/_matrix/client/v3/account/password", map[string]any{}, alice.password), 400, "M_MISSING_PARAM")
	h.must(uia("/_matrix/client/v3/account/password", map[string]any{"new_password": "new-pw"}, alice.password), 200)
	// Other devices are logged out by default, this one stays.
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", other, nil), 401, "M_UNKNOWN_TOKEN")
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", alice.token, nil), 200)
	h.must(h.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": alice.password}), 403, "M_FORBIDDEN")
	other = h.must(h.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": "new-pw"}), 200).str("access_token")
	// logout_devices: false keeps them.
	h.must(uia("/_matrix/client/v3/account/password", map[string]any{"new_password": "newer", "logout_devices": false}, "new-pw"), 200)
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", other, nil), 200)

	// Deactivation leaves rooms and ends every token; the user cannot log in again.
	room := h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice.token, map[string]any{}), 200).str("room_id")
	r := uia("/_matrix/client/v3/account/deactivate", map[string]any{}, "newer")
	h.must(r, 200)
	if r.str("id_server_unbind_result") != "no-support" {
		t.Fatalf("deactivate = %s", r.raw)
	}
	if m, _, err := h.rsAPI.QueryMembership(t.Context(), room, alice.id); err != nil || m != "leave" {
		t.Fatalf("membership after deactivate = %q, %v", m, err)
	}
	h.must(h.do("GET", "/_matrix/client/v3/account/whoami", alice.token, nil), 401, "M_UNKNOWN_TOKEN")
	h.must(h.do("POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": "newer"}), 403, "M_FORBIDDEN")
	h.must(h.do("GET", "/_matrix/client/v3/profile/"+alice.id, "", nil), 404, "M_NOT_FOUND")
}
