package syncv3proxy_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/syncv3"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/syncv3proxy"
)

// startAxon builds and starts a real axon-monolith (rate limits off) and returns its base
// URL.
func startAxon(t *testing.T) string {
	bin := processtest.Build(t, "../cmd/axon-monolith", "axon-monolith")
	dir := t.TempDir()
	port := processtest.FreePort(t)
	cfg := fmt.Sprintf("global:\n  server_name: proxy.test\n  data_dir: %q\n  metrics:\n    enabled: false\n  rate_limits:\n    enabled: false\nuser_api:\n  bcrypt_cost: 4\n", dir)
	path := filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	processtest.Start(t, bin, port, "-config", path, "-http-bind", fmt.Sprintf("127.0.0.1:%d", port))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// proxy is one proxy in front of the upstream, served over HTTP.
type proxy struct {
	t       *testing.T
	base    string
	srv     *syncv3proxy.Server
	stop    func()
	db      *sqlutil.DB
	counter int
	// sharedSecret, when set, registers accounts by the upstream's shared secret.
	sharedSecret string
}

func startProxy(t *testing.T, upstream, dsn string, cfg syncv3proxy.Config) *proxy {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Upstream = upstream
	if cfg.PollTimeout == 0 {
		cfg.PollTimeout = 2 * time.Second
	}
	srv, err := syncv3proxy.New(ctx, db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	p := &proxy{t: t, base: hs.URL, srv: srv, db: db}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			hs.Close()
			cancel()
			srv.Pollers.Wait()
			db.Close()
		})
	}
	t.Cleanup(func() { p.stop() })
	return p
}

type v3Resp struct {
	Typing *struct {
		Events []json.RawMessage `json:"events"`
	} `json:"typing"`
	ToDevice *struct {
		Events []struct {
			Content struct {
				Body string `json:"body"`
			} `json:"content"`
		} `json:"events"`
		Limit int `json:"limit"`
	} `json:"to_device"`
	RoomMembers *struct {
		P *struct {
			Limit      int
			Sort, Next string
		} `json:"p"`
		Events []struct {
			StateKey string `json:"state_key"`
		} `json:"events"`
	} `json:"room_members"`
	Room *struct {
		P *struct {
			Next string `json:"next"`
		} `json:"p"`
		Timeline []struct {
			EventID string `json:"event_id"`
			RoomID  string `json:"room_id"`
			Content struct {
				Body string `json:"body"`
			} `json:"content"`
		} `json:"timeline"`
		State   []json.RawMessage `json:"state"`
		Limited bool              `json:"limited"`
	} `json:"room"`
	RoomList *struct {
		P *struct {
			Next string `json:"next"`
		} `json:"p"`
		Fields []string `json:"fields"`
		Rooms  []struct {
			RoomID            string          `json:"room_id"`
			Membership        string          `json:"membership"`
			Name              string          `json:"name"`
			IsDM              *bool           `json:"is_dm"`
			Tags              json.RawMessage `json:"tags"`
			NotificationCount *int            `json:"notification_count"`
			HighlightCount    *int            `json:"highlight_count"`
		} `json:"rooms"`
	} `json:"room_list"`
	Next    string `json:"next"`
	Errcode string `json:"errcode"`
}

func (r v3Resp) bodies() []string {
	var out []string
	if r.ToDevice != nil {
		for _, e := range r.ToDevice.Events {
			out = append(out, e.Content.Body)
		}
	}
	return out
}

