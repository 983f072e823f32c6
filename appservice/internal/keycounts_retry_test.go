package internal

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
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

// sentTxn is one PUT of a transaction as the service saw it.
type sentTxn struct {
	id   string
	body []byte
}

// keyCountsHarness runs the queues of one MSC3202 service against an httptest server
// answering status(attempt) (attempts numbered from 1), with keys as the keyserver.
func keyCountsHarness(t *testing.T, keys KeyCounts, status func(attempt int) int) (*Queues, *Consumer, func() []sentTxn) {
	t.Helper()
	var mu sync.Mutex
	var sent []sentTxn
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		sent = append(sent, sentTxn{id: r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], body: b})
		n := len(sent)
		mu.Unlock()
		w.WriteHeader(status(n))
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	reg, err := api.ParseRegistration("e2ee.yaml", []byte(`{id: e2ee, url: "`+srv.URL+`", as_token: a1, hs_token: h1,
  sender_localpart: e2eebot, org.matrix.msc3202: true, namespaces: {users: [{exclusive: true, regex: "@_e2ee_.*"}]}}`), testServer)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := api.NewRegistrations([]*api.Registration{reg})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "appservice")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sdb, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	q := NewQueues(sdb, NewBridge(), regs, Backoff{Base: 20 * time.Millisecond, Max: 50 * time.Millisecond})
	q.SetKeyCounts(keys)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); q.Wait() })
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return q, NewConsumer(sdb, q, regs), func() []sentTxn {
		mu.Lock()
		defer mu.Unlock()
		return append([]sentTxn(nil), sent...)
	}
}

func waitSent(t *testing.T, sent func() []sentTxn, n int, within time.Duration) []sentTxn {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if s := sent(); len(s) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d transaction attempts after %v, want %d", len(sent()), within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countsChangingKeys is a keyserver whose bot device's count goes down by one at every
// QueryKeyCounts (a key claimed between the attempts of a transaction).
type countsChangingKeys struct {
	mu  sync.Mutex
	otk int
}

func (k *countsChangingKeys) QueryKeys(_ context.Context, req *keyapi.QueryKeysRequest) (*keyapi.QueryKeysResponse, error) {
	return &keyapi.QueryKeysResponse{DeviceKeys: map[string]map[string]json.RawMessage{
		"@e2eebot:hs.test": {"BOT": json.RawMessage(`{}`)}}}, nil
}

func (k *countsChangingKeys) QueryKeyCounts(_ context.Context, _ *keyapi.QueryKeyCountsRequest) (*keyapi.QueryKeyCountsResponse, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.otk--
	return &keyapi.QueryKeyCountsResponse{OneTimeKeyCounts: map[string]int{"signed_curve25519": k.otk}}, nil
}

// TestKeyCountsRetrySameTransaction: a transaction retried after a failure is the same
// transaction (same ID, same body, key counts included), since the service may have
// processed the first attempt and then only dedupes by ID; the counts it carried are what
// the service is known to have, so the next transaction carries the newer ones.
func TestKeyCountsRetrySameTransaction(t *testing.T) {
	keys := &countsChangingKeys{otk: 10}
	_, c, sent := keyCountsHarness(t, keys, func(attempt int) int {
		if attempt == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	if err := c.Handle(context.Background(), []eventlog.Message{message(t, "$1", "!r:hs.test", "@_e2ee_ghost:hs.test")}); err != nil {
		t.Fatal(err)
	}
	s := waitSent(t, sent, 2, 10*time.Second)
	if s[0].id != s[1].id || string(s[0].body) != string(s[1].body) {
		t.Fatalf("retry differs from the first attempt:\n%s %s\n%s %s", s[0].id, s[0].body, s[1].id, s[1].body)
	}
	if err := c.Handle(context.Background(), []eventlog.Message{message(t, "$2", "!r:hs.test", "@_e2ee_ghost:hs.test")}); err != nil {
		t.Fatal(err)
	}
	s = waitSent(t, sent, 3, 10*time.Second)
	var b msc3202Body
	if err := json.Unmarshal(s[2].body, &b); err != nil {
		t.Fatal(err)
	}
	if want := map[string]map[string]map[string]int{"@e2eebot:hs.test": {"BOT": {"signed_curve25519": 8}}}; !reflect.DeepEqual(b.Counts, want) {
		t.Fatalf("next transaction's counts = %v, want %v", b.Counts, want)
	}
}

// hangingKeys is a keyserver that lists devices but never answers QueryKeyCounts.
type hangingKeys struct{}

func (hangingKeys) QueryKeys(_ context.Context, req *keyapi.QueryKeysRequest) (*keyapi.QueryKeysResponse, error) {
	return &keyapi.QueryKeysResponse{DeviceKeys: map[string]map[string]json.RawMessage{
		"@e2eebot:hs.test": {"B1": json.RawMessage(`{}`), "B2": json.RawMessage(`{}`), "B3": json.RawMessage(`{}`)}}}, nil
}

func (hangingKeys) QueryKeyCounts(ctx context.Context, _ *keyapi.QueryKeyCountsRequest) (*keyapi.QueryKeyCountsResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestKeyCountsHangingKeyServer: a keyserver that does not answer holds a transaction
// up for keyCountsTimeout at most, not for a call timeout per device.
func TestKeyCountsHangingKeyServer(t *testing.T) {
	q, c, sent := keyCountsHarness(t, hangingKeys{}, func(int) int { return http.StatusOK })
	q.keyCountsTimeout = 200 * time.Millisecond
	if err := c.Handle(context.Background(), []eventlog.Message{message(t, "$1", "!r:hs.test", "@_e2ee_ghost:hs.test")}); err != nil {
		t.Fatal(err)
	}
	s := waitSent(t, sent, 1, 5*time.Second)
	var b msc3202Body
	if err := json.Unmarshal(s[0].body, &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 1 || b.Counts != nil {
		t.Fatalf("transaction = %s", s[0].body)
	}
}
