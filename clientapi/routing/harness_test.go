package routing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/clientapi/consumers"
	"github.com/axon-matrix/axon/clientapi/storage"
	"github.com/axon-matrix/axon/eduserver"
	eduapi "github.com/axon-matrix/axon/eduserver/api"
	eduinthttptest "github.com/axon-matrix/axon/eduserver/inthttp/inthttptest"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver"
	ksinthttptest "github.com/axon-matrix/axon/keyserver/inthttp/inthttptest"
	"github.com/axon-matrix/axon/roomserver"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	rsinthttptest "github.com/axon-matrix/axon/roomserver/inthttp/inthttptest"
	"github.com/axon-matrix/axon/userapi"
	uapi "github.com/axon-matrix/axon/userapi/api"
	uinthttptest "github.com/axon-matrix/axon/userapi/inthttp/inthttptest"
)

const testServer = "test.local"

// harness runs the clientapi behind the real process base (internal/setup routers, its
// M_UNRECOGNIZED fallback), with the real userapi and roomserver on one SQLite database,
// the embedded event log, their outboxes and the clientapi's topic 4 consumer. The
// clientapi gets the userapi, the roomserver and the keyserver either as the direct
// implementations (the monolith) or as their inthttp clients in front of them (the
// polylith: arrows 4 and 14 and the Tier 1 → userapi arrow over internal HTTP, guarded by
// the internal API secret).
type harness struct {
	t       *testing.T
	handler http.Handler
	db      *storage.Database
	// userAPI and rsAPI are what the clientapi was handed: direct or inthttp clients.
	userAPI uapi.UserAPI
	rsAPI   rsapi.RoomserverAPI
	// edu is the eduserver behind arrow 6 (direct; the clientapi may reach it over
	// inthttp), log the event log its topic 3 records go to (edu_test.go).
	edu *eduserver.EDUServer
	log eventlog.Log
}

// The two ways of handing the clientapi its userapi and roomserver.
const (
	implDirect  = "direct"
	implInthttp = "inthttp"
)

var impls = []string{implDirect, implInthttp}

// harnessFunc makes a harness on a fresh SQLite database, for one implementation.
type harnessFunc func(t *testing.T, mutate ...func(*Config)) *harness

// forEachImpl runs fn once with the clientapi on the direct implementations and once on
// their inthttp clients: every clientapi routing test is a component test of both.
func forEachImpl(t *testing.T, fn func(t *testing.T, newHarness harnessFunc)) {
	t.Helper()
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			fn(t, func(t *testing.T, mutate ...func(*Config)) *harness {
				t.Helper()
				return newHarnessDSN(t, impl, testenv.SQLitePath(t, "clientapi"), mutate...)
			})
		})
	}
}

// newHarnessDSN makes a harness on dsn with impl (implDirect or implInthttp).
func newHarnessDSN(t *testing.T, impl, dsn string, mutate ...func(*Config)) *harness {
	t.Helper()
	return newHarnessWith(t, impl, dsn, nil, mutate...)
}

