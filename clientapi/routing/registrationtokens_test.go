package routing

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/config"
)

const tokensPath = "/_synapse/admin/v1/registration_tokens"

// registerSharedSecret makes an account through /_synapse/admin/v1/register (the harness's
// secret is "s3cret") and returns its access token.
func (h *harness) registerSharedSecret(localpart string, admin bool) string {
	h.t.Helper()
	const path = "/_synapse/admin/v1/register"
	n := h.must(h.do("GET", path, "", nil), 200).str("nonce")
	r := h.must(h.do("POST", path, "", map[string]any{"nonce": n, "username": localpart, "password": "pw", "admin": admin,
		"mac": macFor("s3cret", n, localpart, "pw", admin)}), 200)
	return r.str("access_token")
}

// registerWithToken runs POST /register in token mode: the challenge, then the token stage.
func (h *harness) registerWithToken(localpart, token string) resp {
	h.t.Helper()
	body := map[string]any{"username": localpart, "password": "pw"}
	r := h.must(h.do("POST", "/_matrix/client/v3/register", "", body), 401)
	body["auth"] = map[string]any{"type": "m.login.registration_token", "token": token, "session": r.str("session")}
	return h.do("POST", "/_matrix/client/v3/register", "", body)
}

func TestRegistrationTokenAdminAPI(t *testing.T) { forEachImpl(t, testRegistrationTokenAdminAPI) }

func testRegistrationTokenAdminAPI(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t, func(c *Config) { c.RegistrationMode = config.RegistrationToken })
	admin := h.registerSharedSecret("root", true)
	plain := h.registerSharedSecret("pleb", false)

	// Only admins: a user is 403, no token 401.
	h.must(h.do("GET", tokensPath, plain, nil), 403, "M_FORBIDDEN")
	h.must(h.do("POST", tokensPath+"/new", plain, map[string]any{}), 403, "M_FORBIDDEN")
	h.must(h.do("GET", tokensPath, "", nil), 401, "M_MISSING_TOKEN")

	// Created with Synapse's defaults: 16 characters, no limits.
	r := h.must(h.do("POST", tokensPath+"/new", admin, map[string]any{}), 200)
	gen := r.str("token")
	if len(gen) != 16 || r.body["uses_allowed"] != nil || r.body["expiry_time"] != nil ||
		r.body["pending"] != float64(0) || r.body["completed"] != float64(0) {
		t.Fatalf("new token = %s", r.raw)
	}
	if r := h.must(h.do("POST", tokensPath+"/new", admin, map[string]any{"length": 40}), 200); len(r.str("token")) != 40 {
		t.Fatalf("length 40 = %s", r.raw)
	}
	expiry := time.Now().Add(time.Hour).UnixMilli()
	r = h.must(h.do("POST", tokensPath+"/new", admin, map[string]any{"token": "friends.2024~x-y_z", "uses_allowed": 3,
		"expiry_time": expiry}), 200)
	if r.str("token") != "friends.2024~x-y_z" || r.body["uses_allowed"] != float64(3) || r.body["expiry_time"] != float64(expiry) {
		t.Fatalf("named token = %s", r.raw)
	}

	bad := []struct {
		name string
		body map[string]any
	}{
		{"bad characters", map[string]any{"token": "no spaces!"}},
		{"too long", map[string]any{"token": fmt.Sprintf("%065d", 0)}},
		{"empty token", map[string]any{"token": ""}},
		{"token not a string", map[string]any{"token": 5}},
		{"length 0", map[string]any{"length": 0}},
		{"length 65", map[string]any{"length": 65}},
		{"length and token", map[string]any{"length": 5, "token": "abc"}},
		{"negative uses", map[string]any{"uses_allowed": -1}},
		{"fractional uses", map[string]any{"uses_allowed": 1.5}},
		{"uses as string", map[string]any{"uses_allowed": "3"}},
		{"expiry in the past", map[string]any{"expiry_time": time.Now().Add(-time.Minute).UnixMilli()}},
		{"duplicate", map[string]any{"token": "friends.2024~x-y_z"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do("POST", tokensPath+"/new", admin, c.body), 400, "M_INVALID_PARAM")
		})
	}

	// GET one, and the list with its valid filter.
	r = h.must(h.do("GET", tokensPath+"/friends.2024~x-y_z", admin, nil), 200)
	if r.body["uses_allowed"] != float64(3) {
		t.Fatalf("get = %s", r.raw)
	}
	h.must(h.do("GET", tokensPath+"/nope", admin, nil), 404, "M_NOT_FOUND")
	listed := func(query string) []string {
		r := h.must(h.do("GET", tokensPath+query, admin, nil), 200)
		var out []string
		for _, x := range r.body["registration_tokens"].([]any) {
			out = append(out, x.(map[string]any)["token"].(string))
		}
		return out
	}
	if got := listed(""); len(got) != 3 {
		t.Fatalf("list = %v", got)
	}
	h.must(h.do("GET", tokensPath+"?valid=maybe", admin, nil), 400, "M_INVALID_PARAM")

	// PUT: uses_allowed 0 makes it invalid; null lifts the limit; absent fields stay.
	r = h.must(h.do("PUT", tokensPath+"/friends.2024~x-y_z", admin, map[string]any{"uses_allowed": 0}), 200)
	if r.body["uses_allowed"] != float64(0) || r.body["expiry_time"] != float64(expiry) {
		t.Fatalf("put = %s", r.raw)
	}
	if got := listed("?valid=false"); !reflect.DeepEqual(got, []string{"friends.2024~x-y_z"}) {
		t.Fatalf("invalid tokens = %v", got)
	}
	if got := listed("?valid=true"); len(got) != 2 {
		t.Fatalf("valid tokens = %v", got)
	}
	r = h.must(h.do("PUT", tokensPath+"/friends.2024~x-y_z", admin, map[string]any{"uses_allowed": nil, "expiry_time": nil}), 200)
	if r.body["uses_allowed"] != nil || r.body["expiry_time"] != nil {
		t.Fatalf("put nulls = %s", r.raw)
	}
	h.must(h.do("PUT", tokensPath+"/friends.2024~x-y_z", admin, map[string]any{"uses_allowed": -2}), 400, "M_INVALID_PARAM")
	h.must(h.do("PUT", tokensPath+"/nope", admin, map[string]any{"uses_allowed": 1}), 404, "M_NOT_FOUND")

	// DELETE.
	h.must(h.do("DELETE", tokensPath+"/"+gen, admin, nil), 200)
	h.must(h.do("DELETE", tokensPath+"/"+gen, admin, nil), 404, "M_NOT_FOUND")
	h.must(h.do("GET", tokensPath+"/"+gen, admin, nil), 404, "M_NOT_FOUND")
}

