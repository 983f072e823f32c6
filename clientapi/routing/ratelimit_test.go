package routing

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/testenv"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Rates for the tests: slow enough that nothing refills while a test runs, or unlimited.
var (
	unlimited = config.Rate{PerSecond: 1e6, BurstCount: 1e6}
	burstOf   = func(n int) config.Rate { return config.Rate{PerSecond: 0.0001, BurstCount: n} }
)

// withRateLimits turns the default limits on, with every limit unlimited, then lets set
// change some.
func withRateLimits(set func(rl *config.RateLimits)) func(*Config) {
	return func(c *Config) {
		rl := config.Defaults("").Global.RateLimits
		rl.RegistrationTokenValidity = unlimited
		rl.Message, rl.Registration, rl.LoginAddress, rl.LoginAccount, rl.LoginFailedAttempts = unlimited, unlimited, unlimited, unlimited, unlimited
		rl.Joins, rl.InvitesPerRoom, rl.InvitesPerUser, rl.InvitesPerIssuer = unlimited, unlimited, unlimited, unlimited
		set(&rl)
		c.RateLimits = rl
	}
}

// doFrom is h.do from the given remote address with extra headers.
func (h *harness) doFrom(remote string, hdr http.Header, method, path, token string, body any) resp {
	h.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		h.t.Fatal(err)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	req.RemoteAddr = remote
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	out := resp{status: rec.Code, raw: rec.Body.Bytes()}
	_ = json.Unmarshal(out.raw, &out.body)
	if out.status == http.StatusTooManyRequests {
		if ra := rec.Header().Get("Retry-After"); ra == "" {
			h.t.Fatalf("429 without Retry-After: %s", out.raw)
		}
	}
	return out
}

// registerFrom registers localpart through the UIA flow from remote; it returns the last
// answer (200 with the account, or the refusal).
func (h *harness) registerFrom(remote string, hdr http.Header, localpart string) resp {
	h.t.Helper()
	body := map[string]any{"username": localpart, "password": "pw-" + localpart}
	r := h.doFrom(remote, hdr, "POST", "/_matrix/client/v3/register", "", body)
	if r.status != http.StatusUnauthorized {
		return r
	}
	body["auth"] = map[string]any{"type": "m.login.dummy", "session": r.str("session")}
	return h.doFrom(remote, hdr, "POST", "/_matrix/client/v3/register", "", body)
}

func mustLimited(t *testing.T, r resp) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.errcode() != "M_LIMIT_EXCEEDED" {
		t.Fatalf("got %d %s, want 429 M_LIMIT_EXCEEDED", r.status, r.raw)
	}
	if ms, _ := r.body["retry_after_ms"].(float64); ms <= 0 {
		t.Fatalf("no positive retry_after_ms: %s", r.raw)
	}
}

