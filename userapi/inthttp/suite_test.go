package inthttp

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/crypto/bcrypt"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/userapi"
	"github.com/axon-matrix/axon/userapi/api"
)

const (
	server = "example.org"
	topic  = "axon.account_data"
	secret = "0123456789abcdef-internal"
)

// recordingOutbox remembers what is staged. It does not follow the transaction (the
// userapi's own tests cover rollbacks); here it shows that a SetAccountData over HTTP
// stages its topic 1 message on the userapi's side.
type recordingOutbox struct {
	mu   sync.Mutex
	msgs []eventlog.Message
}

func (o *recordingOutbox) Stage(ctx context.Context, tx *sql.Tx, msgs ...eventlog.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, msgs...)
	return nil
}
func (o *recordingOutbox) Kick()                         {}
func (o *recordingOutbox) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (o *recordingOutbox) staged() []eventlog.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]eventlog.Message(nil), o.msgs...)
}

// env is one userapi under test, reached directly or over HTTP.
type env struct {
	api    api.UserAPI
	outbox *recordingOutbox
}

func newDirect(t *testing.T, dsn string) (api.UserAPI, *recordingOutbox) {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ob := &recordingOutbox{}
	a, err := userapi.NewInternalAPI(db, server, ob, topic,
		userapi.WithBcryptCost(bcrypt.MinCost), userapi.WithLastSeenInterval(time.Millisecond),
		userapi.WithReservedLocalparts("admin"))
	if err != nil {
		t.Fatal(err)
	}
	return a, ob
}

// serveHTTP puts a behind AddRoutes on an httptest server and returns a Client of it.
func serveHTTP(t *testing.T, a api.UserAPI) *Client {
	t.Helper()
	root := mux.NewRouter()
	AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), a, secret)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, secret, inthttp.WithHTTPClient(srv.Client()))
}

// forEachImpl runs fn on SQLite and Postgres, each against the direct implementation and
// against the inthttp Client in front of it: both must behave alike.
func forEachImpl(t *testing.T, fn func(t *testing.T, e env)) {
	for dbName, dsn := range testenv.Databases(t) {
		t.Run(dbName, func(t *testing.T) {
			for _, impl := range []string{"direct", "inthttp"} {
				t.Run(impl, func(t *testing.T) {
					a, ob := newDirect(t, dsn(t))
					if impl == "inthttp" {
						a = serveHTTP(t, a)
					}
					fn(t, env{a, ob})
				})
			}
		})
	}
}

// wantErr fails unless err is a MatrixError with status and code (code "" wants no error).
func wantErr(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	var me *httputil.MatrixError
	if !errors.As(err, &me) {
		t.Fatalf("%s: error %v, want %d %s", what, err, status, code)
	}
	if me.Status != status || me.ErrCode != code {
		t.Fatalf("%s: %d %s (%s), want %d %s", what, me.Status, me.ErrCode, me.Err, status, code)
	}
}

func sameJSON(t *testing.T, what string, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: %s, want %s", what, got, want)
	}
}

