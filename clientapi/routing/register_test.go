package routing

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

func TestRegisterUIA(t *testing.T) { forEachImpl(t, testRegisterUIA) }

func testRegisterUIA(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	const path = "/_matrix/client/v3/register"

	// First round: the challenge, exactly as Synapse offers it without email/captcha.
	r := h.must(h.do("POST", path, "", map[string]any{"username": "bob", "password": "pw"}), 401)
	flows, _ := r.body["flows"].([]any)
	if r.str("session") == "" || len(flows) != 1 || r.body["params"] == nil || r.body["completed"] == nil || r.errcode() != "" {
		t.Fatalf("challenge = %s", r.raw)
	}
	if st := flows[0].(map[string]any)["stages"].([]any); len(st) != 1 || st[0] != "m.login.dummy" {
		t.Fatalf("flows = %v", flows)
	}
	// An empty probe (Element asks this way) also gets the flows.
	h.must(h.do("POST", path, "", map[string]any{}), 401)

	session := r.str("session")
	// Unknown stage, unknown session: refused, nothing created.
	h.must(h.do("POST", path, "", map[string]any{"username": "bob", "password": "pw",
		"auth": map[string]any{"type": "m.login.fancy", "session": session}}), 400, "M_UNRECOGNIZED")
	h.must(h.do("POST", path, "", map[string]any{"username": "bob", "password": "pw",
		"auth": map[string]any{"type": "m.login.dummy", "session": "nope"}}), 400, "M_UNKNOWN")
	h.must(h.do("GET", "/_matrix/client/v3/register/available?username=bob", "", nil), 200)

	r = h.must(h.do("POST", path, "", map[string]any{"username": "bob", "password": "pw", "device_id": "DEV1",
		"initial_device_display_name": "phone", "refresh_token": true,
		"auth": map[string]any{"type": "m.login.dummy", "session": session}}), 200)
	if r.str("user_id") != "@bob:test.local" || r.str("access_token") == "" || r.str("device_id") != "DEV1" || r.str("home_server") != testServer {
		t.Fatalf("register = %s", r.raw)
	}
	if _, ok := r.body["refresh_token"]; ok {
		t.Fatal("refresh_token returned although refresh tokens are not supported")
	}
	// The session is finished and cannot be replayed.
	h.must(h.do("POST", path, "", map[string]any{"username": "bob2", "password": "pw",
		"auth": map[string]any{"type": "m.login.dummy", "session": session}}), 400, "M_UNKNOWN")

	w := h.must(h.do("GET", "/_matrix/client/v3/account/whoami", r.str("access_token"), nil), 200)
	if w.str("user_id") != "@bob:test.local" || w.str("device_id") != "DEV1" || w.body["is_guest"] != false {
		t.Fatalf("whoami = %s", w.raw)
	}
	d := h.must(h.do("GET", "/_matrix/client/v3/devices/DEV1", r.str("access_token"), nil), 200)
	if d.str("display_name") != "phone" {
		t.Fatalf("device = %s", d.raw)
	}
	// New users get the default push rules as account data (for /sync, topic 1).
	if _, err := h.userAPI.GetAccountData(t.Context(), "@bob:test.local", "", "m.push_rules"); err != nil {
		t.Fatalf("push rules not seeded: %v", err)
	}

	// Without session, m.login.dummy is accepted in one go (Synapse does the same).
	r = h.must(h.do("POST", path, "", map[string]any{"username": "carol", "password": "pw", "inhibit_login": true,
		"auth": map[string]any{"type": "m.login.dummy"}}), 200)
	if r.str("user_id") != "@carol:test.local" || r.body["access_token"] != nil || r.body["device_id"] != nil {
		t.Fatalf("inhibit_login = %s", r.raw)
	}
	// No username: one is generated.
	r = h.must(h.do("POST", path, "", map[string]any{"password": "pw", "auth": map[string]any{"type": "m.login.dummy"}}), 200)
	if !strings.HasPrefix(r.str("user_id"), "@") {
		t.Fatalf("generated = %s", r.raw)
	}
}