func roomPath(roomID string) string { return "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) }

func TestRateLimitMessages(t *testing.T) { forEachImpl(t, testRateLimitMessages) }

// testRateLimitMessages: with a message burst of 4, a user's 5th room send (createRoom
// counts) gets 429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After, and so do state
// events and redactions; other users, exempt user IDs and admins are not limited.
func testRateLimitMessages(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t, withRateLimits(func(rl *config.RateLimits) {
		rl.Message = burstOf(4)
		rl.ExemptUserIDs = []string{"@carol:test.local"}
	}))
	send := func(token, room string, i int) resp {
		return h.doFrom("192.0.2.1:1", nil, "PUT", roomPath(room)+"/send/m.room.message/t"+strconv.Itoa(i), token,
			map[string]any{"msgtype": "m.text", "body": "hi"})
	}
	createRoom := func(token string) string {
		return h.must(h.do("POST", "/_matrix/client/v3/createRoom", token, map[string]any{}), 200).str("room_id")
	}
	alice := h.register("alice")
	room := createRoom(alice.token)
	var ev string
	for i := 1; i <= 3; i++ {
		ev = h.must(send(alice.token, room, i), 200).str("event_id")
	}
	mustLimited(t, send(alice.token, room, 4))
	mustLimited(t, h.doFrom("192.0.2.1:1", nil, "PUT", roomPath(room)+"/state/m.room.topic", alice.token, map[string]any{"topic": "x"}))
	mustLimited(t, h.doFrom("192.0.2.1:1", nil, "PUT", roomPath(room)+"/redact/"+url.PathEscape(ev)+"/r1", alice.token, map[string]any{}))
	mustLimited(t, h.doFrom("192.0.2.1:1", nil, "POST", "/_matrix/client/v3/createRoom", alice.token, map[string]any{}))
	// Reads are not limited.
	h.must(h.do("GET", roomPath(room)+"/state", alice.token, nil), 200)

	// Per user: bob has his own bucket.
	bob := h.register("bob")
	bobRoom := createRoom(bob.token)
	h.must(send(bob.token, bobRoom, 1), 200)

	// exempt_user_ids and admins (shared-secret registration with admin=true) are never
	// limited.
	carol := h.register("carol")
	const path = "/_synapse/admin/v1/register"
	n := h.must(h.do("GET", path, "", nil), 200).str("nonce")
	admin := h.must(h.do("POST", path, "", map[string]any{"nonce": n, "username": "boss", "password": "pw", "admin": true,
		"mac": macFor("s3cret", n, "boss", "pw", true)}), 200).str("access_token")
	for _, token := range []string{carol.token, admin} {
		r := createRoom(token)
		for i := 1; i <= 12; i++ {
			h.must(send(token, r, i), 200)
		}
	}
}

// TestRateLimitAdminsExempt checks the exemption on the handler itself, for each account
// type the userapi can put on a device.
func TestRateLimitAdminsExempt(t *testing.T) {
	cfg := Config{}
	withRateLimits(func(rl *config.RateLimits) { rl.Message = burstOf(1) })(&cfg)
	rt := &Routes{limits: newLimits(cfg)}
	ok := func(*http.Request, *userapi.Device) (any, error) { return empty, nil }
	h := rt.perUser(rt.limits.message, ok)
	tests := []struct {
		typ     userapi.AccountType
		limited bool
	}{
		{userapi.AccountTypeUser, true},
		{userapi.AccountTypeGuest, true},
		{userapi.AccountTypeAdmin, false},
		{userapi.AccountTypeAppService, false},
	}
	for _, tt := range tests {
		dev := &userapi.Device{UserID: "@u" + strconv.Itoa(int(tt.typ)) + ":x", AccountType: tt.typ}
		var err error
		for i := 0; i < 3 && err == nil; i++ {
			_, err = h(httptest.NewRequest("PUT", "/", nil), dev)
		}
		if (err != nil) != tt.limited {
			t.Errorf("account type %d: err %v, want limited=%v", tt.typ, err, tt.limited)
		}
	}
}

func newLimitedHarness(t *testing.T, mutate ...func(*Config)) *harness {
	return newHarnessDSN(t, implDirect, testenv.SQLitePath(t, "clientapi"), mutate...)
}