func TestAccounts(t *testing.T) {
	forEachImpl(t, func(t *testing.T, e env) {
		ctx := context.Background()
		alice, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice", Password: "pw", DisplayName: "Alice"})
		if err != nil {
			t.Fatal(err)
		}
		if alice.UserID != "@alice:"+server || alice.AccountType != api.AccountTypeUser || alice.CreatedTS == 0 {
			t.Fatalf("account %+v", alice)
		}
		tests := []struct {
			name   string
			call   func() error
			status int
			code   string
		}{
			{"taken", func() error {
				_, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice"})
				return err
			}, 400, "M_USER_IN_USE"},
			{"reserved", func() error {
				_, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "admin"})
				return err
			}, 400, "M_USER_IN_USE"},
			{"invalid localpart", func() error {
				_, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "Bad Name"})
				return err
			}, 400, "M_INVALID_USERNAME"},
			{"bad account type", func() error {
				_, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "bob", AccountType: 99})
				return err
			}, 400, "M_INVALID_PARAM"},
			{"unknown account", func() error { _, err := e.api.GetAccount(ctx, "@nobody:"+server); return err }, 404, "M_NOT_FOUND"},
			{"malformed user ID", func() error { _, err := e.api.GetAccount(ctx, "alice"); return err }, 400, "M_INVALID_PARAM"},
			{"wrong password", func() error { _, err := e.api.CheckPassword(ctx, alice.UserID, "nope"); return err }, 403, "M_FORBIDDEN"},
			{"unknown user password", func() error { _, err := e.api.CheckPassword(ctx, "@nobody:"+server, "pw"); return err }, 403, "M_FORBIDDEN"},
			{"invalid localpart availability", func() error { _, err := e.api.LocalpartAvailable(ctx, "Bad"); return err }, 400, "M_INVALID_USERNAME"},
		}
		for _, tc := range tests {
			wantErr(t, tc.name, tc.call(), tc.status, tc.code)
		}
		if _, err := e.api.GetAccount(ctx, "@bob:"+server); err == nil {
			t.Fatal("a rejected account was stored")
		}
		for lp, want := range map[string]bool{"alice": false, "admin": false, "free": true} {
			if got, err := e.api.LocalpartAvailable(ctx, lp); err != nil || got != want {
				t.Fatalf("LocalpartAvailable(%s) = %v %v, want %v", lp, got, err, want)
			}
		}
		got, err := e.api.GetAccount(ctx, alice.UserID)
		if err != nil || *got != *alice {
			t.Fatalf("GetAccount = %+v %v, want %+v", got, err, alice)
		}
		if acct, err := e.api.CheckPassword(ctx, alice.UserID, "pw"); err != nil || acct.UserID != alice.UserID {
			t.Fatalf("CheckPassword = %+v %v", acct, err)
		}
		guest, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{AccountType: api.AccountTypeGuest})
		if err != nil || guest.AccountType != api.AccountTypeGuest || guest.Localpart == "" {
			t.Fatalf("guest %+v %v", guest, err)
		}
	})
}

