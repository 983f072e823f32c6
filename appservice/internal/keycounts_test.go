package internal

import (
	"context"
	"encoding/json"
	"errors"
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

func TestCountUsers(t *testing.T) {
	reg, err := api.ParseRegistration("e.yaml", []byte(`{id: e, url: "http://x", as_token: a, hs_token: h,
  sender_localpart: ebot, org.matrix.msc3202: true, namespaces: {users: [{exclusive: true, regex: "@_e_.*"}]}}`), testServer)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(typ, sender, stateKey string) storage.Row {
		m := map[string]any{"type": typ, "sender": sender, "event_id": "$x"}
		if stateKey != "" {
			m["state_key"] = stateKey
		}
		js, _ := json.Marshal(m)
		return storage.Row{Kind: storage.KindEvent, JSON: js}
	}
	toDevice := func(to string) storage.Row {
		js, _ := json.Marshal(map[string]any{"type": "m.room.encrypted", "sender": "@alice:hs.test", "to_user_id": to, "to_device_id": "D"})
		return storage.Row{Kind: storage.KindToDevice, JSON: js}
	}
	for _, tt := range []struct {
		name string
		rows []storage.Row
		want []string
	}{
		{"sender only", nil, []string{"@ebot:hs.test"}},
		{"own sender of an event", []storage.Row{ev("m.room.message", "@_e_a:hs.test", "")}, []string{"@ebot:hs.test", "@_e_a:hs.test"}},
		{"others' events", []storage.Row{ev("m.room.message", "@alice:hs.test", "")}, []string{"@ebot:hs.test"}},
		{"membership target", []storage.Row{ev("m.room.member", "@alice:hs.test", "@_e_b:hs.test")}, []string{"@ebot:hs.test", "@_e_b:hs.test"}},
		{"state key of another type", []storage.Row{ev("m.room.topic", "@alice:hs.test", "@_e_b:hs.test")}, []string{"@ebot:hs.test"}},
		{"to-device recipient", []storage.Row{toDevice("@_e_c:hs.test"), toDevice("@bob:hs.test")}, []string{"@ebot:hs.test", "@_e_c:hs.test"}},
		{"remote namespace user", []storage.Row{ev("m.room.message", "@_e_a:elsewhere.org", "")}, []string{"@ebot:hs.test"}},
		{"each once", []storage.Row{ev("m.room.message", "@_e_a:hs.test", ""), ev("m.room.member", "@_e_a:hs.test", "@_e_a:hs.test"),
			ev("m.room.message", "@ebot:hs.test", "")}, []string{"@ebot:hs.test", "@_e_a:hs.test"}},
		{"ephemeral rows ignored", []storage.Row{{Kind: storage.KindEphemeral, JSON: []byte(`{"type":"m.typing","sender":"@_e_a:hs.test"}`)}}, []string{"@ebot:hs.test"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := countUsers(reg, tt.rows); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("countUsers = %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeKeys is a keyserver: devices with keys per user, counts per device; down fails it.
type fakeKeys struct {
	mu       sync.Mutex
	devices  map[string][]string
	counts   map[string]keyapi.QueryKeyCountsResponse // user|device
	down     bool
	askedFor [][]string
}

func (f *fakeKeys) QueryKeys(_ context.Context, req *keyapi.QueryKeysRequest) (*keyapi.QueryKeysResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("keyserver down")
	}
	var users []string
	res := &keyapi.QueryKeysResponse{DeviceKeys: map[string]map[string]json.RawMessage{}}
	for u := range req.DeviceKeys {
		users = append(users, u)
		for _, d := range f.devices[u] {
			if res.DeviceKeys[u] == nil {
				res.DeviceKeys[u] = map[string]json.RawMessage{}
			}
			res.DeviceKeys[u][d] = json.RawMessage(`{}`)
		}
	}
	f.askedFor = append(f.askedFor, users)
	return res, nil
}

func (f *fakeKeys) QueryKeyCounts(_ context.Context, req *keyapi.QueryKeyCountsRequest) (*keyapi.QueryKeyCountsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.counts[req.UserID+"|"+req.DeviceID]
	return &c, nil
}

func (f *fakeKeys) set(key string, otk int, fallback ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[key] = keyapi.QueryKeyCountsResponse{OneTimeKeyCounts: map[string]int{"signed_curve25519": otk}, UnusedFallbackKeyTypes: fallback}
}

// msc3202Body is the key-count part of a transaction as a service reads it.
type msc3202Body struct {
	Events   []json.RawMessage                    `json:"events"`
	Counts   map[string]map[string]map[string]int `json:"org.matrix.msc3202.device_one_time_keys_count"`
	Old      map[string]map[string]map[string]int `json:"org.matrix.msc3202.device_one_time_key_counts"`
	Fallback map[string]map[string][]string       `json:"org.matrix.msc3202.device_unused_fallback_key_types"`
}

// TestKeyCountsInTransactions: transactions to a service with org.matrix.msc3202 carry the
// one-time key counts (under both names) and unused fallback key types of the devices of
// its sender and of its users the transaction names, only when they changed since the
// service last accepted them; a service without the switch gets none, and a keyserver
// failure delays no event.
func TestKeyCountsInTransactions(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string][]msc3202Body{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b msc3202Body
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Errorf("body: %v", err)
		}
		mu.Lock()
		as := strings.Split(r.URL.Path, "/")[1]
		bodies[as] = append(bodies[as], b)
		mu.Unlock()
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
  namespaces: {users: [{exclusive: true, regex: "@_plain_.*"}], rooms: [{exclusive: false, regex: "!r:hs.test"}]}}`),
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
	keys := &fakeKeys{devices: map[string][]string{
		"@e2eebot:hs.test": {"BOT"}, "@_e2ee_ghost:hs.test": {"G1", "G2"}, "@alice:hs.test": {"A"}, "@plainbot:hs.test": {"P"},
	}, counts: map[string]keyapi.QueryKeyCountsResponse{}}
	keys.set("@e2eebot:hs.test|BOT", 5, "signed_curve25519")
	keys.set("@_e2ee_ghost:hs.test|G1", 0)
	keys.set("@_e2ee_ghost:hs.test|G2", 2)
	keys.set("@alice:hs.test|A", 1)
	keys.set("@plainbot:hs.test|P", 1)

	q := NewQueues(sdb, NewBridge(), regs, Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond})
	q.SetKeyCounts(keys)
	c := NewConsumer(sdb, q, regs)
	runCtx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); q.Wait() }()
	if err := q.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	n := 0
	// step queues msgs and returns the transactions each service got for them.
	step := func(msgs ...eventlog.Message) map[string]msc3202Body {
		t.Helper()
		if err := c.Handle(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		n++
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := len(bodies["e2ee"]) >= n && len(bodies["plain"]) >= n
			mu.Unlock()
			if got {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("transaction %d did not arrive", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(bodies["e2ee"]) != n || len(bodies["plain"]) != n {
			t.Fatalf("transactions: %d and %d, want %d each", len(bodies["e2ee"]), len(bodies["plain"]), n)
		}
		return map[string]msc3202Body{"e2ee": bodies["e2ee"][n-1], "plain": bodies["plain"][n-1]}
	}
	counts := func(kv ...any) map[string]map[string]map[string]int {
		out := map[string]map[string]map[string]int{}
		for i := 0; i < len(kv); i += 3 {
			u, d := kv[i].(string), kv[i+1].(string)
			if out[u] == nil {
				out[u] = map[string]map[string]int{}
			}
			out[u][d] = map[string]int{"signed_curve25519": kv[i+2].(int)}
		}
		return out
	}
	// The ghost joins room !r (the plain service's by namespace) and speaks; alice too.
	got := step(member(t, "$1", "!r:hs.test", "@_e2ee_ghost:hs.test", "join"), message(t, "$2", "!r:hs.test", "@alice:hs.test"))
	want := counts("@e2eebot:hs.test", "BOT", 5, "@_e2ee_ghost:hs.test", "G1", 0, "@_e2ee_ghost:hs.test", "G2", 2)
	if e := got["e2ee"]; len(e.Events) != 2 || !reflect.DeepEqual(e.Counts, want) || !reflect.DeepEqual(e.Old, want) {
		t.Fatalf("first transaction: %d events, counts %v, old name %v", len(e.Events), e.Counts, e.Old)
	}
	wantFallback := map[string]map[string][]string{"@e2eebot:hs.test": {"BOT": {"signed_curve25519"}},
		"@_e2ee_ghost:hs.test": {"G1": {}, "G2": {}}}
	if !reflect.DeepEqual(got["e2ee"].Fallback, wantFallback) {
		t.Fatalf("fallback key types = %v", got["e2ee"].Fallback)
	}
	if p := got["plain"]; len(p.Events) != 2 || p.Counts != nil || p.Old != nil || p.Fallback != nil {
		t.Fatalf("a service without org.matrix.msc3202 got key counts: %+v", p)
	}

	// Nothing changed: no counts.
	got = step(message(t, "$3", "!r:hs.test", "@_e2ee_ghost:hs.test"))
	if e := got["e2ee"]; len(e.Events) != 1 || e.Counts != nil || e.Fallback != nil {
		t.Fatalf("unchanged counts sent again: %+v", e)
	}

	// The bot's key was claimed and its fallback key used: only its device.
	keys.set("@e2eebot:hs.test|BOT", 4)
	got = step(message(t, "$4", "!r:hs.test", "@alice:hs.test"))
	if e := got["e2ee"]; !reflect.DeepEqual(e.Counts, counts("@e2eebot:hs.test", "BOT", 4)) ||
		!reflect.DeepEqual(e.Fallback, map[string]map[string][]string{"@e2eebot:hs.test": {"BOT": {}}}) {
		t.Fatalf("changed counts: %v %v", e.Counts, e.Fallback)
	}

	// The keyserver fails: the events go anyway, without counts; the change waits for the
	// next transaction.
	keys.mu.Lock()
	keys.down = true
	keys.mu.Unlock()
	keys.set("@_e2ee_ghost:hs.test|G1", 50)
	if e := step(message(t, "$5", "!r:hs.test", "@_e2ee_ghost:hs.test"))["e2ee"]; len(e.Events) != 1 || e.Counts != nil {
		t.Fatalf("with the keyserver down: %+v", e)
	}
	keys.mu.Lock()
	keys.down = false
	keys.mu.Unlock()
	if e := step(message(t, "$6", "!r:hs.test", "@_e2ee_ghost:hs.test"))["e2ee"]; !reflect.DeepEqual(e.Counts, counts("@_e2ee_ghost:hs.test", "G1", 50)) {
		t.Fatalf("after the keyserver is back: %v", e.Counts)
	}
	keys.mu.Lock()
	defer keys.mu.Unlock()
	for _, users := range keys.askedFor {
		for _, u := range users {
			if !strings.Contains(u, "e2ee") {
				t.Fatalf("keyserver asked about %s", u)
			}
		}
	}
}