// raw sends a request to base and decodes the answer.
func raw(t *testing.T, method, u, token, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (p *proxy) v3Raw(token, query, body string) (int, v3Resp) {
	p.t.Helper()
	code, b := raw(p.t, http.MethodPost, p.base+"/_matrix/client/v3/sync?"+query, token, body)
	var r v3Resp
	if err := json.Unmarshal(b, &r); err != nil {
		p.t.Fatalf("sync v3 answer %d %s: %v", code, b, err)
	}
	return code, r
}

func (p *proxy) v3(token, since, body string) v3Resp {
	p.t.Helper()
	q := ""
	if since != "" {
		q = "since=" + url.QueryEscape(since)
	}
	code, r := p.v3Raw(token, q, body)
	if code != 200 {
		p.t.Fatalf("sync v3 since %q %s: %d %+v", since, body, code, r)
	}
	return r
}

// do is a client-server request passed through the proxy.
func (p *proxy) do(method, path, token string, body any) processtest.Response {
	p.t.Helper()
	return processtest.Do(p.t, method, p.base+path, token, body)
}

func (p *proxy) register(name string) (string, string) {
	p.t.Helper()
	if p.sharedSecret != "" {
		return p.registerShared(name)
	}
	return processtest.Register(p.t, p.base, name)
}

// registerShared registers through the proxy with the upstream's shared-secret admin API
// (Synapse's test configuration allows no other registration).
func (p *proxy) registerShared(name string) (string, string) {
	p.t.Helper()
	nonce := p.do(http.MethodGet, "/_synapse/admin/v1/register", "", nil).Must(p.t, 200).Str("nonce")
	password := "correct horse " + name
	mac := hmac.New(sha1.New, []byte(p.sharedSecret))
	mac.Write([]byte(nonce + "\x00" + name + "\x00" + password + "\x00notadmin"))
	r := p.do(http.MethodPost, "/_synapse/admin/v1/register", "", map[string]any{"nonce": nonce, "username": name,
		"password": password, "admin": false, "mac": hex.EncodeToString(mac.Sum(nil))}).Must(p.t, 200)
	return r.Str("user_id"), r.Str("access_token")
}

func (p *proxy) send(token, room, body string) string {
	p.t.Helper()
	p.counter++
	return p.do(http.MethodPut, fmt.Sprintf("/_matrix/client/v3/rooms/%s/send/m.room.message/p%d", url.PathEscape(room), p.counter), token,
		map[string]any{"msgtype": "m.text", "body": body}).Must(p.t, 200).Str("event_id")
}

// TestProxy runs the sync v3 rules against axon-syncv3-proxy with a real Axon monolith
// upstream, on SQLite and on Postgres.
func TestProxy(t *testing.T) {
	upstream := startAxon(t)
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) { runSuite(t, upstream, "", dsn, name[:1]) })
	}
}

// TestProxySynapse runs the same rules with a real Synapse upstream: the one whose
// SYNAPSE_URL and SYNAPSE_SHARED_SECRET scripts/synapse.sh printed (skipped without).
func TestProxySynapse(t *testing.T) {
	upstream, secret := os.Getenv("SYNAPSE_URL"), os.Getenv("SYNAPSE_SHARED_SECRET")
	if upstream == "" || secret == "" {
		t.Skip("no Synapse: eval \"$(scripts/synapse.sh start DIR)\" first")
	}
	runSuite(t, upstream, secret, func(t *testing.T) string { return testenv.SQLitePath(t, "synapse") }, "y")
}

