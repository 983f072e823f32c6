package syncapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/syncapi"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Ignoring users (issue 11 item 7, the spec's "Ignoring Users"): with m.ignored_user_list
// set, the ignored user's messages leave alice's timelines (/sync initial and incremental,
// /messages, /context; /event and /context of such an event are 404) and their invites
// leave her /sync; their state events stay (the room's state stays right). Bob, who ignores
// nobody, sees everything from the same shared reads. Un-ignoring brings later events back.
func TestIgnoredUsers(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		alice, bob, carol := user("alice"), user("bob"), user("carol")
		h.createRoom(room, alice)
		h.member(room, bob, bob, "join")
		h.member(room, carol, carol, "join")
		s0 := h.sync("alice_tok", "")
		b0 := h.sync("bob_tok", "")
		h.accountData(alice, "", "m.ignored_user_list", `{"ignored_users":{"`+carol+`":{}}}`)
		c1 := h.msg(room, carol, "ignored 1")
		b1 := h.msg(room, bob, "seen 1")
		topic := h.state(room, carol, "m.room.topic", "", `{"topic":"carol's"}`)
		c2 := h.msg(room, carol, "ignored 2")

		timeline := func(tok, q string) []string {
			t.Helper()
			return eventIDs(h.sync(tok, q).Rooms.Join[room].Timeline.Events)
		}
		has := func(ids []string, want ...string) bool {
			for _, id := range want {
				if !slices.Contains(ids, id) {
					return false
				}
			}
			return true
		}
		hasNone := func(ids []string, ids2 ...string) bool {
			for _, id := range ids2 {
				if slices.Contains(ids, id) {
					return false
				}
			}
			return true
		}
		// /sync: initial, incremental (woken and not), for alice and for bob.
		for _, q := range []string{"", "since=" + s0.NextBatch} {
			if got := timeline("alice_tok", q); !has(got, b1, topic) || !hasNone(got, c1, c2) {
				t.Fatalf("alice /sync?%s timeline %v: want %s and %s without %s, %s", q, got, b1, topic, c1, c2)
			}
		}
		if got := timeline("bob_tok", "since="+b0.NextBatch); !has(got, c1, b1, topic, c2) {
			t.Fatalf("bob's timeline %v lost events", got)
		}
		// An incremental /sync with only ignored messages in the room leaves it out.
		s1 := h.sync("alice_tok", "since="+s0.NextBatch)
		h.msg(room, carol, "ignored 3")
		if s2 := h.sync("alice_tok", "since="+s1.NextBatch); len(s2.Rooms.Join) != 0 {
			t.Fatalf("only ignored events: %+v", s2.Rooms.Join)
		}

		// /messages, /context, /event.
		r := "/_matrix/client/v3/rooms/" + url.PathEscape(room)
		code, body := h.get("alice_tok", r+"/messages?dir=b&limit=100")
		if got := idsOf(body["chunk"]); code != 200 || !has(got, b1, topic) || !hasNone(got, c1, c2) {
			t.Fatalf("alice /messages: %d %v", code, got)
		}
		if _, body := h.get("bob_tok", r+"/messages?dir=b&limit=100"); !has(idsOf(body["chunk"]), c1, c2) {
			t.Fatalf("bob's /messages lost events: %v", idsOf(body["chunk"]))
		}
		code, body = h.get("alice_tok", r+"/context/"+url.PathEscape(b1)+"?limit=10")
		if around := append(idsOf(body["events_before"]), idsOf(body["events_after"])...); code != 200 || !hasNone(around, c1, c2) || !has(around, topic) {
			t.Fatalf("alice /context: %d %v", code, around)
		}
		for _, p := range []string{"/context/" + url.PathEscape(c1), "/event/" + url.PathEscape(c1)} {
			if code, body := h.get("alice_tok", r+p); code != 404 || body["errcode"] != "M_NOT_FOUND" {
				t.Fatalf("alice GET %s: %d %v", p, code, body)
			}
			if code, _ := h.get("bob_tok", r+p); code != 200 {
				t.Fatalf("bob GET %s: %d", p, code)
			}
		}

		// Invites: carol's is left out, dave's is shown.
		const room2, room3 = "!r2:test", "!r3:test"
		dave := user("dave")
		h.createRoom(room2, carol)
		h.createRoom(room3, dave)
		s3 := h.sync("alice_tok", "")
		h.member(room2, carol, alice, "invite")
		h.member(room3, dave, alice, "invite")
		for _, q := range []string{"", "since=" + s3.NextBatch} {
			inv := h.sync("alice_tok", q).Rooms.Invite
			if _, ok := inv[room2]; ok {
				t.Fatalf("/sync?%s shows the ignored user's invite", q)
			}
			if _, ok := inv[room3]; !ok {
				t.Fatalf("/sync?%s lost dave's invite", q)
			}
		}

		// Un-ignoring: later events come back (earlier ones are not re-sent).
		s4 := h.sync("alice_tok", "")
		h.accountData(alice, "", "m.ignored_user_list", `{"ignored_users":{}}`)
		c4 := h.msg(room, carol, "after un-ignoring")
		s5 := h.sync("alice_tok", "since="+s4.NextBatch)
		if got := eventIDs(s5.Rooms.Join[room].Timeline.Events); !slices.Equal(got, []string{c4}) {
			t.Fatalf("after un-ignoring: %v, want [%s]", got, c4)
		}
		if _, ok := h.sync("alice_tok", "").Rooms.Invite[room2]; !ok {
			t.Fatal("un-ignoring did not show the pending invite")
		}
	})
}

// The ignore lists are read at start (LoadIgnoreLists): a restarted syncapi hides the
// same events; an older topic 1 record never overwrites a newer list; content that is not
// the spec's shape counts as no list.
func TestIgnoreListsAcrossRestart(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := dsn(t)
			open := func() *syncapi.SyncAPI {
				db, err := sqlutil.Open(sqlutil.Options{ConnectionString: d})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				api, err := syncapi.New(ctx, db, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				return api
			}
			put := func(api *syncapi.SyncAPI, pos int64, userID, content string) {
				b, _ := json.Marshal(userapi.OutputAccountData{StreamPos: pos, UserID: userID, Type: "m.ignored_user_list", Content: json.RawMessage(content)})
				if err := api.AccountData.Handle(ctx, eventlog.Message{Value: b}); err != nil {
					t.Fatal(err)
				}
			}
			alice, bob, carol := user("alice"), user("bob"), user("carol")
			first := open()
			put(first, 2, alice, `{"ignored_users":{"`+carol+`":{},"`+alice+`":{}}}`)
			put(first, 1, alice, `{"ignored_users":{}}`) // older, arriving late
			put(first, 3, bob, `{"ignored_users":["`+carol+`"]}`)
			for _, api := range []*syncapi.SyncAPI{first, open()} {
				got := api.Notifier.IgnoredBy(alice)
				if _, ok := got[carol]; !ok || len(got) != 1 {
					t.Fatalf("alice ignores %v, want only carol (never herself)", got)
				}
				if got := api.Notifier.IgnoredBy(bob); got != nil {
					t.Fatalf("bob's malformed list gives %v", got)
				}
			}
		})
	}
}
