package storage

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestQueueAndMembers: rows come back per service in the order queued, an event queued
// twice for a service is stored once, deletes remove only the rows named, member changes
// apply, and a reopened database still has it all.
func TestQueueAndMembers(t *testing.T) {
	ctx := context.Background()
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			open := func() (*Database, func()) {
				db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
				if err != nil {
					t.Fatal(err)
				}
				d, err := Open(ctx, db)
				if err != nil {
					t.Fatal(err)
				}
				return d, func() { db.Close() }
			}
			d, closeDB := open()
			var evs []QueuedEvent
			for i := range 5 {
				for _, as := range []string{"irc", "slack"} {
					evs = append(evs, QueuedEvent{ASID: as, EventID: fmt.Sprintf("$%d", i), JSON: []byte(fmt.Sprintf(`{"n":%d}`, i))})
				}
			}
			members := []MemberChange{{RoomID: "!a", UserID: "@x", Joined: true}, {RoomID: "!a", UserID: "@y", Joined: true}, {RoomID: "!b", UserID: "@x", Joined: true}}
			if err := d.Apply(ctx, evs, members); err != nil {
				t.Fatal(err)
			}
			// Delivered again (a crash before the offset commit): nothing doubles.
			if err := d.Apply(ctx, evs[:4], []MemberChange{{RoomID: "!b", UserID: "@x", Joined: false}}); err != nil {
				t.Fatal(err)
			}
			rows, err := d.Peek(ctx, "irc", 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 3 || rows[0].EventID != "$0" || rows[2].EventID != "$2" || string(rows[1].JSON) != `{"n":1}` {
				t.Fatalf("peek %+v", rows)
			}
			if err := d.Delete(ctx, "irc", []int64{rows[0].ID, rows[1].ID}); err != nil {
				t.Fatal(err)
			}
			closeDB()
			d, closeDB = open()
			defer closeDB()
			for as, want := range map[string]int{"irc": 3, "slack": 5} {
				if n, err := d.Count(ctx, as); err != nil || n != want {
					t.Fatalf("count %s = %d, %v; want %d", as, n, err, want)
				}
			}
			rows, err = d.Peek(ctx, "irc", 100)
			if err != nil || len(rows) != 3 || rows[0].EventID != "$2" || rows[0].Kind != KindEvent {
				t.Fatalf("after delete: %+v %v", rows, err)
			}
			// Ephemeral rows queue behind the events, with their kind.
			if err := d.Apply(ctx, []QueuedEvent{{ASID: "irc", EventID: "edu:7", JSON: []byte(`{"type":"m.typing"}`), Kind: KindEphemeral}}, nil); err != nil {
				t.Fatal(err)
			}
			rows, err = d.Peek(ctx, "irc", 100)
			if err != nil || len(rows) != 4 || rows[3].Kind != KindEphemeral || rows[3].EventID != "edu:7" {
				t.Fatalf("ephemeral row: %+v %v", rows, err)
			}
			svcs, err := d.Services(ctx)
			if err != nil || !reflect.DeepEqual(svcs, []string{"irc", "slack"}) {
				t.Fatalf("services %v %v", svcs, err)
			}
			m, err := d.RoomMembers(ctx)
			if err != nil || !reflect.DeepEqual(m, map[string][]string{"!a": {"@x", "@y"}}) {
				t.Fatalf("members %v %v", m, err)
			}
			// Room aliases: replaced per room, an empty list forgets them.
			if err := d.ApplyWithAliases(ctx, nil, nil, map[string][]string{"!a": {"#a1", "#a2"}, "!b": {"#b"}}); err != nil {
				t.Fatal(err)
			}
			if err := d.ApplyWithAliases(ctx, nil, nil, map[string][]string{"!a": {"#a3"}, "!b": nil}); err != nil {
				t.Fatal(err)
			}
			if a, err := d.RoomAliases(ctx); err != nil || !reflect.DeepEqual(a, map[string][]string{"!a": {"#a3"}}) {
				t.Fatalf("aliases %v %v", a, err)
			}
			// The services' directory lists per network.
			for _, l := range []struct {
				r      ListedRoom
				listed bool
			}{
				{ListedRoom{"irc", "libera", "!x"}, true}, {ListedRoom{"irc", "libera", "!x"}, true},
				{ListedRoom{"irc", "oftc", "!y"}, true}, {ListedRoom{"slack", "team", "!z"}, true},
				{ListedRoom{"slack", "team", "!z"}, false},
			} {
				if err := d.SetListed(ctx, l.r, l.listed); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := d.Listed(ctx, "irc", "libera"); err != nil || !reflect.DeepEqual(got, []ListedRoom{{"irc", "libera", "!x"}}) {
				t.Fatalf("listed irc/libera: %v %v", got, err)
			}
			if got, err := d.Listed(ctx, "", ""); err != nil || !reflect.DeepEqual(got, []ListedRoom{{"irc", "libera", "!x"}, {"irc", "oftc", "!y"}}) {
				t.Fatalf("listed: %v %v", got, err)
			}
		})
	}
}