// TestRateLimitPerIP: registration and login attempts are counted per client IP —
// X-Forwarded-For counts only from a trusted proxy — and a UIA round does not count.
func TestRateLimitPerIP(t *testing.T) {
	h := newLimitedHarness(t, withRateLimits(func(rl *config.RateLimits) {
		rl.Registration = burstOf(2)
		rl.LoginAddress = burstOf(3)
	}), func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	const a, b, proxy = "198.51.100.1:5000", "198.51.100.2:5000", "127.0.0.1:40000"
	xff := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }

	h.must(h.registerFrom(a, nil, "u1"), 200)
	h.must(h.registerFrom(a, nil, "u2"), 200)
	mustLimited(t, h.registerFrom(a, nil, "u3"))
	// A header from an untrusted client changes nothing.
	mustLimited(t, h.registerFrom(a, xff("203.0.113.9"), "u3"))
	// Another address has its own bucket; so has a client behind the trusted proxy.
	h.must(h.registerFrom(b, nil, "u3"), 200)
	h.must(h.registerFrom(proxy, xff("203.0.113.9"), "u4"), 200)
	h.must(h.registerFrom(proxy, xff("203.0.113.9"), "u5"), 200)
	mustLimited(t, h.registerFrom(proxy, xff("203.0.113.9"), "u6"))
	h.must(h.registerFrom(proxy, xff("203.0.113.10"), "u6"), 200)
	// Refused attempts do not use up the bucket: b still has one account left.
	h.must(h.doFrom(b, nil, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "u1", "password": "x"}), 400, "M_USER_IN_USE")
	h.must(h.registerFrom(b, nil, "u7"), 200)

	login := func(remote, user string) resp {
		return h.doFrom(remote, nil, "POST", "/_matrix/client/v3/login", "",
			map[string]any{"type": "m.login.password", "user": user, "password": "pw-" + user})
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		h.must(login(a, u), 200)
	}
	mustLimited(t, login(a, "u4"))
	h.must(login(b, "u4"), 200)
}

// TestRateLimitJoinsAndInvites: joins per user; invites per issuer, per invitee and per
// room, /createRoom's invite list included.
func TestRateLimitJoinsAndInvites(t *testing.T) {
	h := newLimitedHarness(t, withRateLimits(func(rl *config.RateLimits) {
		rl.Joins = burstOf(1)
		rl.InvitesPerUser = burstOf(2)
		rl.InvitesPerRoom = burstOf(2)
		rl.InvitesPerIssuer = burstOf(6)
	}))
	alice, bob, carol, dave, erin := h.register("alice"), h.register("bob"), h.register("carol"), h.register("dave"), h.register("erin")
	public := func() string {
		return h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice.token, map[string]any{"preset": "public_chat"}), 200).str("room_id")
	}
	r1, r2 := public(), public()
	h.must(h.do("POST", roomPath(r1)+"/join", bob.token, map[string]any{}), 200)
	mustLimited(t, h.do("POST", "/_matrix/client/v3/join/"+url.PathEscape(r2), bob.token, map[string]any{}))
	h.must(h.do("POST", roomPath(r2)+"/join", carol.token, map[string]any{}), 200)

	invite := func(token, room, user string) resp {
		return h.do("POST", roomPath(room)+"/invite", token, map[string]any{"user_id": user})
	}
	// Per room: two invites into r2, then no more.
	h.must(invite(alice.token, r2, dave.id), 200)
	h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice.token, map[string]any{"invite": []string{dave.id}}), 200)
	mustLimited(t, invite(alice.token, r1, dave.id)) // dave's third invite (per invitee)
	h.must(invite(alice.token, r2, bob.id), 200)
	mustLimited(t, invite(alice.token, r2, erin.id)) // r2's third invite (per room)
	// Per issuer: alice's 6th invite passes (refused ones counted too), her 7th does not.
	h.must(invite(alice.token, r1, erin.id), 200)
	mustLimited(t, invite(alice.token, r1, carol.id))
}

// TestRateLimitsOff: with rate_limits.enabled false nothing is limited.
func TestRateLimitsOff(t *testing.T) {
	h := newLimitedHarness(t, func(c *Config) {
		rl := config.Defaults("").Global.RateLimits
		rl.Enabled = false
		rl.Message, rl.Registration = burstOf(1), burstOf(1)
		c.RateLimits = rl
	})
	var users []testUser
	for _, u := range []string{"a1", "a2", "a3", "a4"} {
		users = append(users, h.register(u))
	}
	room := h.must(h.do("POST", "/_matrix/client/v3/createRoom", users[0].token, map[string]any{}), 200).str("room_id")
	for i := 0; i < 30; i++ {
		h.must(h.do("PUT", roomPath(room)+"/send/m.room.message/t"+strconv.Itoa(i), users[0].token,
			map[string]any{"msgtype": "m.text", "body": "hi"}), 200)
	}
}
