package syncapi_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"sort"
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

// presenceSync is the part of a /sync response the presence tests look at.
type presenceSync struct {
	NextBatch string `json:"next_batch"`
	Presence  struct {
		Events []struct {
			Type    string `json:"type"`
			Sender  string `json:"sender"`
			Content struct {
				Presence        string  `json:"presence"`
				StatusMsg       *string `json:"status_msg"`
				CurrentlyActive bool    `json:"currently_active"`
				LastActiveAgo   *int64  `json:"last_active_ago"`
			} `json:"content"`
		} `json:"events"`
	} `json:"presence"`
	Rooms struct {
		Join map[string]struct {
			Ephemeral struct {
				Events []struct {
					Type string `json:"type"`
				} `json:"events"`
			} `json:"ephemeral"`
		} `json:"join"`
	} `json:"rooms"`
}

func (h *harness) presenceSync(token, query string) presenceSync {
	h.t.Helper()
	req := httptest.NewRequest("GET", "/_matrix/client/v3/sync?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	if rec.Code != 200 {
		h.t.Fatalf("sync %s: %d %s", query, rec.Code, rec.Body.String())
	}
	var r presenceSync
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// states returns "user=presence[/status]" of each presence event, sorted.
func (s presenceSync) states() []string {
	out := []string{}
	for _, e := range s.Presence.Events {
		if e.Type != "m.presence" {
			continue
		}
		v := e.Sender + "=" + e.Content.Presence
		if e.Content.StatusMsg != nil {
			v += "/" + *e.Content.StatusMsg
		}
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func presenceRec(pos int64, userID, presence string, msg *string) eduapi.OutputEDU {
	return eduapi.OutputEDU{Kind: eduapi.OutputPresenceKind, StreamPos: pos, Presence: &eduapi.OutputPresence{UserID: userID,
		Presence: presence, StatusMsg: msg, LastActiveTS: time.Now().UnixMilli(), CurrentlyActive: presence == "online"}}
}

// TestPresenceInSync: topic 3 presence records reach /sync's presence for the users who
// share a joined room (and the user themself), an initial sync leaves offline users out,
// an incremental one shows only changes, a long-poll wakes on a change of a room mate's
// presence, the filter applies, and the state survives a restart of the syncapi.
func TestPresenceInSync(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			h := newHarness(t, dsn)
			alice, bob, carol, dave := user("alice"), user("bob"), user("carol"), user("dave")
			h.createRoom("!a:test", alice)
			h.member("!a:test", bob, bob, "join")
			h.member("!a:test", dave, dave, "join")
			h.createRoom("!c:test", carol) // carol shares no room with alice
			lunch := "lunch"
			h.edu(presenceRec(1, bob, "online", nil))
			h.edu(presenceRec(2, carol, "online", nil))
			h.edu(presenceRec(3, dave, "offline", nil))
			h.edu(presenceRec(4, alice, "unavailable", &lunch))

			s0 := h.presenceSync("alice_tok", "set_presence=offline")
			if got, want := s0.states(), []string{alice + "=unavailable/lunch", bob + "=online"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("initial sync: %v, want %v", got, want)
			}
			if s := h.presenceSync("alice_tok", "since="+s0.NextBatch); len(s.states()) != 0 {
				t.Fatalf("nothing new, got %v", s.states())
			}
			if s := h.presenceSync("alice_tok", `filter={"presence":{"types":[]}}`); len(s.states()) != 0 {
				t.Fatalf("filtered out, got %v", s.states())
			}

			done := make(chan presenceSync, 1)
			go func() { done <- h.presenceSync("alice_tok", "timeout=10000&since="+s0.NextBatch) }()
			time.Sleep(100 * time.Millisecond)
			h.edu(presenceRec(5, carol, "unavailable", nil)) // not alice's business: no wake
			select {
			case s := <-done:
				t.Fatalf("woken by a stranger's presence: %v", s.states())
			case <-time.After(200 * time.Millisecond):
			}
			h.edu(presenceRec(6, dave, "online", nil))
			var s1 presenceSync
			select {
			case s1 = <-done:
			case <-time.After(8 * time.Second):
				t.Fatal("a room mate's presence did not wake the long-poll")
			}
			if got, want := s1.states(), []string{dave + "=online"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("incremental: %v, want %v", got, want)
			}
			if s1.Presence.Events[0].Content.LastActiveAgo == nil || !s1.Presence.Events[0].Content.CurrentlyActive {
				t.Fatalf("content %+v", s1.Presence.Events[0].Content)
			}

			// A restarted syncapi loads presence from its tables.
			h2 := newHarness(t, dsn)
			if got, want := h2.presenceSync("bob_tok", "set_presence=offline").states(),
				[]string{alice + "=unavailable/lunch", bob + "=online", dave + "=online"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("after restart: %v, want %v", got, want)
			}
		})
	}
}

// TestEDUReadYourWrites runs the real eduserver (arrow 18, direct and over inthttp) with
// its outbox and the embedded log: a /sync marks its user online and already shows it, a
// sync right after the user's own receipt shows the receipt and the room's unread counts
// reset by it, and set_presence=unavailable is reflected at once too.
func TestEDUReadYourWrites(t *testing.T) {
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
				// A slow log poll: without read-your-writes a sync right after a write would
				// not see it.
				log, err := embedded.New(ctx, db, embedded.Config{PollInterval: 300 * time.Millisecond, RetentionInterval: -1})
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
				h.api.Syncer.EDUAPI = edu
				h.api.StartConsumers(log.Consumer(), topics, "syncapi-test")
				t.Cleanup(func() { _ = h.api.Stop() })
				room := "!ryw:test"
				alice, bob := user("alice"), user("bob")
				h.createRoom(room, alice)
				h.member(room, bob, bob, "join")
				last := h.msg(room, bob, "hi")

				s0 := h.presenceSync("alice_tok", "")
				if got, want := s0.states(), []string{alice + "=online"}; !reflect.DeepEqual(got, want) {
					t.Fatalf("first sync: %v, want %v", got, want)
				}
				if got := h.unreadSync("alice_tok", "").counts(t, room); got != [2]int{1, 0} {
					t.Fatalf("unread before the receipt: %v", got)
				}
				if err := edu.SetReceipt(ctx, &eduapi.SetReceiptRequest{RoomID: room, UserID: alice, Type: eduapi.ReceiptRead, EventID: last}); err != nil {
					t.Fatal(err)
				}
				if got := h.unreadSync("alice_tok", "since="+s0.NextBatch).counts(t, room); got != [2]int{0, 0} {
					t.Fatalf("unread right after the receipt: %v", got)
				}
				s1 := h.presenceSync("alice_tok", "since="+s0.NextBatch)
				if evs := s1.Rooms.Join[room].Ephemeral.Events; len(evs) != 1 || evs[0].Type != "m.receipt" {
					t.Fatalf("sync right after the receipt: %+v", s1.Rooms.Join[room])
				}
				s2 := h.presenceSync("alice_tok", "set_presence=unavailable&since="+s1.NextBatch)
				if got, want := s2.states(), []string{alice + "=unavailable"}; !reflect.DeepEqual(got, want) {
					t.Fatalf("set_presence=unavailable: %v, want %v", got, want)
				}
			})
		}
	}
}
