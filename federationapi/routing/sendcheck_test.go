package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/signing"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// TestTxnKeys: however many PDUs ask at once, each key is looked up once per transaction,
// a failure included, and every asker gets the same answer.
func TestTxnKeys(t *testing.T) {
	var calls sync.Map // "server|key" → *atomic.Int32
	lookup := func(_ context.Context, server string, id signing.KeyID) (event.VerifyKey, error) {
		n, _ := calls.LoadOrStore(server+"|"+string(id), new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		time.Sleep(time.Millisecond) // let the others pile up
		if server == "bad.example" {
			return event.VerifyKey{}, errors.New("no such key")
		}
		return event.VerifyKey{Key: []byte(server + string(id)), ValidUntilTS: 7}, nil
	}
	tk := newTxnKeys(lookup)
	names := []struct {
		server string
		id     signing.KeyID
		ok     bool
	}{{"a.example", "ed25519:1", true}, {"a.example", "ed25519:2", true}, {"b.example", "ed25519:1", true}, {"bad.example", "ed25519:1", false}}
	var wg sync.WaitGroup
	for i := range 40 {
		n := names[i%len(names)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := tk.get(context.Background(), n.server, n.id)
			if (err == nil) != n.ok || (n.ok && string(k.Key) != n.server+string(n.id)) {
				t.Errorf("%s %s: %q, %v", n.server, n.id, k.Key, err)
			}
		}()
	}
	wg.Wait()
	for _, n := range names {
		v, ok := calls.Load(n.server + "|" + string(n.id))
		if !ok || v.(*atomic.Int32).Load() != 1 {
			t.Errorf("%s %s looked up %v times, want 1", n.server, n.id, v)
		}
	}
}

// countingKeys counts FetchKeys calls.
type countingKeys struct {
	skapi.ServerKeyAPI
	calls atomic.Int32
}

func (c *countingKeys) FetchKeys(ctx context.Context, req *skapi.FetchKeysRequest) (*skapi.FetchKeysResponse, error) {
	c.calls.Add(1)
	return c.ServerKeyAPI.FetchKeys(ctx, req)
}

// TestSendChecksEachKeyOnce: a /send of ten PDUs, two of them signed with a key the origin
// does not have, looks each key up once (plus the X-Matrix header's) instead of once per
// PDU; every PDU gets its own verdict: the eight good ones stored, the two bad
// ones refused for their signatures.
func TestSendChecksEachKeyOnce(t *testing.T) {
	e := newRoomEnv(t)
	ctx := context.Background()
	keys := &countingKeys{ServerKeyAPI: e.keys}
	root := mux.NewRouter()
	Setup(root, root, Config{ServerName: us, RoomServer: e.rs}, keys)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	e.srv = srv

	alice, bob := "@alice:"+us, "@bob:remote.example"
	cr, err := e.rs.CreateRoom(ctx, &rsapi.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	room := cr.RoomID
	joinRemote(t, e, room, bob)
	auth := messageAuth(t, e, room, bob)
	prev := lastEvent(t, e.rs, room, bob)
	var pdus []*event.Event
	bad := map[string]bool{}
	for i := range 10 {
		b := event.Builder{Type: "m.room.message", Sender: bob, RoomID: room, Content: map[string]string{"msgtype": "m.text", "body": fmt.Sprint(i)},
			PrevEvents: []string{prev}, AuthEvents: auth, Depth: int64(30 + i)}
		var ev *event.Event
		if i == 3 || i == 7 {
			// Signed by a key remote.example never published.
			if ev, err = b.Build("10", "remote.example", e.stranger.ID, e.stranger.Private); err != nil {
				t.Fatal(err)
			}
			bad[ev.EventID()] = true
		} else {
			ev = e.remoteEvent(t, b)
			prev = ev.EventID()
		}
		pdus = append(pdus, ev)
	}
	raw := make([]json.RawMessage, len(pdus))
	for i, p := range pdus {
		raw[i] = p.JSON()
	}
	var res struct {
		PDUs map[string]struct {
			Error string `json:"error"`
		} `json:"pdus"`
	}
	before := keys.calls.Load()
	txn := map[string]any{"origin": "remote.example", "origin_server_ts": time.Now().UnixMilli(), "pdus": raw}
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/keys-once", txn, &res); s != http.StatusOK || len(res.PDUs) != len(pdus) {
		t.Fatalf("send: %d %+v", s, res)
	}
	// The X-Matrix header's key, remote.example's event key, the unknown key.
	if got := keys.calls.Load() - before; got > 3 {
		t.Errorf("FetchKeys called %d times for 10 PDUs, want at most 3", got)
	}
	for _, p := range pdus {
		r, ok := res.PDUs[p.EventID()]
		switch {
		case !ok:
			t.Errorf("%s: no result", p.EventID())
		case bad[p.EventID()] && r.Error == "":
			t.Errorf("%s: a bad signature accepted", p.EventID())
		case !bad[p.EventID()] && r.Error != "":
			t.Errorf("%s refused: %s", p.EventID(), r.Error)
		case !bad[p.EventID()]:
			if _, err := e.rs.QueryEvent(ctx, p.EventID()); err != nil {
				t.Errorf("%s not stored: %v", p.EventID(), err)
			}
		}
	}
}