// runSuite runs the rules; dsn gives a new database (the suite's proxy's, and those of the
// tests that start their own).
func runSuite(t *testing.T, upstream, secret string, dsn func(*testing.T) string, tag string) {
	d := dsn(t)
	p := startProxy(t, upstream, d, syncv3proxy.Config{})
	p.sharedSecret = secret
	pfx := tag + fmt.Sprint(time.Now().UnixNano()%100000)
	t.Run("errors and pass-through", func(t *testing.T) { testErrors(t, p, pfx) })
	t.Run("room, read your writes, sticky", func(t *testing.T) { testRoom(t, p, pfx) })
	t.Run("typing", func(t *testing.T) { testTyping(t, p, pfx) })
	t.Run("to_device two sessions", func(t *testing.T) { testToDevice(t, p, pfx) })
	t.Run("room_members", func(t *testing.T) { testMembers(t, p, pfx) })
	// Synapse's shared-secret registration is slow: fewer members there.
	walkMembers := 1000
	if secret != "" {
		walkMembers = 200
	}
	t.Run("room_members walk", func(t *testing.T) { testMembersWalk(t, p, pfx, walkMembers) })
	t.Run("room_list", func(t *testing.T) { testRoomList(t, p, pfx) })
	t.Run("room_list counts", func(t *testing.T) { testRoomListCounts(t, p, pfx) })
	t.Run("gaps", func(t *testing.T) { testGaps(t, upstream, secret, dsn(t), pfx) })
	t.Run("restart and logout", func(t *testing.T) { testRestartLogout(t, p, upstream, d, pfx) })
	t.Run("expiry", func(t *testing.T) { testExpiry(t, upstream, secret, pfx) })
}

// testExpiry: a session idle past the idle timeout is M_UNKNOWN_SYNC_SESSION; the token's
// poller stopped meanwhile, and a new session starts it again and sees new writes.
func testExpiry(t *testing.T, upstream, secret, pfx string) {
	p := startProxy(t, upstream, testenv.SQLitePath(t, "expiry"), syncv3proxy.Config{
		Sessions: syncv3.Config{IdleTimeout: 1500 * time.Millisecond}, PollTimeout: 500 * time.Millisecond})
	p.sharedSecret = secret
	_, tok := p.register(pfx + "exp_a")
	room := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", tok, map[string]any{}).Must(t, 200).Str("room_id")
	s0 := p.v3(tok, "", fmt.Sprintf(`{"room":{"room_id":%q}}`, room))
	if n := p.srv.Pollers.Running(); n != 1 {
		t.Fatalf("%d pollers run, want 1", n)
	}
	time.Sleep(2500 * time.Millisecond)
	if n := p.srv.Pollers.Running(); n != 0 {
		t.Fatalf("%d pollers run after the idle timeout, want 0", n)
	}
	if code, r := p.v3Raw(tok, "since="+url.QueryEscape(s0.Next), `{}`); code != 400 || r.Errcode != "M_UNKNOWN_SYNC_SESSION" {
		t.Fatalf("expired session: %d %+v", code, r)
	}
	p.send(tok, room, "after expiry")
	r := p.v3(tok, "", fmt.Sprintf(`{"room":{"room_id":%q,"p":{"since":"1"}}}`, room))
	if got := timelineBodies(r); !slices.Contains(got, "after expiry") || p.srv.Pollers.Running() != 1 {
		t.Fatalf("new session after expiry: %v", got)
	}
}