func TestDevicesAndTokens(t *testing.T) {
	forEachImpl(t, func(t *testing.T, e env) {
		ctx := context.Background()
		alice, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice", Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		d1, err := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: alice.UserID, DeviceID: "D1", DisplayName: "phone", IP: "10.0.0.1"})
		if err != nil || d1.AccessToken == "" || d1.DeviceID != "D1" {
			t.Fatalf("CreateDevice %+v %v", d1, err)
		}
		d2, err := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: alice.UserID})
		if err != nil || d2.DeviceID == "" || d2.AccessToken == d1.AccessToken {
			t.Fatalf("generated device %+v %v", d2, err)
		}
		// The client IP in the context reaches the userapi, over HTTP too.
		time.Sleep(5 * time.Millisecond) // past the last-seen interval
		got, err := e.api.QueryAccessToken(api.WithClientIP(ctx, "192.0.2.7"), d1.AccessToken)
		if err != nil || got.UserID != alice.UserID || got.DeviceID != "D1" || got.AccountType != api.AccountTypeUser {
			t.Fatalf("QueryAccessToken %+v %v", got, err)
		}
		if got.AccessToken != "" {
			t.Fatal("QueryAccessToken returned the token")
		}
		if dev, err := e.api.GetDevice(ctx, alice.UserID, "D1"); err != nil || dev.LastSeenIP != "192.0.2.7" || dev.DisplayName != "phone" {
			t.Fatalf("GetDevice %+v %v", dev, err)
		}
		if devs, err := e.api.ListDevices(ctx, alice.UserID); err != nil || len(devs) != 2 {
			t.Fatalf("ListDevices %+v %v", devs, err)
		}
		if err := e.api.UpdateDevice(ctx, alice.UserID, "D1", "tablet"); err != nil {
			t.Fatal(err)
		}
		if dev, _ := e.api.GetDevice(ctx, alice.UserID, "D1"); dev == nil || dev.DisplayName != "tablet" {
			t.Fatalf("renamed device %+v", dev)
		}
		errs := []struct {
			name   string
			call   func() error
			status int
			code   string
		}{
			{"unknown token", func() error { _, err := e.api.QueryAccessToken(ctx, "nope"); return err }, 401, "M_UNKNOWN_TOKEN"},
			{"empty token", func() error { _, err := e.api.QueryAccessToken(ctx, ""); return err }, 401, "M_UNKNOWN_TOKEN"},
			{"unknown device", func() error { _, err := e.api.GetDevice(ctx, alice.UserID, "NOPE"); return err }, 404, "M_NOT_FOUND"},
			{"rename unknown device", func() error { return e.api.UpdateDevice(ctx, alice.UserID, "NOPE", "x") }, 404, "M_NOT_FOUND"},
			{"device of unknown user", func() error {
				_, err := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: "@nobody:" + server})
				return err
			}, 404, "M_NOT_FOUND"},
		}
		for _, tc := range errs {
			wantErr(t, tc.name, tc.call(), tc.status, tc.code)
		}
		if err := e.api.DeleteDevices(ctx, alice.UserID, []string{"D1"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.api.QueryAccessToken(ctx, d1.AccessToken)
		wantErr(t, "deleted device's token", err, 401, "M_UNKNOWN_TOKEN")

		d3, _ := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: alice.UserID, DeviceID: "D3"})
		if err := e.api.DeleteAllDevices(ctx, alice.UserID, "D3"); err != nil {
			t.Fatal(err)
		}
		_, err = e.api.QueryAccessToken(ctx, d2.AccessToken)
		wantErr(t, "logged out device's token", err, 401, "M_UNKNOWN_TOKEN")
		if _, err := e.api.QueryAccessToken(ctx, d3.AccessToken); err != nil {
			t.Fatalf("kept device: %v", err)
		}

		// SetPassword with logout keeps only the named device.
		d4, _ := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: alice.UserID, DeviceID: "D4"})
		if err := e.api.SetPassword(ctx, alice.UserID, "new", true, "D4"); err != nil {
			t.Fatal(err)
		}
		_, err = e.api.QueryAccessToken(ctx, d3.AccessToken)
		wantErr(t, "token after password change", err, 401, "M_UNKNOWN_TOKEN")
		if _, err := e.api.QueryAccessToken(ctx, d4.AccessToken); err != nil {
			t.Fatalf("excepted device: %v", err)
		}
		_, err = e.api.CheckPassword(ctx, alice.UserID, "pw")
		wantErr(t, "old password", err, 403, "M_FORBIDDEN")
		wantErr(t, "password of unknown user", e.api.SetPassword(ctx, "@nobody:"+server, "x", false, ""), 404, "M_NOT_FOUND")

		// Deactivation removes every token and the password login.
		if err := e.api.DeactivateAccount(ctx, alice.UserID); err != nil {
			t.Fatal(err)
		}
		_, err = e.api.QueryAccessToken(ctx, d4.AccessToken)
		wantErr(t, "token after deactivation", err, 401, "M_UNKNOWN_TOKEN")
		_, err = e.api.CheckPassword(ctx, alice.UserID, "new")
		wantErr(t, "login after deactivation", err, 403, "M_FORBIDDEN")
		if acct, err := e.api.GetAccount(ctx, alice.UserID); err != nil || !acct.Deactivated {
			t.Fatalf("deactivated account %+v %v", acct, err)
		}
	})
}

func TestProfiles(t *testing.T) {
	forEachImpl(t, func(t *testing.T, e env) {
		ctx := context.Background()
		alice, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if p, err := e.api.GetProfile(ctx, alice.UserID); err != nil || p.DisplayName != "alice" || p.AvatarURL != "" {
			t.Fatalf("default profile %+v %v", p, err)
		}
		if err := e.api.SetDisplayName(ctx, alice.UserID, "Alice A."); err != nil {
			t.Fatal(err)
		}
		if err := e.api.SetAvatarURL(ctx, alice.UserID, "mxc://example.org/abc"); err != nil {
			t.Fatal(err)
		}
		want := api.Profile{UserID: alice.UserID, DisplayName: "Alice A.", AvatarURL: "mxc://example.org/abc"}
		if p, err := e.api.GetProfile(ctx, alice.UserID); err != nil || *p != want {
			t.Fatalf("profile %+v %v, want %+v", p, err, want)
		}
		_, err = e.api.GetProfile(ctx, "@nobody:"+server)
		wantErr(t, "unknown profile", err, 404, "M_NOT_FOUND")
		wantErr(t, "display name of unknown user", e.api.SetDisplayName(ctx, "@nobody:"+server, "x"), 404, "M_NOT_FOUND")
	})
}

