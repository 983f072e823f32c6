package syncapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/roomserver"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	rsinthttptest "github.com/axon-matrix/axon/roomserver/inthttp/inthttptest"
	"github.com/axon-matrix/axon/syncapi"
	"github.com/axon-matrix/axon/userapi"
	uapi "github.com/axon-matrix/axon/userapi/api"
	uinthttptest "github.com/axon-matrix/axon/userapi/inthttp/inthttptest"
)

// realStack is the syncapi with the real roomserver and userapi, whose topic 2 and topic 1
// records travel through their transactional outboxes and the embedded event log on one
// database; the syncapi reaches them directly (the monolith) or through their inthttp
// clients (the polylith: arrow 2 and the token checks).
type realStack struct {
	t       *testing.T
	ctx     context.Context
	userAPI uapi.UserAPI
	rsAPI   rsapi.RoomserverAPI
	sync    *syncapi.SyncAPI
	router  *mux.Router
}

// newRealStack builds the stack on dsn; roomEventDelay (0: none) is the syncapi's topic 2
// test delay per record (SyncAPI.RoomEventDelay). Everything stops at the test's end.
func newRealStack(t *testing.T, impl, dsn string, roomEventDelay time.Duration) *realStack {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log, err := embedded.New(ctx, db, embedded.Config{PollInterval: 20 * time.Millisecond, RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	topics := syncapi.Topics{RoomEvent: "axon." + eventlog.TopicRoomEvent, AccountData: "axon." + eventlog.TopicAccountData}
	membership := "axon." + eventlog.TopicMembership
	if err := log.EnsureTopics(ctx, 3, topics.RoomEvent, topics.AccountData, membership); err != nil {
		t.Fatal(err)
	}
	uOut, err := outbox.NewOutbox(db, "userapi", log.Producer(), outbox.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	rOut, err := outbox.NewOutbox(db, "roomserver", log.Producer(), outbox.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = uOut.Run(ctx) }()
	go func() { _ = rOut.Run(ctx) }()
	userAPI, err := userapi.NewInternalAPI(db, "test", uOut, topics.AccountData, userapi.WithBcryptCost(4))
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	rsAPI, err := roomserver.NewInternalAPI(ctx, db, "test", "ed25519:test", key, rOut,
		roomserver.Topics{RoomEvent: topics.RoomEvent, Membership: membership})
	if err != nil {
		t.Fatal(err)
	}
	if impl == implInthttp {
		userAPI, rsAPI = uinthttptest.Serve(t, userAPI), rsinthttptest.Serve(t, rsAPI)
	}
	sapi, err := syncapi.New(ctx, db, rsAPI, userAPI)
	if err != nil {
		t.Fatal(err)
	}
	router := mux.NewRouter()
	sapi.AddPublicRoutes(router)
	sapi.RoomEventDelay = roomEventDelay
	sapi.StartConsumers(log.Consumer(), topics, "syncapi-test")
	t.Cleanup(func() {
		cancel() // ends a delayed handler's wait at once
		if err := sapi.Stop(); err != nil && ctx.Err() == nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &realStack{t: t, ctx: ctx, userAPI: userAPI, rsAPI: rsAPI, sync: sapi, router: router}
}

// login creates the account @lp:test with one device and returns its access token.
func (s *realStack) login(lp string) string {
	s.t.Helper()
	if _, err := s.userAPI.CreateAccount(s.ctx, &uapi.CreateAccountRequest{Localpart: lp, AccountType: uapi.AccountTypeUser}); err != nil {
		s.t.Fatal(err)
	}
	dev, err := s.userAPI.CreateDevice(s.ctx, &uapi.CreateDeviceRequest{UserID: "@" + lp + ":test"})
	if err != nil {
		s.t.Fatal(err)
	}
	return dev.AccessToken
}

// do performs an authenticated GET on the syncapi's routes; safe from several goroutines.
func (s *realStack) do(tok, path string) (int, map[string]any) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	s.router.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

// get is do that fails the test unless the answer is 200.
func (s *realStack) get(tok, path string) map[string]any {
	s.t.Helper()
	code, body := s.do(tok, path)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s: %d %v", path, code, body)
	}
	return body
}
