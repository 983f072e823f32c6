package internal

import (
	"context"
	"encoding/json"
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
	"github.com/axon-matrix/axon/keyserver"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	ksinthttptest "github.com/axon-matrix/axon/keyserver/inthttp/inthttptest"
)

// TestKeyCountsFromKeyServer: arrow 24 against the real keyserver, direct and over
// inthttp: the bot's and a ghost's devices with uploaded keys are counted, a claim shows
// in the next transaction, a device without keys and other users' devices do not.
func TestKeyCountsFromKeyServer(t *testing.T) {
	for _, impl := range []string{"direct", "inthttp"} {
		t.Run(impl, func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			var bodies []msc3202Body
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b msc3202Body
				_ = json.NewDecoder(r.Body).Decode(&b)
				mu.Lock()
				bodies = append(bodies, b)
				mu.Unlock()
				_, _ = w.Write([]byte(`{}`))
			}))
			defer srv.Close()
			reg, err := api.ParseRegistration("e2ee.yaml", []byte(`{id: e2ee, url: "`+srv.URL+`", as_token: a1, hs_token: h1,
  sender_localpart: e2eebot, org.matrix.msc3202: true, namespaces: {users: [{exclusive: true, regex: "@_e2ee_.*"}]}}`), testServer)
			if err != nil {
				t.Fatal(err)
			}
			regs, err := api.NewRegistrations([]*api.Registration{reg})
			if err != nil {
				t.Fatal(err)
			}
			open := func(name string) *sqlutil.DB {
				db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, name)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			ks, err := keyserver.NewInternalAPI(ctx, open("keys"), testServer)
			if err != nil {
				t.Fatal(err)
			}
			if impl == "inthttp" {
				ks = ksinthttptest.Serve(t, ks)
			}
			bot := devicetest.New(t, "@e2eebot:hs.test", "BOT")
			ghost := devicetest.New(t, "@_e2ee_ghost:hs.test", "GHOST")
			alice := devicetest.New(t, "@alice:hs.test", "ALICE")
			for _, u := range []*keyapi.UploadKeysRequest{bot.Upload(3, true), ghost.Upload(1, false), alice.Upload(2, false)} {
				if _, err := ks.UploadKeys(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			sdb, err := storage.Open(ctx, open("appservice"))
			if err != nil {
				t.Fatal(err)
			}
			q := NewQueues(sdb, NewBridge(), regs, Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond})
			q.SetKeyCounts(ks)
			c := NewConsumer(sdb, q, regs)
			runCtx, cancel := context.WithCancel(ctx)
			defer func() { cancel(); q.Wait() }()
			if err := q.Start(runCtx); err != nil {
				t.Fatal(err)
			}
			next := func(id string) msc3202Body {
				t.Helper()
				mu.Lock()
				n := len(bodies) + 1
				mu.Unlock()
				if err := c.Handle(ctx, []eventlog.Message{message(t, id, "!r:hs.test", "@_e2ee_ghost:hs.test"), message(t, id+"a", "!r:hs.test", "@alice:hs.test")}); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					mu.Lock()
					if len(bodies) >= n {
						b := bodies[n-1]
						mu.Unlock()
						return b
					}
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
				t.Fatal("no transaction")
				return msc3202Body{}
			}
			b := next("$1")
			want := map[string]map[string]map[string]int{
				"@e2eebot:hs.test":     {"BOT": {"signed_curve25519": 3}},
				"@_e2ee_ghost:hs.test": {"GHOST": {"signed_curve25519": 1}},
			}
			if !reflect.DeepEqual(b.Counts, want) || !reflect.DeepEqual(b.Old, want) {
				t.Fatalf("counts = %v (old name %v), want %v", b.Counts, b.Old, want)
			}
			if fb := b.Fallback["@e2eebot:hs.test"]["BOT"]; !reflect.DeepEqual(fb, []string{"signed_curve25519"}) {
				t.Fatalf("fallback key types = %v", b.Fallback)
			}
			// Someone claims one of the bot's keys: the next transaction says so, and only that.
			if _, err := ks.ClaimKeys(ctx, &keyapi.ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{
				"@e2eebot:hs.test": {"BOT": "signed_curve25519"}}}); err != nil {
				t.Fatal(err)
			}
			b = next("$2")
			if want := map[string]map[string]map[string]int{"@e2eebot:hs.test": {"BOT": {"signed_curve25519": 2}}}; !reflect.DeepEqual(b.Counts, want) {
				t.Fatalf("after a claim: %v, want %v", b.Counts, want)
			}
		})
	}
}
