package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

const (
	testServer = "hs.test"
	testTopic  = "axon.room_event"
	hsToken    = "hs_secret_token"
)

// fakeBridge is an application service: it records the events of the transactions it
// accepts (answered 200), refuses everything while down, and fails the test on a wrong
// hs_token or method.
type fakeBridge struct {
	t        *testing.T
	srv      *httptest.Server
	down     atomic.Bool
	failures atomic.Int64

	mu     sync.Mutex
	events []string // event IDs in the order accepted
	txns   map[string]bool
	sizes  []int
}

func newFakeBridge(t *testing.T) *fakeBridge {
	b := &fakeBridge{t: t, txns: map[string]bool{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+hsToken || r.URL.Query().Get("access_token") != "" {
			t.Errorf("request with Authorization %q, query %q", r.Header.Get("Authorization"), r.URL.RawQuery)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		txnID, ok := strings.CutPrefix(r.URL.Path, "/bridge/_matrix/app/v1/transactions/")
		if r.Method != http.MethodPut || !ok {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			return
		}
		if b.down.Load() {
			b.failures.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var txn struct {
			Events []struct {
				EventID string `json:"event_id"`
				RoomID  string `json:"room_id"`
				Sender  string `json:"sender"`
			} `json:"events"`
		}
		if err := json.NewDecoder(r.Body).Decode(&txn); err != nil {
			t.Errorf("transaction body: %v", err)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.txns[txnID] { // a repeated transaction ID is a retry: the spec says ignore it
			b.txns[txnID] = true
			b.sizes = append(b.sizes, len(txn.Events))
			for _, e := range txn.Events {
				if e.RoomID == "" || e.Sender == "" {
					t.Errorf("event %s is not in client format", e.EventID)
				}
				b.events = append(b.events, e.EventID)
			}
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *fakeBridge) received() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.events...)
}

// waitFor waits until the bridge accepted n events.
func (b *fakeBridge) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if got := b.received(); len(got) >= n {
			time.Sleep(100 * time.Millisecond) // a duplicate would show now
			return b.received()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("bridge got %d events, want %d", len(b.received()), n)
	return nil
}

// record is a topic 2 record of a new event (federation format, room version 10).
func record(t *testing.T, id, room, sender, typ string, stateKey *string, content string) eventlog.Message {
	t.Helper()
	ev := map[string]any{"type": typ, "room_id": room, "sender": sender, "content": json.RawMessage(content),
		"origin_server_ts": 1700000000000, "depth": 1, "prev_events": []string{}, "auth_events": []string{}}
	if stateKey != nil {
		ev["state_key"] = *stateKey
	}
	js, _ := json.Marshal(ev)
	out, _ := json.Marshal(rsapi.OutputEvent{Type: rsapi.OutputNewRoomEvent, NewRoomEvent: &rsapi.OutputNewRoomEventData{
		RoomVersion: "10", Event: js, EventID: id}})
	return eventlog.Message{Topic: testTopic, Key: room, Value: out}
}

func member(t *testing.T, id, room, user, membership string) eventlog.Message {
	return record(t, id, room, user, "m.room.member", &user, `{"membership":"`+membership+`"}`)
}

func message(t *testing.T, id, room, sender string) eventlog.Message {
	return record(t, id, room, sender, "m.room.message", nil, `{"msgtype":"m.text","body":"hi"}`)
}

// component is a running topic 2 consumer and its senders; stop ends them.
type component struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, db *sqlutil.DB, log eventlog.Log, regs *api.Registrations) *component {
	t.Helper()
	sdb, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	q := NewQueues(sdb, NewBridge(), regs, Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond})
	c := NewConsumer(sdb, q, regs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		if err := q.Start(ctx); err != nil {
			done <- err
			return
		}
		err := c.Run(ctx, log.Consumer(), testTopic)
		q.Wait()
		done <- err
	}()
	return &component{cancel: cancel, done: done}
}

func (c *component) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		t.Fatal("component did not stop")
	}
}