func testErrors(t *testing.T, p *proxy, pfx string) {
	_, alice := p.register(pfx + "err_a")
	_, bob := p.register(pfx + "err_b")
	a := p.v3(alice, "", `{"to_device":{}}`)
	other := strings.Replace(a.Next, a.Next[3:27], "0123456789abcdef01234567", 1)
	for _, tc := range []struct {
		name, token, query, body string
		status                   int
		errcode                  string
	}{
		{"access_token refused", "", "access_token=" + alice, `{}`, 401, "M_MISSING_TOKEN"},
		{"no token", "", "", `{}`, 401, "M_MISSING_TOKEN"},
		{"bad token (upstream's answer)", "nobody", "", `{}`, 401, "M_UNKNOWN_TOKEN"},
		{"malformed since", alice, "since=s12_3", `{}`, 400, "M_UNKNOWN_SYNC_SESSION"},
		{"unknown session", alice, "since=" + other, `{}`, 400, "M_UNKNOWN_SYNC_SESSION"},
		{"another user's session", bob, "since=" + a.Next, `{}`, 400, "M_UNKNOWN_SYNC_SESSION"},
		{"unknown stream", alice, "", `{"room_member":{"room_id":"!a:test"}}`, 400, "M_INVALID_PARAM"},
		{"not JSON", alice, "", `{"typing":`, 400, "M_NOT_JSON"},
		{"wrong shape", alice, "", `{"typing":{"room_id":5}}`, 400, "M_BAD_JSON"},
		{"bad timeout", alice, "timeout=soon", `{}`, 400, "M_INVALID_PARAM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, r := p.v3Raw(tc.token, tc.query, tc.body)
			if code != tc.status || r.Errcode != tc.errcode {
				t.Fatalf("got %d %+v, want %d %s", code, r, tc.status, tc.errcode)
			}
		})
	}
	if code, b := raw(t, http.MethodPost, p.base+"/_matrix/client/v3/sync", alice, strings.Repeat(" ", 70<<10)+"{}"); code != 413 {
		t.Fatalf("a body over 64 KiB: %d %s", code, b)
	}
	// Everything else passes through: GET /sync is the upstream's spec /sync, unknown
	// paths and methods get the upstream's answers.
	if r := p.do(http.MethodGet, "/_matrix/client/v3/sync?timeout=0", alice, nil).Must(t, 200); r.Str("next_batch") == "" {
		t.Fatalf("GET /sync: %s", r.Raw)
	}
	if r := p.do(http.MethodGet, "/_matrix/client/v3/account/whoami", alice, nil).Must(t, 200); !strings.Contains(r.Str("user_id"), pfx+"err_a") {
		t.Fatalf("whoami: %s", r.Raw)
	}
	if r := p.do(http.MethodPut, "/_matrix/client/v3/sync", alice, nil); r.Status < 400 || r.Status > 405 {
		t.Fatalf("PUT /sync: %d %s", r.Status, r.Raw)
	}
	if r := p.do(http.MethodGet, "/_matrix/client/v3/not_a_thing", "", nil); r.Status != 404 {
		t.Fatalf("unknown path: %d %s", r.Status, r.Raw)
	}
	// r0 is served too.
	if code, b := raw(t, http.MethodPost, p.base+"/_matrix/client/r0/sync", alice, `{}`); code != 200 || !bytes.Contains(b, []byte(`"next"`)) {
		t.Fatalf("r0: %d %s", code, b)
	}
}

func timelineBodies(r v3Resp) []string {
	var out []string
	if r.Room != nil {
		for _, e := range r.Room.Timeline {
			if e.Content.Body != "" {
				out = append(out, e.Content.Body)
			}
		}
	}
	return out
}

