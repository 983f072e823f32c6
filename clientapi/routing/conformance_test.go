package routing

import (
	"net/url"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// Tests of issue 11 items 1–4: user ID case, request body rules, the default room version
// and join content. Each runs on SQLite and Postgres, with the clientapi on the direct
// implementations and on their inthttp clients.

// forEachStore runs fn on every database (testenv.Databases) times every implementation.
func forEachStore(t *testing.T, fn func(t *testing.T, newHarness harnessFunc)) {
	t.Helper()
	for name, dsn := range testenv.Databases(t) {
		for _, impl := range impls {
			t.Run(name+"/"+impl, func(t *testing.T) {
				fn(t, func(t *testing.T, mutate ...func(*Config)) *harness {
					t.Helper()
					return newHarnessDSN(t, impl, dsn(t), mutate...)
				})
			})
		}
	}
}

// memberContent is the content of userID's m.room.member event in room, as alice sees it.
func (h *harness) memberContent(token, room, userID string) map[string]any {
	h.t.Helper()
	return h.must(h.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/state/m.room.member/"+userID, token, nil), 200).body
}

func TestUserIDCase(t *testing.T) { forEachStore(t, testUserIDCase) }

func testUserIDCase(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	const v3 = "/_matrix/client/v3"
	alice := h.register("Alice")
	if alice.id != "@alice:test.local" {
		t.Fatalf("registered %q, want @alice:test.local", alice.id)
	}
	if w := h.must(h.do("GET", v3+"/account/whoami", alice.token, nil), 200); w.str("user_id") != "@alice:test.local" {
		t.Fatalf("whoami = %s", w.raw)
	}
	// The lower-cased name is taken, whatever the case asked for.
	h.must(h.do("POST", v3+"/register", "", map[string]any{"username": "ALICE", "password": "pw"}), 400, "M_USER_IN_USE")
	h.must(h.do("GET", v3+"/register/available?username=aLiCe", "", nil), 400, "M_USER_IN_USE")
	if r := h.must(h.do("GET", v3+"/register/available?username=Carol", "", nil), 200); r.body["available"] != true {
		t.Fatalf("available = %s", r.raw)
	}
	h.must(h.do("GET", v3+"/register/available?username=Ca%C5%95ol", "", nil), 400, "M_INVALID_USERNAME")

	logins := []struct {
		name string
		body map[string]any
	}{
		{"identifier, capitalised localpart", map[string]any{"identifier": map[string]any{"type": "m.id.user", "user": "ALICE"}}},
		{"identifier, capitalised full ID", map[string]any{"identifier": map[string]any{"type": "m.id.user", "user": "@Alice:test.local"}}},
		{"legacy user, capitalised localpart", map[string]any{"user": "aLIce"}},
		{"legacy user, capitalised full ID", map[string]any{"user": "@ALICE:test.local"}},
	}
	for _, l := range logins {
		l.body["type"], l.body["password"] = "m.login.password", alice.password
		r := h.must(h.do("POST", v3+"/login", "", l.body), 200)
		if r.str("user_id") != alice.id {
			t.Fatalf("%s: %s", l.name, r.raw)
		}
		if w := h.must(h.do("GET", v3+"/account/whoami", r.str("access_token"), nil), 200); w.str("user_id") != alice.id {
			t.Fatalf("%s: whoami = %s", l.name, w.raw)
		}
	}
	// The server name is not folded: a capitalised server is another server.
	h.must(h.do("POST", v3+"/login", "", map[string]any{"type": "m.login.password", "user": "@alice:TEST.local", "password": alice.password}), 403, "M_FORBIDDEN")

	// UIA's password stage takes a capitalised name too.
	second := h.must(h.do("POST", v3+"/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": alice.password, "device_id": "SECOND"}), 200)
	ch := h.must(h.do("DELETE", v3+"/devices/SECOND", alice.token, nil), 401)
	h.must(h.do("DELETE", v3+"/devices/SECOND", alice.token, map[string]any{"auth": map[string]any{
		"type": "m.login.password", "session": ch.str("session"), "identifier": map[string]any{"type": "m.id.user", "user": "ALICE"},
		"password": alice.password}}), 200)
	h.must(h.do("GET", v3+"/account/whoami", second.str("access_token"), nil), 401, "M_UNKNOWN_TOKEN")

	// Shared-secret registration: the MAC covers the name as sent, the account is lower case.
	const admin = "/_synapse/admin/v1/register"
	n := h.must(h.do("GET", admin, "", nil), 200).str("nonce")
	r := h.must(h.do("POST", admin, "", map[string]any{"nonce": n, "username": "BoB", "password": "pw",
		"mac": macFor("s3cret", n, "BoB", "pw", false)}), 200)
	if r.str("user_id") != "@bob:test.local" {
		t.Fatalf("shared-secret register = %s", r.raw)
	}
	n = h.must(h.do("GET", admin, "", nil), 200).str("nonce")
	h.must(h.do("POST", admin, "", map[string]any{"nonce": n, "username": "BOB", "password": "pw",
		"mac": macFor("s3cret", n, "BOB", "pw", false)}), 400, "M_USER_IN_USE")
}

func TestRequestBodyRules(t *testing.T) { forEachStore(t, testRequestBodyRules) }

func testRequestBodyRules(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	const v3 = "/_matrix/client/v3"
	room := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"preset": "public_chat"}), 200).str("room_id")
	rp := v3 + "/rooms/" + url.PathEscape(room)
	const badUTF8 = "{\"username\":\"b\xffb\",\"password\":\"pw\"}"
	cases := []struct {
		name, method, path, token, body string
	}{
		// Registration answers 400 before UIA would answer 401.
		{"register, invalid UTF-8", "POST", v3 + "/register", "", badUTF8},
		{"register, duplicate key", "POST", v3 + "/register", "", `{"username":"x","username":"y","password":"pw"}`},
		{"register, duplicate key in auth", "POST", v3 + "/register", "", `{"password":"pw","auth":{"type":"m.login.dummy","type":"x"}}`},
		{"register, array", "POST", v3 + "/register", "", `[{"username":"x"}]`},
		{"login, invalid UTF-8", "POST", v3 + "/login", "", "{\"type\":\"m.login.password\",\"user\":\"alice\",\"password\":\"\xc0\"}"},
		{"login, duplicate key", "POST", v3 + "/login", "", `{"type":"m.login.password","user":"alice","user":"bob","password":"x"}`},
		{"createRoom, duplicate nested key", "POST", v3 + "/createRoom", alice.token, `{"creation_content":{"m.federate":true,"m.federate":false}}`},
		{"send, invalid UTF-8", "PUT", rp + "/send/m.room.message/u1", alice.token, "{\"body\":\"\xed\xa0\x80\"}"},
		{"send, duplicate key", "PUT", rp + "/send/m.room.message/u2", alice.token, `{"body":"a","\u0062ody":"b"}`},
		{"state, a string", "PUT", rp + "/state/m.room.topic", alice.token, `"topic"`},
		{"account data, array", "PUT", v3 + "/user/" + alice.id + "/account_data/org.example", alice.token, `[1]`},
		{"join, invalid UTF-8", "POST", rp + "/join", alice.token, "{\"reason\":\"\xff\"}"},
		{"join, null", "POST", rp + "/join", alice.token, `null`},
		{"profile, duplicate key", "PUT", v3 + "/profile/" + alice.id + "/displayname", alice.token, `{"displayname":"a","displayname":"b"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, c.body), 400, "M_NOT_JSON")
		})
	}
	// Nothing was registered or sent by the refused requests.
	h.must(h.do("GET", v3+"/register/available?username=bb", "", nil), 200)
	// What is allowed still works: an empty join body, escapes, and the same key in two objects.
	h.must(h.do("POST", rp+"/join", alice.token, nil), 200)
	h.must(h.do("PUT", rp+"/send/m.room.message/u3", alice.token, `{"body":"\u00e9","m.relates_to":{"body":1}}`), 200)
}

func TestDefaultRoomVersion(t *testing.T) { forEachStore(t, testDefaultRoomVersion) }

func testDefaultRoomVersion(t *testing.T, newHarness harnessFunc) {
	const v3 = "/_matrix/client/v3"
	for _, tc := range []struct {
		configured, want string
	}{
		{"", "10"}, // global.default_room_version's default
		{"12", "12"},
		{"9", "9"},
	} {
		t.Run("configured "+tc.configured, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.DefaultRoomVersion = tc.configured })
			alice := h.register("alice")
			caps := h.must(h.do("GET", v3+"/capabilities", alice.token, nil), 200).body["capabilities"].(map[string]any)
			if d := caps["m.room_versions"].(map[string]any)["default"]; d != tc.want {
				t.Fatalf("capabilities default %v, want %s", d, tc.want)
			}
			room := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{}), 200).str("room_id")
			if v, err := h.rsAPI.QueryRoomVersion(t.Context(), room); err != nil || v != tc.want {
				t.Fatalf("room version %q (%v), want %s", v, err, tc.want)
			}
			create := h.must(h.do("GET", v3+"/rooms/"+url.PathEscape(room)+"/state/m.room.create/", alice.token, nil), 200)
			if create.str("room_version") != tc.want {
				t.Fatalf("create content %s", create.raw)
			}
		})
	}

	h := newHarness(t)
	alice := h.register("alice")
	bob := h.register("bob")
	for _, v := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"} {
		t.Run("v"+v, func(t *testing.T) {
			room := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"room_version": v, "preset": "public_chat"}), 200).str("room_id")
			if got, _ := h.rsAPI.QueryRoomVersion(t.Context(), room); got != v {
				t.Fatalf("room version %q, want %s", got, v)
			}
			rp := v3 + "/rooms/" + url.PathEscape(room)
			h.must(h.do("POST", rp+"/join", bob.token, nil), 200)
			// The pre-12 way: the creator listed in users. Allowed before 12; in 12 a
			// creator may not be listed.
			pl := map[string]any{"users": map[string]any{alice.id: 100, bob.id: 50}, "users_default": 0, "events_default": 0,
				"state_default": 50, "ban": 50, "kick": 50, "redact": 50, "invite": 0, "events": map[string]any{"m.room.power_levels": 100}}
			if v == "12" {
				h.must(h.do("PUT", rp+"/state/m.room.power_levels", alice.token, pl), 403, "M_FORBIDDEN")
				delete(pl["users"].(map[string]any), alice.id)
			}
			h.must(h.do("PUT", rp+"/state/m.room.power_levels", alice.token, pl), 200)
			if got := h.must(h.do("GET", rp+"/state/m.room.power_levels/", bob.token, nil), 200).body["users"].(map[string]any); got[bob.id] != float64(50) {
				t.Fatalf("power levels users %v", got)
			}
		})
	}
	h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"room_version": "13"}), 400, "M_UNSUPPORTED_ROOM_VERSION")
}

func TestJoinBodyContent(t *testing.T) { forEachStore(t, testJoinBodyContent) }

func testJoinBodyContent(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	const v3 = "/_matrix/client/v3"
	alice := h.register("alice")
	bob := h.register("bob")
	h.must(h.do("PUT", v3+"/profile/"+bob.id+"/displayname", bob.token, map[string]any{"displayname": "Bob Profile"}), 200)
	h.must(h.do("PUT", v3+"/profile/"+bob.id+"/avatar_url", bob.token, map[string]any{"avatar_url": "mxc://test.local/bob"}), 200)
	r := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"preset": "public_chat", "room_alias_name": "jc"}), 200)
	room := r.str("room_id")

	joins := []struct {
		name, path string
		body       any
		want       map[string]any // keys that must be there with these values
		absent     []string
	}{
		{"by alias, extra keys", v3 + "/join/" + url.PathEscape("#jc:test.local"), map[string]any{
			"reason": "hello", "org.example.meta": map[string]any{"k": "v"}, "displayname": "Bob Here", "membership": "leave",
			"third_party_signed": map[string]any{"sender": alice.id}, "join_authorised_via_users_server": alice.id},
			map[string]any{"membership": "join", "reason": "hello", "displayname": "Bob Here", "avatar_url": "mxc://test.local/bob",
				"org.example.meta": map[string]any{"k": "v"}},
			[]string{"third_party_signed", "join_authorised_via_users_server"}},
		{"by room ID, no body: the profile", v3 + "/rooms/" + url.PathEscape(room) + "/join", nil,
			map[string]any{"membership": "join", "displayname": "Bob Profile", "avatar_url": "mxc://test.local/bob"},
			[]string{"reason", "org.example.meta"}},
		{"by room ID, avatar_url from the body", v3 + "/rooms/" + url.PathEscape(room) + "/join", map[string]any{"avatar_url": "mxc://test.local/other", "is_cool": true},
			map[string]any{"membership": "join", "displayname": "Bob Profile", "avatar_url": "mxc://test.local/other", "is_cool": true},
			nil},
	}
	for _, j := range joins {
		if got := h.must(h.do("POST", j.path, bob.token, j.body), 200).str("room_id"); got != room {
			t.Fatalf("%s: room_id %q", j.name, got)
		}
		c := h.memberContent(alice.token, room, bob.id)
		for k, want := range j.want {
			if !jsonEqualValue(c[k], want) {
				t.Fatalf("%s: content[%q] = %v, want %v (content %v)", j.name, k, c[k], want, c)
			}
		}
		for _, k := range j.absent {
			if _, ok := c[k]; ok {
				t.Fatalf("%s: content has %q: %v", j.name, k, c)
			}
		}
	}
	for _, bad := range []map[string]any{{"displayname": 5}, {"avatar_url": []any{}}, {"reason": true}} {
		h.must(h.do("POST", v3+"/rooms/"+url.PathEscape(room)+"/join", bob.token, bad), 400, "M_BAD_JSON")
	}
}

// jsonEqualValue compares two decoded JSON values (maps compared key by key).
func jsonEqualValue(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok || bok {
		if !aok || !bok || len(am) != len(bm) {
			return false
		}
		for k := range am {
			if !jsonEqualValue(am[k], bm[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}
