package syncv3

import (
	"reflect"
	"testing"
)

func TestStateFilterMatches(t *testing.T) {
	f := StateFilter{{"m.room.topic", ""}, {"m.room.member", "*"}, {"*", "special"}}
	for _, tc := range []struct {
		typ, key string
		want     bool
	}{
		{"m.room.topic", "", true},
		{"m.room.topic", "x", false},
		{"m.room.member", "@a:b", true},
		{"m.room.name", "", false},
		{"anything", "special", true},
	} {
		if got := f.Matches(tc.typ, tc.key); got != tc.want {
			t.Errorf("%s/%q: %v", tc.typ, tc.key, got)
		}
	}
	if (StateFilter{}).Matches("m.room.topic", "") {
		t.Error("an empty filter matched")
	}
}

func TestNegotiateFields(t *testing.T) {
	for _, tc := range []struct {
		asked, want []string
	}{
		{nil, servedFields},
		{[]string{"is_dm", "name"}, []string{"name", "is_dm"}},
		{[]string{"highlight_count", "notification_count"}, []string{"notification_count", "highlight_count"}},
		{[]string{"tags", "bogus", "tags"}, []string{"tags"}},
	} {
		if got := negotiateFields(tc.asked); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.asked, got, tc.want)
		}
	}
	// A Source that does not count unread notifications (not an UnreadCounter) has the
	// counts negotiated away.
	if got := countFields([]string{"name", "notification_count", "highlight_count"}, nil); !reflect.DeepEqual(got, []string{"name"}) {
		t.Errorf("countFields without a counter: %v", got)
	}
}

func TestSortMembers(t *testing.T) {
	ms := []Member{{UserID: "@c:x"}, {UserID: "@b:x", DisplayName: "zed"}, {UserID: "@a:x", DisplayName: "Zed"},
		{UserID: "@d:x", DisplayName: "Amy"}, {UserID: "@mod:x", DisplayName: "zz"}}
	byName := append([]Member(nil), ms...)
	sortMembers(byName, nil)
	levels := map[string]int64{"@mod:x": 50, "@c:x": 100}
	byPL := append([]Member(nil), ms...)
	sortMembers(byPL, func(m *Member) int64 { return levels[m.UserID] })
	ids := func(ms []Member) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.UserID)
		}
		return out
	}
	if got := ids(byName); !reflect.DeepEqual(got, []string{"@c:x", "@d:x", "@a:x", "@b:x", "@mod:x"}) {
		t.Errorf("by_name %v", got)
	}
	if got := ids(byPL); !reflect.DeepEqual(got, []string{"@c:x", "@mod:x", "@d:x", "@a:x", "@b:x"}) {
		t.Errorf("by_pl %v", got)
	}
}

func TestParseCursor(t *testing.T) {
	for _, tc := range []struct {
		s        string
		snapshot int64
		n        int64
		ok       bool
	}{
		{"41.20", 41, 20, true},
		{"41.20", 42, 0, false},
		{"41", 41, 0, false},
		{"41.-1", 41, 0, false},
		{"x.1", 41, 0, false},
		{cursor(7, 3), 7, 3, true},
	} {
		n, ok := parseCursor(tc.s, tc.snapshot)
		if ok != tc.ok || (ok && n != tc.n) {
			t.Errorf("%q at %d: %d %v", tc.s, tc.snapshot, n, ok)
		}
	}
}