func testRoom(t *testing.T, p *proxy, pfx string) {
	_, alice := p.register(pfx + "room_a")
	room := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", alice, map[string]any{"name": "Proxy room"}).Must(t, 200).Str("room_id")
	for i := 1; i <= 3; i++ {
		p.send(alice, room, fmt.Sprint("m", i))
	}
	// A page at once: the writes made through the proxy are there (read your own writes).
	q := fmt.Sprintf(`{"room":{"room_id":%q,"timeline_limit":2,"required_state":[["m.room.name",""]],"p":{"since":"1"}}}`, room)
	r0 := p.v3(alice, "", q)
	if got := timelineBodies(r0); !reflect.DeepEqual(got, []string{"m2", "m3"}) || r0.Room.P == nil || r0.Room.P.Next == "" || len(r0.Room.State) != 1 {
		t.Fatalf("first page: %v %+v", got, r0.Room)
	}
	if r0.Room.Timeline[0].RoomID != room {
		t.Fatalf("events lack room_id: %+v", r0.Room.Timeline[0])
	}
	r1 := p.v3(alice, r0.Next, fmt.Sprintf(`{"room":{"p":{"since":%q}}}`, r0.Room.P.Next))
	if got := timelineBodies(r1); !reflect.DeepEqual(got, []string{"m1"}) {
		t.Fatalf("second page: %v", got)
	}
	// Deltas: the sticky timeline_limit 2 applies; three new messages are limited.
	for i := 4; i <= 6; i++ {
		p.send(alice, room, fmt.Sprint("m", i))
	}
	r2 := p.v3(alice, r0.Next, `{}`)
	if got := timelineBodies(r2); !reflect.DeepEqual(got, []string{"m5", "m6"}) || !r2.Room.Limited {
		t.Fatalf("delta: %v %+v", got, r2.Room)
	}
	// A long-poll wakes on a message sent meanwhile.
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = raw(t, http.MethodPut, fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/send/m.room.message/late", p.base, url.PathEscape(room)), alice,
			`{"msgtype":"m.text","body":"late"}`)
	}()
	start := time.Now()
	code, r3 := p.v3Raw(alice, "timeout=20000&since="+url.QueryEscape(r2.Next), `{}`)
	if code != 200 || !reflect.DeepEqual(timelineBodies(r3), []string{"late"}) || time.Since(start) > 15*time.Second {
		t.Fatalf("long-poll: %d %v after %s", code, timelineBodies(r3), time.Since(start))
	}
	// An empty answer keeps next.
	code, r4 := p.v3Raw(alice, "timeout=100&since="+url.QueryEscape(r3.Next), `{}`)
	if code != 200 || r4.Room != nil || r4.Next != r3.Next {
		t.Fatalf("empty long-poll: %d %+v (next %q, want %q)", code, r4.Room, r4.Next, r3.Next)
	}
	// Someone never in the room may not read it.
	_, eve := p.register(pfx + "room_e")
	if code, r := p.v3Raw(eve, "", fmt.Sprintf(`{"room":{"room_id":%q,"p":{"since":"1"}}}`, room)); code != 403 || r.Errcode != "M_FORBIDDEN" {
		t.Fatalf("outsider: %d %+v", code, r)
	}
}

func join(t *testing.T, p *proxy, token, room string) {
	p.do(http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(room), token, map[string]any{}).Must(t, 200)
}

func testTyping(t *testing.T, p *proxy, pfx string) {
	alice, aliceTok := p.register(pfx + "typ_a")
	_, bobTok := p.register(pfx + "typ_b")
	room := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", aliceTok, map[string]any{"preset": "public_chat"}).Must(t, 200).Str("room_id")
	join(t, p, bobTok, room)
	b0 := p.v3(bobTok, "", fmt.Sprintf(`{"typing":{"room_id":%q}}`, room))
	if b0.Typing != nil {
		t.Fatalf("typing before anyone types: %s", b0.Typing.Events)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = raw(t, http.MethodPut, fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/typing/%s", p.base, url.PathEscape(room), url.PathEscape(alice)), aliceTok,
			`{"typing":true,"timeout":30000}`)
	}()
	code, b1 := p.v3Raw(bobTok, "timeout=20000&since="+url.QueryEscape(b0.Next), `{}`)
	if code != 200 || b1.Typing == nil || !strings.Contains(string(b1.Typing.Events[0]), alice) {
		t.Fatalf("typing long-poll: %d %+v", code, b1)
	}
	p.do(http.MethodPut, fmt.Sprintf("/_matrix/client/v3/rooms/%s/typing/%s", url.PathEscape(room), url.PathEscape(alice)), aliceTok,
		map[string]any{"typing": false}).Must(t, 200)
	deadline := time.Now().Add(15 * time.Second)
	next := b1.Next
	for {
		code, b := p.v3Raw(bobTok, "timeout=5000&since="+url.QueryEscape(next), `{}`)
		if code != 200 {
			t.Fatalf("typing: %d %+v", code, b)
		}
		if b.Typing != nil && strings.Contains(string(b.Typing.Events[0]), `"user_ids":[]`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("typing stop never seen")
		}
		next = b.Next
	}
}