// newHarnessWith is newHarnessDSN with more options for Setup (e.g. WithAppServices).
func newHarnessWith(t *testing.T, impl, dsn string, opts []Option, mutate ...func(*Config)) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sdb.Close() })
	log, err := embedded.New(ctx, sdb, embedded.Config{PollInterval: 20 * time.Millisecond, RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	topics := map[string]string{}
	for _, tp := range []string{eventlog.TopicAccountData, eventlog.TopicRoomEvent, eventlog.TopicMembership, eventlog.TopicEDU} {
		topics[tp] = "axon." + tp
	}
	if err := log.EnsureTopics(ctx, 2, topics[eventlog.TopicAccountData], topics[eventlog.TopicRoomEvent], topics[eventlog.TopicMembership],
		topics[eventlog.TopicEDU]); err != nil {
		t.Fatal(err)
	}
	uOut, err := outbox.NewOutbox(sdb, "userapi", log.Producer(), outbox.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	rOut, err := outbox.NewOutbox(sdb, "roomserver", log.Producer(), outbox.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	eOut, err := outbox.NewOutbox(sdb, "eduserver", log.Producer(), outbox.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = uOut.Run(ctx) }()
	go func() { _ = rOut.Run(ctx) }()
	go func() { _ = eOut.Run(ctx) }()
	edu, err := eduserver.NewInternalAPI(ctx, sdb, testServer, eOut, topics[eventlog.TopicEDU])
	if err != nil {
		t.Fatal(err)
	}
	var eduAPI eduapi.EDUServerAPI = edu
	userAPI, err := userapi.NewInternalAPI(sdb, testServer, uOut, topics[eventlog.TopicAccountData], userapi.WithBcryptCost(4))
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	rsAPI, err := roomserver.NewInternalAPI(ctx, sdb, testServer, "ed25519:test", key, rOut,
		roomserver.Topics{RoomEvent: topics[eventlog.TopicRoomEvent], Membership: topics[eventlog.TopicMembership]})
	if err != nil {
		t.Fatal(err)
	}
	keyAPI, err := keyserver.NewInternalAPI(ctx, sdb, testServer)
	if err != nil {
		t.Fatal(err)
	}
	switch impl {
	case implDirect:
	case implInthttp:
		userAPI, rsAPI = uinthttptest.Serve(t, userAPI), rsinthttptest.Serve(t, rsAPI)
		keyAPI = ksinthttptest.Serve(t, keyAPI)
		eduAPI = eduinthttptest.Serve(t, edu)
	default:
		t.Fatalf("unknown impl %q", impl)
	}
	db, err := storage.Open(ctx, sdb)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = consumers.NewMembershipConsumer(db, testServer).Run(ctx, log.Consumer(), topics[eventlog.TopicMembership])
	}()

	cfg := Config{ServerName: testServer, PublicBaseURL: "https://matrix.test.local", RegistrationSharedSecret: "s3cret",
		RegistrationMode: config.RegistrationOpen}
	for _, m := range mutate {
		m(&cfg)
	}
	pcfg := config.Defaults(t.TempDir())
	pcfg.Global.Logging.Level = "error"
	base, err := setup.NewBase(pcfg, "clientapi")
	if err != nil {
		t.Fatal(err)
	}
	Setup(Routers{Client: base.PublicClientAPIMux, WellKnown: base.PublicWellKnownAPIMux,
		SynapseAdmin: base.PublicSynapseAdminMux}, cfg, userAPI, rsAPI, keyAPI, db, append([]Option{WithEDUServer(eduAPI)}, opts...)...)
	return &harness{t: t, handler: base.PublicHandler(), db: db, userAPI: userAPI, rsAPI: rsAPI, edu: edu, log: log}
}

// resp is a decoded response.
type resp struct {
	status int
	body   map[string]any
	raw    []byte
}

func (r resp) errcode() string { s, _ := r.body["errcode"].(string); return s }
func (r resp) str(k string) string {
	s, _ := r.body[k].(string)
	return s
}

// do sends a request: body is a string (sent as is), nil (no body) or any JSON value.
func (h *harness) do(method, path, token string, body any) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	out := resp{status: rec.Code, raw: rec.Body.Bytes()}
	_ = json.Unmarshal(out.raw, &out.body)
	return out
}

// must fails the test unless r has the wanted status (and errcode, if given).
func (h *harness) must(r resp, status int, errcode ...string) resp {
	h.t.Helper()
	if r.status != status || (len(errcode) > 0 && r.errcode() != errcode[0]) {
		h.t.Fatalf("got %d %s, want %d %v", r.status, r.raw, status, errcode)
	}
	return r
}

// testUser is a registered, logged-in test user.
type testUser struct {
	id, token, device, password string
}

// register makes a user through the real UIA flow.
func (h *harness) register(localpart string) testUser {
	h.t.Helper()
	body := map[string]any{"username": localpart, "password": "pw-" + localpart}
	r := h.must(h.do("POST", "/_matrix/client/v3/register", "", body), 401)
	body["auth"] = map[string]any{"type": "m.login.dummy", "session": r.str("session")}
	r = h.must(h.do("POST", "/_matrix/client/v3/register", "", body), 200)
	return testUser{id: r.str("user_id"), token: r.str("access_token"), device: r.str("device_id"), password: "pw-" + localpart}
}

// eventually polls cond until it is true or fails after a few seconds.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s", what)
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
