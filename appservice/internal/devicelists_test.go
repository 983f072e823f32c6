package internal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
)

type fakeRooms map[string][]string

func (f fakeRooms) QueryRoomsForUser(_ context.Context, userID string, _ []string) ([]string, error) {
	if userID == "@broken:hs.test" {
		return nil, errors.New("roomserver down")
	}
	return f[userID], nil
}

// TestDeviceListTransactions: topic 7 changes reach the services with org.matrix.msc3202
// as org.matrix.msc3202.device_lists.changed — users of their own, and users joined to a
// room one of their users is in — once per user per transaction; not users elsewhere,
// not a change whose audience is someone else's, not services without the switch; a
// roomserver failure hands the run back.
func TestDeviceListTransactions(t *testing.T) {
	var mu sync.Mutex
	changed := map[string][]string{} // service → changed users, as received
	var plainBodies int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			DeviceLists *struct {
				Changed []string `json:"changed"`
				Left    []string `json:"left"`
			} `json:"org.matrix.msc3202.device_lists"`
		}
		_ = json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path[:6] {
		case "/e2ee/":
			if b.DeviceLists != nil {
				changed["e2ee"] = append(changed["e2ee"], b.DeviceLists.Changed...)
			}
		default:
			if b.DeviceLists != nil {
				plainBodies++
			}
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	parse := func(file, y string) *api.Registration {
		r, err := api.ParseRegistration(file, []byte(y), testServer)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	regs, err := api.NewRegistrations([]*api.Registration{
		parse("e2ee.yaml", `{id: e2ee, url: "`+srv.URL+`/e2ee", as_token: a1, hs_token: h1, sender_localpart: e2eebot,
  org.matrix.msc3202: true, namespaces: {users: [{exclusive: true, regex: "@_e2ee_.*"}]}}`),
		parse("plain.yaml", `{id: plain, url: "`+srv.URL+`/plain", as_token: a2, hs_token: h2, sender_localpart: plainbot,
  namespaces: {users: [{exclusive: true, regex: "@_plain_.*"}]}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "appservice")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	q := NewQueues(sdb, NewBridge(), regs, Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond})
	c := NewConsumer(sdb, q, regs)
	keys := NewKeyChangeConsumer(sdb, q, regs, c, nil)
	keys.SetRooms(fakeRooms{"@alice:hs.test": {"!shared:hs.test"}, "@bob:hs.test": {"!lonely:hs.test"}})
	if err := c.Handle(ctx, []eventlog.Message{member(t, "$j", "!shared:hs.test", "@_e2ee_ghost:hs.test", "join"),
		member(t, "$k", "!shared:hs.test", "@_plain_ghost:hs.test", "join")}); err != nil {
		t.Fatal(err)
	}
	rec := func(pos int64, user string, audience ...string) eventlog.Message {
		js, _ := json.Marshal(keyapi.OutputKeyChange{StreamPos: pos, UserID: user, DeviceID: "D", Audience: audience})
		return eventlog.Message{Value: js}
	}
	run := []eventlog.Message{rec(1, "@alice:hs.test"), rec(2, "@bob:hs.test"), rec(3, "@_e2ee_ghost:hs.test"),
		rec(4, "@alice:hs.test"), rec(5, "@alice:hs.test", "@carol:hs.test"), {Value: []byte(`{}`)}}
	for range 2 { // delivered again: queued once
		if err := keys.Handle(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	if err := keys.Handle(ctx, []eventlog.Message{rec(6, "@broken:hs.test")}); err == nil {
		t.Fatal("a roomserver failure was swallowed")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); q.Wait() }()
	if err := q.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _ := sdb.Count(ctx, "e2ee")
		m, _ := sdb.Count(ctx, "plain")
		if n == 0 && m == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues not drained: %d %d", n, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"@alice:hs.test", "@_e2ee_ghost:hs.test"}; !reflect.DeepEqual(changed["e2ee"], want) {
		t.Fatalf("e2ee got changed %v, want %v", changed["e2ee"], want)
	}
	if plainBodies != 0 {
		t.Fatalf("a service without org.matrix.msc3202 got device lists")
	}
}