func TestAccountData(t *testing.T) {
	forEachImpl(t, func(t *testing.T, e env) {
		ctx := context.Background()
		alice, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		items := []api.AccountData{
			{UserID: alice.UserID, Type: "m.push_rules", Content: json.RawMessage(`{"global":{"override":[]}}`)},
			{UserID: alice.UserID, RoomID: "!r:" + server, Type: "m.tag", Content: json.RawMessage(`{"tags":{"u.work":{"order":0.5}}}`)},
		}
		for i := range items {
			if err := e.api.SetAccountData(ctx, &items[i]); err != nil {
				t.Fatal(err)
			}
		}
		for _, it := range items {
			got, err := e.api.GetAccountData(ctx, it.UserID, it.RoomID, it.Type)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, it.Type, got, it.Content)
		}
		list, err := e.api.ListAccountData(ctx, alice.UserID)
		if err != nil || len(list) != 2 {
			t.Fatalf("ListAccountData %+v %v", list, err)
		}
		bad := []struct {
			name   string
			data   api.AccountData
			status int
			code   string
		}{
			{"not JSON", api.AccountData{UserID: alice.UserID, Type: "x", Content: json.RawMessage(`{`)}, 400, "M_BAD_JSON"},
			{"not an object", api.AccountData{UserID: alice.UserID, Type: "x", Content: json.RawMessage(`[1]`)}, 400, "M_BAD_JSON"},
			{"no type", api.AccountData{UserID: alice.UserID, Content: json.RawMessage(`{}`)}, 400, "M_MISSING_PARAM"},
			{"unknown user", api.AccountData{UserID: "@nobody:" + server, Type: "x", Content: json.RawMessage(`{}`)}, 404, "M_NOT_FOUND"},
		}
		for _, tc := range bad {
			d := tc.data
			wantErr(t, tc.name, e.api.SetAccountData(ctx, &d), tc.status, tc.code)
		}
		_, err = e.api.GetAccountData(ctx, alice.UserID, "", "m.nothing")
		wantErr(t, "missing account data", err, 404, "M_NOT_FOUND")

		// Topic 1: each accepted write staged one message keyed by the user, in order.
		staged := e.outbox.staged()
		if len(staged) != 2 {
			t.Fatalf("staged %d messages, want 2", len(staged))
		}
		for i, m := range staged {
			var out api.OutputAccountData
			if err := json.Unmarshal(m.Value, &out); err != nil {
				t.Fatal(err)
			}
			if m.Topic != topic || m.Key != alice.UserID || out.Type != items[i].Type || out.RoomID != items[i].RoomID {
				t.Fatalf("staged %d: %s %s %+v", i, m.Topic, m.Key, out)
			}
		}
	})
}