func testRegs(t *testing.T, url string) *api.Registrations {
	t.Helper()
	r, err := api.ParseRegistration("echo.yaml", []byte(`id: echo
url: "`+url+`"
as_token: as_secret_token
hs_token: `+hsToken+`
sender_localpart: echobot
namespaces:
  users: [{exclusive: true, regex: "@_echo_.*:hs\\.test"}]
  rooms: [{exclusive: false, regex: "!bridged_.*"}]
`), testServer)
	if err != nil {
		t.Fatal(err)
	}
	other, err := api.ParseRegistration("quiet.yaml", []byte(`id: quiet
url: null
as_token: as_quiet
hs_token: hs_quiet
sender_localpart: quietbot
namespaces: {users: [{exclusive: true, regex: "@_quiet_.*"}]}
`), testServer)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := api.NewRegistrations([]*api.Registration{r, other})
	if err != nil {
		t.Fatal(err)
	}
	return regs
}

// TestTransactions: events in the service's namespaces (its user's membership, every
// event of a room where its user is joined, rooms in its room namespace) are pushed in
// order with the hs_token; others are not. While the service is down, events wait in the
// queue, through a restart of the component, and the service gets each exactly once, in
// order, in transactions of at most 100 events, when it is back.
func TestTransactions(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			log, err := embedded.New(ctx, db, embedded.Config{RetentionInterval: -1, LeaseTTL: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer log.Close()
			if err := log.EnsureTopics(ctx, 4, testTopic); err != nil {
				t.Fatal(err)
			}
			bridge := newFakeBridge(t)
			regs := testRegs(t, bridge.srv.URL+"/bridge/")
			publish := func(msgs ...eventlog.Message) {
				t.Helper()
				if err := log.Producer().Publish(ctx, msgs...); err != nil {
					t.Fatal(err)
				}
			}
			alice := "@alice:" + testServer
			ghost := "@_echo_bob:" + testServer
			c := start(t, db, log, regs)
			publish(
				member(t, "$join", "!portal:hs.test", ghost, "join"),           // ghost's membership
				message(t, "$hello", "!portal:hs.test", alice),                 // a joined ghost's room
				message(t, "$elsewhere", "!other:hs.test", alice),              // nothing of the service
				message(t, "$bridged", "!bridged_x:hs.test", alice),            // room namespace
				member(t, "$quiet", "!q:hs.test", "@_quiet_x:hs.test", "join"), // url null: nothing sent
			)
			got := bridge.waitFor(t, 3)
			if strings.Join(got, " ") != "$join $hello $bridged" && strings.Join(got, " ") != "$bridged $join $hello" &&
				strings.Join(got, " ") != "$join $bridged $hello" {
				t.Fatalf("bridge got %v", got)
			}

			// The service goes down; 150 messages wait, across a restart of the component.
			bridge.down.Store(true)
			var want []string
			var msgs []eventlog.Message
			for i := range 150 {
				id := fmt.Sprintf("$m%03d", i)
				want = append(want, id)
				msgs = append(msgs, message(t, id, "!portal:hs.test", alice))
			}
			publish(msgs[:70]...)
			for bridge.failures.Load() < 2 {
				time.Sleep(10 * time.Millisecond)
			}
			c.stop(t)
			publish(msgs[70:]...)
			c = start(t, db, log, regs)
			defer c.stop(t)
			for bridge.failures.Load() < 4 {
				time.Sleep(10 * time.Millisecond)
			}
			bridge.down.Store(false)
			got = bridge.waitFor(t, 153)
			if len(got) != 153 || strings.Join(got[3:], " ") != strings.Join(want, " ") {
				t.Fatalf("after the outage the bridge got %d events: %v", len(got), got[3:])
			}
			bridge.mu.Lock()
			for _, n := range bridge.sizes {
				if n > MaxTransactionEvents {
					t.Errorf("a transaction of %d events", n)
				}
			}
			bridge.mu.Unlock()

			// The ghost leaves: the room's events are the service's no more (its leave is).
			publish(member(t, "$leave", "!portal:hs.test", ghost, "leave"), message(t, "$after", "!portal:hs.test", alice),
				message(t, "$bridged2", "!bridged_x:hs.test", alice))
			got = bridge.waitFor(t, 155)
			if strings.Join(got[153:], " ") != "$leave $bridged2" && strings.Join(got[153:], " ") != "$bridged2 $leave" {
				t.Fatalf("after the leave: %v", got[153:])
			}
		})
	}
}
