package syncapi_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	keyinthttptest "github.com/axon-matrix/axon/keyserver/inthttp/inthttptest"
	"github.com/axon-matrix/axon/syncapi"
)

// TestKeyChangesReadYourWrites: read your own writes for topic 7 — alice's key upload is
// committed but its record reaches the syncapi only later (the keyserver's outbox relay
// starts 300 ms after the upload); her next /sync (timeout 0) waits for it (arrow 16,
// the keyserver's QueryWritePosition) and shows her in device_lists.changed. The control
// run, with the catch-up limit at zero, must answer without her.
func TestKeyChangesReadYourWrites(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		for _, impl := range impls {
			t.Run(name+"/"+impl, func(t *testing.T) {
				dsn := dsn(t)
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
				topics := syncapi.Topics{RoomEvent: "axon." + eventlog.TopicRoomEvent, AccountData: "axon." + eventlog.TopicAccountData,
					KeyChange: "axon." + eventlog.TopicKeyChange}
				if err := log.EnsureTopics(ctx, 3, topics.RoomEvent, topics.AccountData, topics.KeyChange); err != nil {
					t.Fatal(err)
				}
				ob, err := outbox.NewOutbox(db, "keyserver", log.Producer(), outbox.WithPollInterval(20*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				ks, err := keyserver.NewInternalAPI(ctx, db, "test", keyserver.WithKeyChanges(ob, topics.KeyChange))
				if err != nil {
					t.Fatal(err)
				}
				if impl == implInthttp {
					ks = keyinthttptest.Serve(t, ks)
				}
				h := newHarness(t, dsn)
				h.api.Syncer.KeyAPI = ks
				h.api.StartConsumers(log.Consumer(), topics, "syncapi-test")
				t.Cleanup(func() { _ = h.api.Stop() })
				alice := user("alice")
				h.createRoom("!ryw:test", alice)
				s0 := h.sync("alice_tok", "")

				if _, err := ks.UploadKeys(ctx, devicetest.New(t, alice, "ALICEDEV").Upload(1, false)); err != nil {
					t.Fatal(err)
				}
				// Control: without waiting, the record has not arrived (the relay is not running).
				h.api.Syncer.CatchUpLimit = 0
				if d := h.deviceLists("alice_tok", "/_matrix/client/v3/sync?timeout=0&since="+s0.NextBatch); len(d.changed) != 0 {
					t.Fatalf("control run saw the change before the relay ran: %+v", d)
				}
				h.api.Syncer.CatchUpLimit = 10 * time.Second
				go func() {
					time.Sleep(300 * time.Millisecond)
					_ = ob.Run(ctx)
				}()
				start := time.Now()
				d := h.deviceLists("alice_tok", "/_matrix/client/v3/sync?timeout=0&since="+s0.NextBatch)
				if !reflect.DeepEqual(d.changed, []string{alice}) {
					t.Fatalf("sync right after the upload: %+v", d)
				}
				if waited := time.Since(start); waited < 200*time.Millisecond {
					t.Fatalf("the sync did not wait for the relay (%v)", waited)
				}
			})
		}
	}
}