// TestAccountDataPosition: read-your-writes for topic 1. The device QueryAccessToken
// returns carries the position of its user's newest account-data write (the staged
// message's), not moved by other users' writes nor by refused ones.
func TestAccountDataPosition(t *testing.T) {
	forEachImpl(t, func(t *testing.T, e env) {
		ctx := context.Background()
		token := func(lp string) string {
			if _, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: lp}); err != nil {
				t.Fatal(err)
			}
			d, err := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: "@" + lp + ":" + server})
			if err != nil {
				t.Fatal(err)
			}
			return d.AccessToken
		}
		aliceTok, bobTok := token("alice"), token("bob")
		pos := func(tok string) int64 {
			t.Helper()
			d, err := e.api.QueryAccessToken(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			return d.AccountDataPos
		}
		lastStaged := func() int64 {
			staged := e.outbox.staged()
			var out api.OutputAccountData
			if err := json.Unmarshal(staged[len(staged)-1].Value, &out); err != nil {
				t.Fatal(err)
			}
			return out.StreamPos
		}
		if pos(aliceTok) != 0 || pos(bobTok) != 0 {
			t.Fatal("positions before any write")
		}
		set := func(user, typ string) error {
			return e.api.SetAccountData(ctx, &api.AccountData{UserID: user, Type: typ, Content: json.RawMessage(`{}`)})
		}
		if err := set("@alice:"+server, "a.one"); err != nil {
			t.Fatal(err)
		}
		alicePos := lastStaged()
		if pos(aliceTok) != alicePos || pos(bobTok) != 0 {
			t.Fatalf("after alice's write: alice %d bob %d, want %d and 0", pos(aliceTok), pos(bobTok), alicePos)
		}
		if err := set("@bob:"+server, "b.one"); err != nil {
			t.Fatal(err)
		}
		if pos(aliceTok) != alicePos || pos(bobTok) != lastStaged() {
			t.Fatalf("after bob's write: alice %d bob %d", pos(aliceTok), pos(bobTok))
		}
		wantErr(t, "refused write", set("@alice:"+server, ""), 400, "M_MISSING_PARAM")
		if pos(aliceTok) != alicePos {
			t.Fatal("a refused write moved alice's position")
		}
	})
}

func TestFilters(t *testing.T) {
	forEachImpl(t, func(t *testing.T, e env) {
		ctx := context.Background()
		alice, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		filter := json.RawMessage(`{"room":{"timeline":{"limit":10}}}`)
		id, err := e.api.PutFilter(ctx, alice.UserID, filter)
		if err != nil || id == "" {
			t.Fatalf("PutFilter %q %v", id, err)
		}
		got, err := e.api.GetFilter(ctx, alice.UserID, id)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "filter", got, filter)
		tests := []struct {
			name   string
			call   func() error
			status int
			code   string
		}{
			{"not JSON", func() error { _, err := e.api.PutFilter(ctx, alice.UserID, json.RawMessage(`{`)); return err }, 400, "M_BAD_JSON"},
			{"not an object", func() error { _, err := e.api.PutFilter(ctx, alice.UserID, json.RawMessage(`"x"`)); return err }, 400, "M_BAD_JSON"},
			{"unknown filter", func() error { _, err := e.api.GetFilter(ctx, alice.UserID, "999"); return err }, 404, "M_NOT_FOUND"},
			{"other user's filter", func() error { _, err := e.api.GetFilter(ctx, "@bob:"+server, id); return err }, 404, "M_NOT_FOUND"},
		}
		for _, tc := range tests {
			wantErr(t, tc.name, tc.call(), tc.status, tc.code)
		}
	})
}

// TestSecretRequired checks that AddRoutes refuses calls without the secret, whatever
// router it is mounted on.
func TestSecretRequired(t *testing.T) {
	a, _ := newDirect(t, testenv.SQLitePath(t, "userapi"))
	root := mux.NewRouter()
	AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), a, secret)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	for _, s := range []string{"", "wrong-secret-0123456", secret + "x"} {
		c := NewClient(srv.URL, s, inthttp.WithHTTPClient(srv.Client()))
		_, err := c.CreateAccount(context.Background(), &api.CreateAccountRequest{Localpart: "mallory"})
		wantErr(t, "secret "+s, err, 401, "M_UNAUTHORIZED")
	}
	if _, err := a.GetAccount(context.Background(), "@mallory:"+server); err == nil {
		t.Fatal("a refused call created an account")
	}
}

