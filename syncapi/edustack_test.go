package syncapi_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/axon-matrix/axon/eduserver"
	eduapi "github.com/axon-matrix/axon/eduserver/api"
	eduinthttptest "github.com/axon-matrix/axon/eduserver/inthttp/inthttptest"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/syncapi"
)

// TestEDUStack runs the real eduserver (direct and over inthttp: arrow 6's callee) whose
// topic 3 records travel through its outbox and the embedded log to the syncapi's
// consumer: typing wakes a member's long-poll, a to-device transaction sent twice is
// delivered once, and a message sent while the syncapi is stopped is delivered once after
// its restart (same consumer group, same tables).
func TestEDUStack(t *testing.T) {
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
					EDU: "axon." + eventlog.TopicEDU}
				if err := log.EnsureTopics(ctx, 3, topics.RoomEvent, topics.AccountData, topics.EDU); err != nil {
					t.Fatal(err)
				}
				ob, err := outbox.NewOutbox(db, "eduserver", log.Producer(), outbox.WithPollInterval(20*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				go func() { _ = ob.Run(ctx) }()
				direct, err := eduserver.NewInternalAPI(ctx, db, "test", ob, topics.EDU)
				if err != nil {
					t.Fatal(err)
				}
				var edu eduapi.EDUServerAPI = direct
				if impl == implInthttp {
					edu = eduinthttptest.Serve(t, direct)
				}

				h := newHarness(t, dsn)
				h.api.StartConsumers(log.Consumer(), topics, "syncapi-test")
				stopped := false
				t.Cleanup(func() {
					if !stopped {
						_ = h.api.Stop()
					}
				})
				room := "!stack:test"
				alice, bob := user("alice"), user("bob")
				h.createRoom(room, alice)
				h.member(room, bob, bob, "join")
				s0 := h.eduSync("alice_tok", "")

				done := make(chan eduSync, 1)
				go func() { done <- h.eduSync("alice_tok", "timeout=10000&since="+s0.NextBatch) }()
				time.Sleep(100 * time.Millisecond)
				if err := edu.SetTyping(ctx, &eduapi.SetTypingRequest{RoomID: room, UserID: bob, Typing: true, TimeoutMS: 30000}); err != nil {
					t.Fatal(err)
				}
				var s1 eduSync
				select {
				case s1 = <-done:
				case <-time.After(8 * time.Second):
					t.Fatal("typing did not reach the long-poll")
				}
				if got := typers(s1.ephemeralOf(room)["m.typing"]); !reflect.DeepEqual(got, []string{bob}) {
					t.Fatalf("typers %v", got)
				}

				send := func(txn, body string) {
					t.Helper()
					if err := edu.SendToDevice(ctx, &eduapi.SendToDeviceRequest{Sender: bob, SenderDevice: "BOBDEV", TxnID: txn, Type: "m.test",
						Messages: map[string]map[string]json.RawMessage{alice: {"ALICEDEV": json.RawMessage(`{"body":"` + body + `"}`)}}}); err != nil {
						t.Fatal(err)
					}
				}
				// waitToDevice long-polls until a response carries to-device messages.
				waitToDevice := func(h *harness, since string) eduSync {
					t.Helper()
					deadline := time.Now().Add(10 * time.Second)
					for time.Now().Before(deadline) {
						s := h.eduSync("alice_tok", "timeout=2000&since="+since)
						if len(s.ToDevice.Events) > 0 {
							return s
						}
						since = s.NextBatch
					}
					t.Fatal("no to-device message arrived")
					return eduSync{}
				}
				send("t1", "one")
				send("t1", "one") // the same transaction: a no-op
				s2 := waitToDevice(h, s1.NextBatch)
				if got := s2.toDeviceBodies(); !reflect.DeepEqual(got, []string{"one"}) {
					t.Fatalf("to-device %v", got)
				}

				// Stop the syncapi, send while it is down, start it again on the same tables.
				if err := h.api.Stop(); err != nil {
					t.Fatal(err)
				}
				stopped = true
				send("t2", "two")
				h2 := newHarness(t, dsn)
				h2.api.StartConsumers(log.Consumer(), topics, "syncapi-test")
				t.Cleanup(func() { _ = h2.api.Stop() })
				s3 := waitToDevice(h2, s2.NextBatch)
				if got := s3.toDeviceBodies(); !reflect.DeepEqual(got, []string{"two"}) {
					t.Fatalf("after restart: %v", got)
				}
				if s := h2.eduSync("alice_tok", "since="+s3.NextBatch); len(s.ToDevice.Events) != 0 {
					t.Fatalf("acknowledged message sent again: %+v", s.ToDevice)
				}
			})
		}
	}
}