func testToDevice(t *testing.T, p *proxy, pfx string) {
	_, aliceTok := p.register(pfx + "td_a")
	bob, bobTok := p.register(pfx + "td_b")
	bobDev := p.do(http.MethodGet, "/_matrix/client/v3/account/whoami", bobTok, nil).Must(t, 200).Str("device_id")
	n := 0
	sendTD := func(body string) {
		n++
		p.do(http.MethodPut, fmt.Sprintf("/_matrix/client/v3/sendToDevice/m.test/td%d", n), aliceTok,
			map[string]any{"messages": map[string]any{bob: map[string]any{bobDev: map[string]any{"body": body}}}}).Must(t, 200)
	}
	a0 := p.v3(bobTok, "", `{"to_device":{}}`)
	b0 := p.v3(bobTok, "", `{"to_device":{"limit":1}}`)
	sendTD("one")
	sendTD("two")
	// The messages reach the proxy by its poll; long-poll for them.
	collect := func(since string, want int) ([]string, string) {
		var got []string
		deadline := time.Now().Add(20 * time.Second)
		for len(got) < want && time.Now().Before(deadline) {
			code, r := p.v3Raw(bobTok, "timeout=5000&since="+url.QueryEscape(since), `{}`)
			if code != 200 {
				t.Fatalf("to_device: %d %+v", code, r)
			}
			got = append(got, r.bodies()...)
			since = r.Next
		}
		return got, since
	}
	got, a1 := collect(a0.Next, 2)
	if !reflect.DeepEqual(got, []string{"one", "two"}) {
		t.Fatalf("session A: %v", got)
	}
	if r := p.v3(bobTok, a1, `{}`); r.ToDevice != nil {
		t.Fatalf("acknowledged messages again: %v", r.bodies())
	}
	// Session B, slow, with its sticky limit 1, still gets both, one at a time.
	b1 := p.v3(bobTok, b0.Next, ``)
	b2 := p.v3(bobTok, b1.Next, ``)
	if !reflect.DeepEqual(b1.bodies(), []string{"one"}) || !reflect.DeepEqual(b2.bodies(), []string{"two"}) || b1.ToDevice.Limit != 1 {
		t.Fatalf("session B: %v then %v", b1.bodies(), b2.bodies())
	}
	if r := p.v3(bobTok, b2.Next, ``); r.ToDevice != nil {
		t.Fatalf("session B again: %v", r.bodies())
	}
	// The messages are deleted from the proxy once both acknowledged.
	var left int
	if err := p.db.QueryRow(`SELECT COUNT(*) FROM syncv3proxy_to_device`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("stored to-device messages after both sessions acknowledged: %d %v", left, err)
	}
}