// TestQueriesRetriedWritesNot checks each method's idempotency flag: against a server that
// drops every connection, a query is tried 1+retries times and a write once.
func TestQueriesRetriedWritesNot(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		mu.Unlock()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, "", inthttp.WithRetries(2, time.Millisecond))
	ctx := context.Background()
	u := "@a:" + server
	tests := []struct {
		path  string
		query bool
		call  func() error
	}{
		{pathCreateAccount, false, func() error { _, err := c.CreateAccount(ctx, &api.CreateAccountRequest{}); return err }},
		{pathLocalpartAvailable, true, func() error { _, err := c.LocalpartAvailable(ctx, "a"); return err }},
		{pathGetAccount, true, func() error { _, err := c.GetAccount(ctx, u); return err }},
		{pathCheckPassword, true, func() error { _, err := c.CheckPassword(ctx, u, "p"); return err }},
		{pathSetPassword, false, func() error { return c.SetPassword(ctx, u, "p", true, "") }},
		{pathDeactivateAccount, false, func() error { return c.DeactivateAccount(ctx, u) }},
		{pathCreateDevice, false, func() error { _, err := c.CreateDevice(ctx, &api.CreateDeviceRequest{}); return err }},
		{pathQueryAccessToken, true, func() error { _, err := c.QueryAccessToken(ctx, "t"); return err }},
		{pathListDevices, true, func() error { _, err := c.ListDevices(ctx, u); return err }},
		{pathGetDevice, true, func() error { _, err := c.GetDevice(ctx, u, "D"); return err }},
		{pathUpdateDevice, false, func() error { return c.UpdateDevice(ctx, u, "D", "n") }},
		{pathDeleteDevices, false, func() error { return c.DeleteDevices(ctx, u, []string{"D"}) }},
		{pathDeleteAllDevices, false, func() error { return c.DeleteAllDevices(ctx, u, "") }},
		{pathGetProfile, true, func() error { _, err := c.GetProfile(ctx, u); return err }},
		{pathSetDisplayName, false, func() error { return c.SetDisplayName(ctx, u, "n") }},
		{pathSetAvatarURL, false, func() error { return c.SetAvatarURL(ctx, u, "mxc://x/y") }},
		{pathSetAccountData, false, func() error {
			return c.SetAccountData(ctx, &api.AccountData{UserID: u, Type: "t", Content: json.RawMessage(`{}`)})
		}},
		{pathGetAccountData, true, func() error { _, err := c.GetAccountData(ctx, u, "", "t"); return err }},
		{pathListAccountData, true, func() error { _, err := c.ListAccountData(ctx, u); return err }},
		{pathPutFilter, false, func() error { _, err := c.PutFilter(ctx, u, json.RawMessage(`{}`)); return err }},
		{pathGetFilter, true, func() error { _, err := c.GetFilter(ctx, u, "0"); return err }},
		{pathCreateRegistrationToken, false, func() error {
			_, err := c.CreateRegistrationToken(ctx, &api.NewRegistrationTokenRequest{})
			return err
		}},
		{pathListRegistrationTokens, true, func() error { _, err := c.ListRegistrationTokens(ctx, nil); return err }},
		{pathGetRegistrationToken, true, func() error { _, err := c.GetRegistrationToken(ctx, "t"); return err }},
		{pathUpdateRegistrationToken, false, func() error {
			_, err := c.UpdateRegistrationToken(ctx, &api.UpdateRegistrationTokenRequest{Token: "t"})
			return err
		}},
		{pathDeleteRegistrationToken, false, func() error { return c.DeleteRegistrationToken(ctx, "t") }},
		{pathRegistrationTokenValid, true, func() error { _, err := c.RegistrationTokenValid(ctx, "t"); return err }},
		// Idempotent per session, so retried.
		{pathReserveRegistrationToken, true, func() error { return c.ReserveRegistrationToken(ctx, "t", "s") }},
	}
	if len(tests) != reflect.TypeFor[api.UserAPI]().NumMethod() {
		t.Fatalf("%d methods tested, the interface has %d", len(tests), reflect.TypeFor[api.UserAPI]().NumMethod())
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if err := tc.call(); !inthttp.IsTransportError(err) {
				t.Fatalf("err = %v, want a transport error", err)
			}
			want := 1
			if tc.query {
				want = 3
			}
			mu.Lock()
			got := calls[inthttp.PathPrefix+tc.path]
			mu.Unlock()
			if got != want {
				t.Fatalf("%d attempts, want %d", got, want)
			}
		})
	}
}