func TestRegisterWithToken(t *testing.T) { forEachImpl(t, testRegisterWithToken) }

func testRegisterWithToken(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t, func(c *Config) { c.RegistrationMode = config.RegistrationToken })
	admin := h.registerSharedSecret("root", true)
	h.must(h.do("POST", tokensPath+"/new", admin, map[string]any{"token": "once", "uses_allowed": 1}), 200)
	const path = "/_matrix/client/v3/register"

	// The only flow is the token stage; the dummy stage is not offered.
	r := h.must(h.do("POST", path, "", map[string]any{"username": "alice", "password": "pw"}), 401)
	flows, _ := r.body["flows"].([]any)
	if len(flows) != 1 || !reflect.DeepEqual(flows[0], map[string]any{"stages": []any{"m.login.registration_token"}}) {
		t.Fatalf("flows = %s", r.raw)
	}
	h.must(h.do("POST", path, "", map[string]any{"username": "alice", "password": "pw",
		"auth": map[string]any{"type": "m.login.dummy", "session": r.str("session")}}), 400, "M_UNRECOGNIZED")

	// A wrong token: the UIA 401 with the error, the session continues.
	r = h.registerWithToken("alice", "wrong")
	if r.status != 401 || r.errcode() != "M_UNAUTHORIZED" || r.str("session") == "" || r.body["flows"] == nil {
		t.Fatalf("wrong token = %d %s", r.status, r.raw)
	}
	// Validity, before and after the one use.
	valid := func(token string) any {
		return h.must(h.do("GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token="+token, "", nil), 200).body["valid"]
	}
	if valid("once") != true || valid("wrong") != false {
		t.Fatal("validity before use")
	}
	h.must(h.do("GET", "/_matrix/client/v1/register/m.login.registration_token/validity", "", nil), 400, "M_MISSING_PARAM")

	r = h.must(h.registerWithToken("alice", "once"), 200)
	if r.str("user_id") != "@alice:test.local" || r.str("access_token") == "" {
		t.Fatalf("register = %s", r.raw)
	}
	tok := h.must(h.do("GET", tokensPath+"/once", admin, nil), 200)
	if tok.body["pending"] != float64(0) || tok.body["completed"] != float64(1) {
		t.Fatalf("after use = %s", tok.raw)
	}
	if valid("once") != false {
		t.Fatal("a used-up token is still valid")
	}
	// Used up: the UIA error.
	h.must(h.registerWithToken("bob", "once"), 401, "M_UNAUTHORIZED")

	// A registration that passed the token stage holds a pending use: with uses_allowed 1
	// nobody else gets in until it finishes.
	h.must(h.do("POST", tokensPath+"/new", admin, map[string]any{"token": "shared", "uses_allowed": 1}), 200)
	body := map[string]any{"username": "carol", "password": "pw"}
	r = h.must(h.do("POST", path, "", body), 401)
	session := r.str("session")
	// Two stages in one flow would continue; here the stage completes the flow, so a
	// failure after it (username taken) leaves the reservation for this session.
	h.registerSharedSecret("carol", false)
	body["auth"] = map[string]any{"type": "m.login.registration_token", "token": "shared", "session": session}
	h.must(h.do("POST", path, "", body), 400, "M_USER_IN_USE")
	tok = h.must(h.do("GET", tokensPath+"/shared", admin, nil), 200)
	if tok.body["pending"] != float64(0) || tok.body["completed"] != float64(0) {
		t.Fatalf("username check before the stage: %s", tok.raw)
	}
	// Reserve with a fresh name, then let someone else try.
	r = h.must(h.do("POST", path, "", map[string]any{"username": "dave", "password": "pw"}), 401)
	daveSession := r.str("session")
	r = h.do("POST", path, "", map[string]any{"username": "dave",
		"auth": map[string]any{"type": "m.login.registration_token", "token": "shared", "session": daveSession}})
	h.must(r, 400, "M_MISSING_PARAM") // no password: the flow completed, the account did not
	tok = h.must(h.do("GET", tokensPath+"/shared", admin, nil), 200)
	if tok.body["pending"] != float64(1) {
		t.Fatalf("pending after the stage = %s", tok.raw)
	}
	h.must(h.registerWithToken("erin", "shared"), 401, "M_UNAUTHORIZED")

	// Deleting a token ends it for everyone.
	h.must(h.do("DELETE", tokensPath+"/shared", admin, nil), 200)
	h.must(h.registerWithToken("erin", "shared"), 401, "M_UNAUTHORIZED")
}

