package syncapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
)

// BenchmarkIncrementalSync measures one incremental /sync (timeout 0) through the HTTP
// handler for a user in 10 rooms of 5 members and 30 events each, on SQLite: with nothing
// new, and with one new event in one of the rooms (the event's consumption is not timed).
func BenchmarkIncrementalSync(b *testing.B) {
	h := newHarness(b, testenv.SQLitePath(b, "bench"))
	alice := user("alice")
	for r := 0; r < 10; r++ {
		rid := fmt.Sprintf("!bench%d:test", r)
		h.createRoom(rid, alice)
		for m := 0; m < 4; m++ {
			h.member(rid, user(fmt.Sprint("m", m)), user(fmt.Sprint("m", m)), "join")
		}
		for i := 0; i < 23; i++ {
			h.msg(rid, alice, fmt.Sprint(i))
		}
	}
	since := h.sync("alice_tok", "").NextBatch

	b.Run("nothing_new", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if s := h.sync("alice_tok", "since="+since); len(s.Rooms.Join) != 0 {
				b.Fatal("unexpected rooms")
			}
		}
	})
	b.Run("one_new_event", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			h.msg("!bench3:test", user("m1"), "new")
			b.StartTimer()
			s := h.sync("alice_tok", "since="+since)
			if n := len(s.Rooms.Join["!bench3:test"].Timeline.Events); n != 1 {
				b.Fatalf("timeline of %d events", n)
			}
			since = s.NextBatch
		}
	})
}

// wokenSyncFilter is axon-loadtest's send-mode /sync filter (inline): members lazy-loaded,
// no presence, account data or ephemeral events.
const wokenSyncFilter = `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"state":{"lazy_load_members":true},` +
	`"timeline":{"limit":500},"ephemeral":{"types":[]},"account_data":{"types":[]}}}`

// BenchmarkWokenSync is the server's work for one message in a room of 10 members that
// all long-poll /sync (axon-loadtest's send mode): one op is the 10 incremental /syncs
// (through the HTTP handler, timeout 0, the load test's inline filter) that the message
// wakes, one per member, each from the member's last next_batch. The message's
// consumption is not timed. "stored_filter" is the same with the filter stored in the
// userapi and passed by ID.
func BenchmarkWokenSync(b *testing.B) {
	// with_keyserver: each /sync also asks a (direct, SQLite) keyserver for the device's key
	// counts (arrow 16), as the monolith does. unread_counts_off: inline_filter without the
	// unread notification counts (sync_api.unread_counts false).
	for _, tc := range []struct {
		name, filter    string
		keys, unreadOff bool
	}{{"inline_filter", "", false, false}, {"stored_filter", "f1", false, false}, {"with_keyserver", "", true, false},
		{"unread_counts_off", "", false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			h := newHarness(b, testenv.SQLitePath(b, "woken"))
			h.api.Syncer.NoUnreadCounts = tc.unreadOff
			if tc.keys {
				h.api.Syncer.KeyAPI = benchKeyServer(b)
			}
			const room = "!woken:test"
			members := make([]string, 10)
			for i := range members {
				members[i] = fmt.Sprint("w", i)
			}
			h.createRoom(room, user(members[0]))
			for _, m := range members[1:] {
				h.member(room, user(m), user(m), "join")
			}
			filter := url.QueryEscape(wokenSyncFilter)
			if tc.filter != "" {
				for _, m := range members {
					h.users.filters[user(m)+"/"+tc.filter] = json.RawMessage(wokenSyncFilter)
				}
				filter = tc.filter
			}
			since := h.api.Notifier.Position().String()
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				n++
				sender := members[n%len(members)]
				id := h.send(ev{room: room, sender: user(sender), typ: "m.room.message", content: `{"msgtype":"m.text","body":"load"}`,
					txnDevice: strings.ToUpper(sender) + "DEV", txnID: fmt.Sprint("t", n)})
				b.StartTimer()
				for _, m := range members {
					req := httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/sync?timeout=0&since="+since+"&filter="+filter, nil)
					req.Header.Set("Authorization", "Bearer "+m+"_tok")
					rec := httptest.NewRecorder()
					h.router.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(id)) {
						b.Fatalf("sync of %s: %d %s", m, rec.Code, rec.Body.String())
					}
				}
				since = h.api.Notifier.Position().String()
			}
		})
	}
}

// benchKeyServer is a keyserver on its own SQLite file.
func benchKeyServer(b *testing.B) keyapi.KeyServerAPI {
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(b, "keys")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ks, err := keyserver.NewInternalAPI(context.Background(), db, "test")
	if err != nil {
		b.Fatal(err)
	}
	return ks
}