func testMembers(t *testing.T, p *proxy, pfx string) {
	alice, aliceTok := p.register(pfx + "mem_a")
	room := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", aliceTok, map[string]any{"preset": "public_chat"}).Must(t, 200).Str("room_id")
	var users, tokens []string
	for _, n := range []string{"mem_c", "mem_b", "mem_d"} {
		u, tok := p.register(pfx + n)
		join(t, p, tok, room)
		users, tokens = append(users, u), append(tokens, tok)
	}
	leaver := users[0]
	users = append(users, alice)
	slices.Sort(users)
	// The others' joins reach alice's poller when the upstream shows them to her.
	all := fmt.Sprintf(`{"room_members":{"room_id":%q,"p":{"limit":100,"since":"1"}}}`, room)
	for deadline := time.Now().Add(20 * time.Second); len(p.v3(aliceTok, "", all).RoomMembers.Events) < len(users); {
		if time.Now().After(deadline) {
			t.Fatal("the joins never reached the proxy")
		}
		time.Sleep(100 * time.Millisecond)
	}
	body := fmt.Sprintf(`{"room_members":{"room_id":%q,"p":{"limit":3,"sort":"by_name","since":"1"}}}`, room)
	r0 := p.v3(aliceTok, "", body)
	if r0.RoomMembers == nil || r0.RoomMembers.P == nil || r0.RoomMembers.P.Next == "" || r0.RoomMembers.P.Limit != 3 {
		t.Fatalf("first page: %+v", r0.RoomMembers)
	}
	var got []string
	for _, e := range r0.RoomMembers.Events {
		got = append(got, e.StateKey)
	}
	// A join and a leave during the walk do not shift the pages (a snapshot).
	lateID, late := p.register(pfx + "mem_0late")
	join(t, p, late, room)
	p.do(http.MethodPost, "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/leave", tokens[0], map[string]any{}).Must(t, 200)
	r1 := p.v3(aliceTok, r0.Next, fmt.Sprintf(`{"room_members":{"p":{"since":%q}}}`, r0.RoomMembers.P.Next))
	for _, e := range r1.RoomMembers.Events {
		got = append(got, e.StateKey)
	}
	if !reflect.DeepEqual(got, users) || r1.RoomMembers.P.Next != "" {
		t.Fatalf("pages: %v, want %v (next %q)", got, users, r1.RoomMembers.P.Next)
	}
	// The deltas after the snapshot carry the late join and the leave (others' writes: the
	// upstream shows them to alice's poller eventually, so long-poll).
	var changed []string
	for since, deadline := r0.Next, time.Now().Add(20*time.Second); len(changed) < 2 && time.Now().Before(deadline); {
		code, r := p.v3Raw(aliceTok, "timeout=5000&since="+url.QueryEscape(since), `{}`)
		if code != 200 {
			t.Fatalf("delta: %d %+v", code, r)
		}
		if r.RoomMembers != nil {
			for _, e := range r.RoomMembers.Events {
				changed = append(changed, e.StateKey)
			}
		}
		since = r.Next
	}
	slices.Sort(changed)
	want := []string{lateID, leaver}
	slices.Sort(want)
	if !reflect.DeepEqual(changed, want) {
		t.Fatalf("deltas: %v, want %v", changed, want)
	}
	// sort by_pl: the creator (100) first; an unknown sort is negotiated to by_pl.
	r3 := p.v3(aliceTok, "", fmt.Sprintf(`{"room_members":{"room_id":%q,"p":{"limit":1,"sort":"by_height","since":"1"}}}`, room))
	if r3.RoomMembers.P.Sort != "by_pl" || r3.RoomMembers.Events[0].StateKey != alice {
		t.Fatalf("by_pl: %+v", r3.RoomMembers)
	}
}