func TestRegisterBadInput(t *testing.T) { forEachImpl(t, testRegisterBadInput) }

func testRegisterBadInput(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	h.register("taken")
	const path = "/_matrix/client/v3/register"
	dummy := map[string]any{"type": "m.login.dummy"}
	cases := []struct {
		name    string
		query   string
		body    any
		status  int
		errcode string
	}{
		{"not json", "", "{nope", 400, "M_NOT_JSON"},
		{"array", "", "[]", 400, "M_NOT_JSON"},
		{"username not a string", "", map[string]any{"username": 5}, 400, "M_BAD_JSON"},
		{"auth not an object", "", map[string]any{"auth": "x"}, 400, "M_BAD_JSON"},
		{"taken", "", map[string]any{"username": "taken", "password": "pw"}, 400, "M_USER_IN_USE"},
		{"upper case of a taken name", "", map[string]any{"username": "TaKen", "password": "pw"}, 400, "M_USER_IN_USE"},
		{"non-ASCII capital", "", map[string]any{"username": "\u212Aelvin", "password": "pw"}, 400, "M_INVALID_USERNAME"},
		{"bad char", "", map[string]any{"username": "b ob", "password": "pw"}, 400, "M_INVALID_USERNAME"},
		{"underscore", "", map[string]any{"username": "_bridge", "password": "pw"}, 400, "M_INVALID_USERNAME"},
		{"numeric", "", map[string]any{"username": "12345", "password": "pw"}, 400, "M_INVALID_USERNAME"},
		{"too long", "", map[string]any{"username": strings.Repeat("a", 250), "password": "pw"}, 400, "M_INVALID_USERNAME"},
		{"missing password", "", map[string]any{"username": "dave", "auth": dummy}, 400, "M_MISSING_PARAM"},
		{"password too long", "", map[string]any{"username": "dave", "password": strings.Repeat("p", 600), "auth": dummy}, 400, "M_INVALID_PARAM"},
		{"guest disabled", "?kind=guest", map[string]any{}, 403, "M_FORBIDDEN"},
		{"bad kind", "?kind=robot", map[string]any{}, 400, "M_INVALID_PARAM"},
		{"too large", "", `{"username":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "M_TOO_LARGE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do("POST", path+c.query, "", c.body), c.status, c.errcode)
		})
	}
	// Nothing was created by the rejected requests.
	if ok, _ := h.userAPI.LocalpartAvailable(t.Context(), "dave"); !ok {
		t.Fatal("a rejected registration created an account")
	}

	avail := []struct {
		query   string
		status  int
		errcode string
	}{
		{"", 400, "M_MISSING_PARAM"},
		{"?username=taken", 400, "M_USER_IN_USE"},
		{"?username=TAKEN", 400, "M_USER_IN_USE"},
		{"?username=Upper", 200, ""}, // registers as "upper"
		{"?username=up%20per", 400, "M_INVALID_USERNAME"},
		{"?username=free", 200, ""},
	}
	for _, c := range avail {
		r := h.must(h.do("GET", "/_matrix/client/v3/register/available"+c.query, "", nil), c.status, c.errcode)
		if c.status == 200 && r.body["available"] != true {
			t.Fatalf("available = %s", r.raw)
		}
	}
}

func TestRegisterClosedAndGuests(t *testing.T) { forEachImpl(t, testRegisterClosedAndGuests) }

func testRegisterClosedAndGuests(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t, func(c *Config) { c.RegistrationMode = config.RegistrationClosed; c.GuestsEnabled = true })
	h.must(h.do("POST", "/_matrix/client/v3/register", "", map[string]any{"username": "x", "password": "pw",
		"auth": map[string]any{"type": "m.login.dummy"}}), 403, "M_FORBIDDEN")

	r := h.must(h.do("POST", "/_matrix/client/v3/register?kind=guest", "", map[string]any{}), 200)
	guest := r.str("access_token")
	w := h.must(h.do("GET", "/_matrix/client/v3/account/whoami", guest, nil), 200)
	if w.body["is_guest"] != true {
		t.Fatalf("whoami = %s", w.raw)
	}
	// Guests may not create rooms or change push rules.
	h.must(h.do("POST", "/_matrix/client/v3/createRoom", guest, map[string]any{}), 403, "M_GUEST_ACCESS_FORBIDDEN")
	h.must(h.do("PUT", "/_matrix/client/v3/pushrules/global/content/x", guest, map[string]any{"actions": []any{}, "pattern": "x"}), 403, "M_GUEST_ACCESS_FORBIDDEN")
}

func macFor(secret, nonce, user, password string, admin bool) string {
	m := hmac.New(sha1.New, []byte(secret))
	kind := "notadmin"
	if admin {
		kind = "admin"
	}
	m.Write([]byte(nonce + "\x00" + user + "\x00" + password + "\x00" + kind))
	return hex.EncodeToString(m.Sum(nil))
}

func TestSharedSecretRegistration(t *testing.T) { forEachImpl(t, testSharedSecretRegistration) }

func testSharedSecretRegistration(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	const path = "/_synapse/admin/v1/register"
	nonce := func() string {
		r := h.must(h.do("GET", path, "", nil), 200)
		if len(r.str("nonce")) < 32 {
			t.Fatalf("nonce = %s", r.raw)
		}
		return r.str("nonce")
	}

	n := nonce()
	r := h.must(h.do("POST", path, "", map[string]any{"nonce": n, "username": "admin1", "password": "pw", "admin": true,
		"displayname": "The Admin", "mac": macFor("s3cret", n, "admin1", "pw", true)}), 200)
	if r.str("user_id") != "@admin1:test.local" || r.str("access_token") == "" || r.str("device_id") == "" {
		t.Fatalf("register = %s", r.raw)
	}
	p := h.must(h.do("GET", "/_matrix/client/v3/profile/@admin1:test.local", "", nil), 200)
	if p.str("displayname") != "The Admin" {
		t.Fatalf("profile = %s", p.raw)
	}
	// The nonce is single use.
	h.must(h.do("POST", path, "", map[string]any{"nonce": n, "username": "admin2", "password": "pw",
		"mac": macFor("s3cret", n, "admin2", "pw", false)}), 400, "M_UNKNOWN")

	cases := []struct {
		name    string
		body    func(n string) map[string]any
		status  int
		errcode string
	}{
		{"wrong mac", func(n string) map[string]any {
			return map[string]any{"nonce": n, "username": "u1", "password": "pw", "mac": macFor("wrong", n, "u1", "pw", false)}
		}, 403, "M_FORBIDDEN"},
		{"mac for other flags", func(n string) map[string]any {
			return map[string]any{"nonce": n, "username": "u1", "password": "pw", "admin": true, "mac": macFor("s3cret", n, "u1", "pw", false)}
		}, 403, "M_FORBIDDEN"},
		{"unknown nonce", func(string) map[string]any {
			return map[string]any{"nonce": "abc", "username": "u1", "password": "pw", "mac": macFor("s3cret", "abc", "u1", "pw", false)}
		}, 400, "M_UNKNOWN"},
		{"missing mac", func(n string) map[string]any {
			return map[string]any{"nonce": n, "username": "u1", "password": "pw"}
		}, 400, "M_MISSING_PARAM"},
		{"taken", func(n string) map[string]any {
			return map[string]any{"nonce": n, "username": "admin1", "password": "pw", "mac": macFor("s3cret", n, "admin1", "pw", false)}
		}, 400, "M_USER_IN_USE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do("POST", path, "", c.body(nonce())), c.status, c.errcode)
		})
	}
	if ok, _ := h.userAPI.LocalpartAvailable(t.Context(), "u1"); !ok {
		t.Fatal("a rejected shared-secret registration created an account")
	}

	off := newHarness(t, func(c *Config) { c.RegistrationSharedSecret = "" })
	off.must(off.do("GET", path, "", nil), 400, "M_UNRECOGNIZED")
	off.must(off.do("POST", path, "", map[string]any{}), 400, "M_UNRECOGNIZED")
}
