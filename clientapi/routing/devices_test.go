package routing

import (
	"net/url"
	"testing"
)

// TestDeleteDeviceOtherUsersAuth: DELETE /devices/{deviceId} and POST /delete_devices
// whose UIA password stage names another user (with that user's right password) answer
// 403 M_FORBIDDEN and delete nothing; the owner can then still finish the same session.
func TestDeleteDeviceOtherUsersAuth(t *testing.T) { forEachStore(t, testDeleteDeviceOtherUsersAuth) }

func testDeleteDeviceOtherUsersAuth(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	const v3 = "/_matrix/client/v3"
	alice, bob := h.register("alice"), h.register("bob")
	second := h.must(h.do("POST", v3+"/login", "", map[string]any{"type": "m.login.password",
		"user": "alice", "password": alice.password, "device_id": "SECOND"}), 200).str("access_token")
	pwAuth := func(session, user, password string) map[string]any {
		return map[string]any{"type": "m.login.password", "session": session, "password": password,
			"identifier": map[string]any{"type": "m.id.user", "user": user}}
	}
	requests := []struct {
		name, method, path string
		body               func(auth map[string]any) map[string]any
	}{
		{"DELETE /devices/{deviceId}", "DELETE", v3 + "/devices/SECOND", func(a map[string]any) map[string]any {
			return map[string]any{"auth": a}
		}},
		{"POST /delete_devices", "POST", v3 + "/delete_devices", func(a map[string]any) map[string]any {
			return map[string]any{"devices": []string{"SECOND"}, "auth": a}
		}},
	}
	others := []struct{ name, user string }{{"localpart", "bob"}, {"full ID", bob.id}}
	for _, rq := range requests {
		ch := h.must(h.do(rq.method, rq.path, alice.token, rq.body(nil)), 401)
		session := ch.str("session")
		for _, o := range others {
			h.must(h.do(rq.method, rq.path, alice.token, rq.body(pwAuth(session, o.user, bob.password))), 403, "M_FORBIDDEN")
			h.must(h.do("GET", v3+"/account/whoami", second, nil), 200)
			h.must(h.do("GET", v3+"/devices/SECOND", alice.token, nil), 200)
		}
		// Bob's own devices are untouched too.
		h.must(h.do("GET", v3+"/devices/"+url.PathEscape(bob.device), bob.token, nil), 200)
	}
	// The owner completes the session the refused attempts ran in.
	ch := h.must(h.do("DELETE", v3+"/devices/SECOND", alice.token, nil), 401)
	h.must(h.do("DELETE", v3+"/devices/SECOND", alice.token, map[string]any{"auth": pwAuth(ch.str("session"), "bob", bob.password)}), 403, "M_FORBIDDEN")
	h.must(h.do("DELETE", v3+"/devices/SECOND", alice.token, map[string]any{"auth": pwAuth(ch.str("session"), "alice", alice.password)}), 200)
	h.must(h.do("GET", v3+"/account/whoami", second, nil), 401, "M_UNKNOWN_TOKEN")
}
