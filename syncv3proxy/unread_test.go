package syncv3proxy

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/syncv3"
	"github.com/axon-matrix/axon/internal/testenv"
)

// unreadAnswer is an upstream /sync answer with the given rooms' unread_notifications
// (counts nil: the room without them).
func unreadAnswer(counts map[string]*[2]int) string {
	rooms := ""
	for r, c := range counts {
		if rooms != "" {
			rooms += ","
		}
		if c == nil {
			rooms += fmt.Sprintf(`%q:{"timeline":{"events":[%s]}}`, r, message("$u"+r, "hi"))
			continue
		}
		rooms += fmt.Sprintf(`%q:{"unread_notifications":{"notification_count":%d,"highlight_count":%d}}`, r, c[0], c[1])
	}
	return `{"next_batch":"n","rooms":{"join":{` + rooms + `}}}`
}

// TestUnread: the upstream's counts are served as room_list fields; a change of a room's
// counts takes an edu position (a room_list delta and a wake), an unchanged report does
// not; a database of before version 3 upgrades, its stored counts kept at position 0.
func TestUnread(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// An existing database: migrated to version 2, with counts stored.
			if err := sqlutil.Migrate(ctx, db, component, migrations[:2]); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO syncv3proxy_unread (user_id, room_id, notification_count, highlight_count)
				VALUES ('@a:t', '!old:t', 4, 0)`); err != nil {
				t.Fatal(err)
			}
			st, err := OpenStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			src := &Source{st: st, n: newNotifier()}
			all := []string{"!old:t", "!r:t", "!z:t"}
			counts := func(fields ...string) map[string][2]int {
				t.Helper()
				rooms := []syncv3.RoomMembership{{RoomID: "!old:t", Membership: "join"}, {RoomID: "!r:t", Membership: "join"},
					{RoomID: "!z:t", Membership: "join"}, {RoomID: "!inv:t", Membership: "invite"}}
				infos, err := src.RoomFields(ctx, "@a:t", rooms, src.Position().Room, fields)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string][2]int{}
				for _, in := range infos {
					c := [2]int{-1, -1}
					if in.NotificationCount != nil {
						c[0] = *in.NotificationCount
					}
					if in.HighlightCount != nil {
						c[1] = *in.HighlightCount
					}
					if c != [2]int{-1, -1} {
						out[in.RoomID] = c
					}
				}
				return out
			}
			both := []string{syncv3.FieldNotificationCount, syncv3.FieldHighlightCount}
			if got, want := counts(both...), map[string][2]int{"!old:t": {4, 0}}; !reflect.DeepEqual(got, want) {
				t.Fatalf("after the upgrade: %v, want %v", got, want)
			}
			if rooms, err := src.ReadReceiptRooms(ctx, "@a:t", all, 0, src.Position().EDU); err != nil || len(rooms) != 0 {
				t.Fatalf("upgraded counts changed rooms: %v %v", rooms, err)
			}
			for _, step := range []struct {
				name     string
				answer   map[string]*[2]int
				moved    bool     // the edu position moved
				user     bool     // the user's sessions are woken
				changed  []string // ReadReceiptRooms of the step's window
				counts   map[string][2]int
				onlyNote bool // ask for notification_count only
			}{
				{"first counts of a room", map[string]*[2]int{"!r:t": {2, 1}}, true, true, []string{"!r:t"},
					map[string][2]int{"!old:t": {4, 0}, "!r:t": {2, 1}}, false},
				{"the same counts again", map[string]*[2]int{"!r:t": {2, 1}}, false, false, nil,
					map[string][2]int{"!old:t": {4, 0}, "!r:t": {2, 1}}, false},
				{"read upstream: zero", map[string]*[2]int{"!r:t": {0, 0}}, true, true, []string{"!r:t"},
					map[string][2]int{"!old:t": {4, 0}, "!r:t": {0, 0}}, false},
				{"first counts zero: no change", map[string]*[2]int{"!z:t": {0, 0}}, false, true, nil,
					map[string][2]int{"!old:t": {4, 0}, "!r:t": {0, 0}, "!z:t": {0, 0}}, false},
				{"an upgraded room's counts change", map[string]*[2]int{"!old:t": {5, 2}, "!z:t": {1, 0}}, true, true, []string{"!old:t", "!z:t"},
					map[string][2]int{"!old:t": {5, 2}, "!r:t": {0, 0}, "!z:t": {1, 0}}, false},
				{"a room without counts keeps them", map[string]*[2]int{"!r:t": nil}, false, false, nil,
					map[string][2]int{"!old:t": {5, -1}, "!r:t": {0, -1}, "!z:t": {1, -1}}, true},
			} {
				before := src.Position()
				ch, err := st.Ingest(ctx, "@a:t", "ADEV", parse(t, unreadAnswer(step.answer)))
				if err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				after := src.Position()
				if moved := after.EDU > before.EDU; moved != step.moved || ch.user != step.user {
					t.Errorf("%s: edu %d → %d, user woken %v; want moved %v, woken %v", step.name, before.EDU, after.EDU, ch.user, step.moved, step.user)
				}
				rooms, err := src.ReadReceiptRooms(ctx, "@a:t", all, before.EDU, after.EDU)
				if err != nil {
					t.Fatal(err)
				}
				var changed []string
				for r := range rooms {
					changed = append(changed, r)
				}
				slices.Sort(changed)
				if !slices.Equal(changed, step.changed) {
					t.Errorf("%s: changed rooms %v, want %v", step.name, changed, step.changed)
				}
				// Only the listed rooms asked about are named.
				if rooms, _ := src.ReadReceiptRooms(ctx, "@a:t", []string{"!other:t"}, before.EDU, after.EDU); len(rooms) != 0 {
					t.Errorf("%s: rooms not asked about: %v", step.name, rooms)
				}
				fields := both
				if step.onlyNote {
					fields = both[:1]
				}
				if got := counts(fields...); !reflect.DeepEqual(got, step.counts) {
					t.Errorf("%s: counts %v, want %v", step.name, got, step.counts)
				}
			}
			// The fields not asked for stay absent.
			if got := counts(syncv3.FieldName); len(got) != 0 {
				t.Errorf("counts without asking: %v", got)
			}
		})
	}
}