func TestRegistrationModes(t *testing.T) { forEachImpl(t, testRegistrationModes) }

func testRegistrationModes(t *testing.T, newHarness harnessFunc) {
	const validity = "/_matrix/client/v1/register/m.login.registration_token/validity?token=x"
	for _, tc := range []struct {
		mode          string
		registerCode  int
		validityCode  int
		flowsIncludes string
	}{
		{config.RegistrationOpen, 401, 200, "m.login.dummy"},
		{config.RegistrationToken, 401, 200, "m.login.registration_token"},
		{config.RegistrationClosed, 403, 403, ""},
		{"", 403, 403, ""}, // unset is closed, never open
	} {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.RegistrationMode = tc.mode })
			r := h.do("POST", "/_matrix/client/v3/register", "", map[string]any{"username": "u", "password": "pw"})
			if r.status != tc.registerCode {
				t.Fatalf("register: %d %s", r.status, r.raw)
			}
			if tc.registerCode == 403 {
				h.must(r, 403, "M_FORBIDDEN")
				h.must(h.do("GET", validity, "", nil), 403, "M_FORBIDDEN")
				// Shared-secret registration (axon-create-account) still works when closed.
				if h.registerSharedSecret("admin-"+fmt.Sprint(len(tc.mode)), true) == "" {
					t.Fatal("shared-secret registration gave no token")
				}
				return
			}
			if flows := fmt.Sprint(r.body["flows"]); !strings.Contains(flows, tc.flowsIncludes) {
				t.Fatalf("flows = %s", flows)
			}
			h.must(h.do("GET", validity, "", nil), tc.validityCode)
		})
	}
}