func testRoomList(t *testing.T, p *proxy, pfx string) {
	alice, aliceTok := p.register(pfx + "rl_a")
	_, bobTok := p.register(pfx + "rl_b")
	older := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", aliceTok, map[string]any{"name": "Older"}).Must(t, 200).Str("room_id")
	newer := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", aliceTok, map[string]any{"name": "Newer"}).Must(t, 200).Str("room_id")
	p.do(http.MethodPut, fmt.Sprintf("/_matrix/client/v3/user/%s/account_data/m.direct", url.PathEscape(alice)), aliceTok,
		map[string]any{"@someone:proxy.test": []string{older}}).Must(t, 200)
	r0 := p.v3(aliceTok, "", `{"room_list":{"p":{"limit":1,"since":"1"}}}`)
	if r0.RoomList == nil || len(r0.RoomList.Rooms) != 1 || r0.RoomList.Rooms[0].RoomID != newer || r0.RoomList.Rooms[0].Name != "Newer" || r0.RoomList.P.Next == "" {
		t.Fatalf("first page: %+v", r0.RoomList)
	}
	r1 := p.v3(aliceTok, r0.Next, fmt.Sprintf(`{"room_list":{"p":{"since":%q}}}`, r0.RoomList.P.Next))
	if len(r1.RoomList.Rooms) != 1 || r1.RoomList.Rooms[0].RoomID != older || r1.RoomList.Rooms[0].IsDM == nil || !*r1.RoomList.Rooms[0].IsDM {
		t.Fatalf("second page: %+v", r1.RoomList)
	}
	// A delta: a new message in the older room, and an invite.
	p.send(aliceTok, older, "bump")
	third := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", bobTok, map[string]any{"name": "Invite", "invite": []string{alice}}).Must(t, 200).Str("room_id")
	deadline := time.Now().Add(20 * time.Second)
	seen := map[string]string{}
	since := r0.Next
	for (seen[older] == "" || seen[third] == "") && time.Now().Before(deadline) {
		code, r := p.v3Raw(aliceTok, "timeout=5000&since="+url.QueryEscape(since), `{}`)
		if code != 200 {
			t.Fatalf("delta: %d %+v", code, r)
		}
		if r.RoomList != nil {
			for _, rm := range r.RoomList.Rooms {
				seen[rm.RoomID] = rm.Membership + "/" + rm.Name
			}
		}
		since = r.Next
	}
	if seen[older] != "join/Older" || seen[third] != "invite/Invite" || seen[newer] != "" {
		t.Fatalf("deltas: %v", seen)
	}
	// A tag alone makes the room a delta too (account data positions).
	p.do(http.MethodPut, fmt.Sprintf("/_matrix/client/v3/user/%s/rooms/%s/tags/u.work", url.PathEscape(alice), url.PathEscape(newer)), aliceTok,
		map[string]any{"order": 0.5}).Must(t, 200)
	var tags string
	for deadline := time.Now().Add(20 * time.Second); tags == "" && time.Now().Before(deadline); {
		code, r := p.v3Raw(aliceTok, "timeout=5000&since="+url.QueryEscape(since), `{}`)
		if code != 200 {
			t.Fatalf("tag delta: %d %+v", code, r)
		}
		if r.RoomList != nil {
			for _, rm := range r.RoomList.Rooms {
				if rm.RoomID == newer {
					tags = string(rm.Tags)
				}
			}
		}
		since = r.Next
	}
	if !strings.Contains(tags, "u.work") {
		t.Fatalf("tag delta: %q", tags)
	}
}

func testRestartLogout(t *testing.T, p *proxy, upstream, dsn, pfx string) {
	_, tok := p.register(pfx + "rs_a")
	room := p.do(http.MethodPost, "/_matrix/client/v3/createRoom", tok, map[string]any{}).Must(t, 200).Str("room_id")
	r0 := p.v3(tok, "", fmt.Sprintf(`{"room":{"room_id":%q,"timeline_limit":5}}`, room))
	// A restart on the same database keeps the session, its sticky parameters and the
	// positions.
	p.stop()
	q := startProxy(t, upstream, dsn, syncv3proxy.Config{})
	q.sharedSecret = p.sharedSecret
	q.send(tok, room, "after restart")
	r1 := q.v3(tok, r0.Next, `{}`)
	if got := timelineBodies(r1); !reflect.DeepEqual(got, []string{"after restart"}) {
		t.Fatalf("after a restart: %v", got)
	}
	// A malformed token claiming positions ahead of the proxy is unknown.
	parts := strings.Split(r1.Next, "_")
	parts[2] = "999999999999999999"
	ahead := strings.Join(parts, "_")
	if code, r := q.v3Raw(tok, "since="+ahead, `{}`); code != 400 || r.Errcode != "M_UNKNOWN_SYNC_SESSION" {
		t.Fatalf("ahead: %d %+v", code, r)
	}
	// Logged out upstream: the poller stops and the request gets the upstream's 401.
	q.do(http.MethodPost, "/_matrix/client/v3/logout", tok, map[string]any{}).Must(t, 200)
	if code, r := q.v3Raw(tok, "since="+url.QueryEscape(r1.Next), `{}`); code != 401 || r.Errcode != "M_UNKNOWN_TOKEN" {
		t.Fatalf("after logout: %d %+v", code, r)
	}
}
