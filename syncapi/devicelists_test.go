package syncapi_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	keyinthttptest "github.com/axon-matrix/axon/keyserver/inthttp/inthttptest"
	"github.com/axon-matrix/axon/syncapi"
)

// deviceLists is a /sync's (or /keys/changes') device lists and next_batch.
type deviceLists struct {
	next          string
	changed, left []string
}

func (h *harness) deviceLists(token, path string) deviceLists {
	h.t.Helper()
	code, body := h.get(token, path)
	if code != 200 {
		h.t.Fatalf("GET %s: %d %v", path, code, body)
	}
	dl := body
	if d, ok := body["device_lists"].(map[string]any); ok {
		dl = d
	}
	strs := func(v any) []string {
		out := []string{}
		for _, s := range v.([]any) {
			out = append(out, s.(string))
		}
		return out
	}
	next, _ := body["next_batch"].(string)
	return deviceLists{next: next, changed: strs(dl["changed"]), left: strs(dl["left"])}
}

// TestDeviceListsStack runs the real keyserver (direct and over inthttp) whose topic 7
// records travel through its outbox and the embedded log to the syncapi's consumer: a
// device upload by bob wakes alice's long-poll and shows in her device_lists.changed
// while they share a room; carol, who shares none, does not show; alice's own upload
// shows for her; bob leaving shows in left; GET /keys/changes between two tokens says the
// same; an idle /sync after that has empty lists.
func TestDeviceListsStack(t *testing.T) {
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
				go func() { _ = ob.Run(ctx) }()
				ks, err := keyserver.NewInternalAPI(ctx, db, "test", keyserver.WithKeyChanges(ob, topics.KeyChange))
				if err != nil {
					t.Fatal(err)
				}
				if impl == implInthttp {
					ks = keyinthttptest.Serve(t, ks)
				}
				h := newHarness(t, dsn)
				// Over inthttp, every answer comes from the database (no record of moves,
				// no key changes held in memory): both paths must say the same.
				h.api.Syncer.NoShortcuts = impl == implInthttp
				h.api.StartConsumers(log.Consumer(), topics, "syncapi-test")
				t.Cleanup(func() { _ = h.api.Stop() })

				room := "!keys:test"
				alice, bob, carol := user("alice"), user("bob"), user("carol")
				h.createRoom(room, alice)
				h.member(room, bob, bob, "join")
				h.createRoom("!other:test", carol)
				s0 := h.sync("alice_tok", "")
				upload := func(u, dev string) {
					t.Helper()
					if _, err := ks.UploadKeys(ctx, devicetest.New(t, u, dev).Upload(1, false)); err != nil {
						t.Fatal(err)
					}
				}
				// waitLists long-polls alice's /sync until its device lists are not empty.
				waitLists := func(since string) deviceLists {
					t.Helper()
					deadline := time.Now().Add(10 * time.Second)
					for time.Now().Before(deadline) {
						d := h.deviceLists("alice_tok", "/_matrix/client/v3/sync?timeout=2000&since="+since)
						if len(d.changed)+len(d.left) > 0 {
							return d
						}
						since = d.next
					}
					t.Fatal("no device list change arrived")
					return deviceLists{}
				}

				done := make(chan deviceLists, 1)
				go func() { done <- waitLists(s0.NextBatch) }()
				time.Sleep(100 * time.Millisecond)
				upload(carol, "CAROLDEV") // shares no room with alice: never in her lists
				upload(bob, "BOBDEV")
				d1 := <-done
				if !reflect.DeepEqual(d1.changed, []string{bob}) || len(d1.left) != 0 {
					t.Fatalf("after bob's upload: %+v", d1)
				}
				upload(alice, "ALICEDEV")
				d2 := waitLists(d1.next)
				if !reflect.DeepEqual(d2.changed, []string{alice}) {
					t.Fatalf("after alice's own upload: %+v", d2)
				}
				// The same keys again change nothing: no record, the next /sync is idle.
				if _, err := ks.UploadKeys(ctx, &keyapi.UploadKeysRequest{UserID: bob, DeviceID: "BOBDEV2"}); err != nil {
					t.Fatal(err)
				}
				h.member(room, bob, bob, "leave")
				d3 := waitLists(d2.next)
				if !reflect.DeepEqual(d3.left, []string{bob}) || len(d3.changed) != 0 {
					t.Fatalf("after bob left: %+v", d3)
				}
				if d := h.deviceLists("alice_tok", "/_matrix/client/v3/sync?since="+d3.next); len(d.changed)+len(d.left) != 0 {
					t.Fatalf("idle sync: %+v", d)
				}
				// Bob's new device after he left: not alice's business.
				upload(bob, "BOBDEV3")
				time.Sleep(300 * time.Millisecond)
				if d := h.deviceLists("alice_tok", "/_matrix/client/v3/sync?since="+d3.next); len(d.changed)+len(d.left) != 0 {
					t.Fatalf("change of a user who left: %+v", d)
				}
				// Deleting bob's keys while he shares a room again shows him changed.
				h.member(room, bob, bob, "join")
				d4 := waitLists(d3.next)
				if !reflect.DeepEqual(d4.changed, []string{bob}) {
					t.Fatalf("after bob rejoined: %+v", d4)
				}
				if err := ks.DeleteDeviceKeys(ctx, &keyapi.DeleteDeviceKeysRequest{UserID: bob, DeviceIDs: []string{"BOBDEV"}}); err != nil {
					t.Fatal(err)
				}
				d5 := waitLists(d4.next)
				if !reflect.DeepEqual(d5.changed, []string{bob}) {
					t.Fatalf("after bob's device deleted: %+v", d5)
				}

				// /keys/changes between two tokens says what the /syncs said.
				kc := func(from, to string) deviceLists {
					return h.deviceLists("alice_tok", fmt.Sprintf("/_matrix/client/v3/keys/changes?from=%s&to=%s", from, to))
				}
				if d := kc(s0.NextBatch, d2.next); !reflect.DeepEqual(d.changed, []string{alice, bob}) || len(d.left) != 0 {
					t.Fatalf("keys/changes s0..d2: %+v", d)
				}
				if d := kc(d2.next, d3.next); !reflect.DeepEqual(d.left, []string{bob}) || len(d.changed) != 0 {
					t.Fatalf("keys/changes d2..d3: %+v", d)
				}
				if d := kc(d3.next, d3.next); len(d.changed)+len(d.left) != 0 {
					t.Fatalf("keys/changes of an empty window: %+v", d)
				}
				for _, q := range []string{"from=" + s0.NextBatch, "to=" + s0.NextBatch, "from=x&to=" + s0.NextBatch} {
					if code, body := h.get("alice_tok", "/_matrix/client/v3/keys/changes?"+q); code != 400 ||
						(body["errcode"] != "M_MISSING_PARAM" && body["errcode"] != "M_INVALID_PARAM") {
						t.Fatalf("keys/changes?%s: %d %v", q, code, body)
					}
				}
				if code, _ := h.get("", "/_matrix/client/v3/keys/changes?from=s0&to=s0"); code != 401 {
					t.Fatalf("keys/changes without a token: %d", code)
				}
			})
		}
	}
}
