package matrix

import (
	"errors"
	"testing"
)

// TestRoomVersionTable states the spec's room versions 1–12 (issue #2 point 1) as one
// literal table, one row per version, and checks the library's table against it field by
// field. A row here is written from the spec's "Room Versions" pages, independently of the
// incremental construction in roomversion.go, so a slip in either shows.
func TestRoomVersionTable(t *testing.T) {
	const (
		srv = EventIDFormatServer
		b64 = EventIDFormatBase64
		url = EventIDFormatURLSafe
	)
	type row struct {
		id                                                  RoomVersionID
		ids                                                 EventIDFormat
		red                                                 RedactionAlgorithm
		sr                                                  StateResAlgorithm
		aliases, keyValid, strict, notif, knock, restricted bool
		knockRestricted, intPL, implicitCreator, redacts    bool
		roomIDFromCreate, privilegedCreators                bool
	}
	// columns: id, event IDs, redaction, state res, aliases auth, key validity, strict
	// canonical JSON, notifications PL, knock, restricted, knock_restricted, integer PLs,
	// implicit creator, redacts in content, room ID from create, privileged creators.
	want := []row{
		{"1", srv, RedactionV1, StateResV1, true, false, false, false, false, false, false, false, false, false, false, false},
		{"2", srv, RedactionV1, StateResV2, true, false, false, false, false, false, false, false, false, false, false, false},
		{"3", b64, RedactionV1, StateResV2, true, false, false, false, false, false, false, false, false, false, false, false},
		{"4", url, RedactionV1, StateResV2, true, false, false, false, false, false, false, false, false, false, false, false},
		{"5", url, RedactionV1, StateResV2, true, true, false, false, false, false, false, false, false, false, false, false},
		{"6", url, RedactionV6, StateResV2, false, true, true, true, false, false, false, false, false, false, false, false},
		{"7", url, RedactionV6, StateResV2, false, true, true, true, true, false, false, false, false, false, false, false},
		{"8", url, RedactionV8, StateResV2, false, true, true, true, true, true, false, false, false, false, false, false},
		{"9", url, RedactionV9, StateResV2, false, true, true, true, true, true, false, false, false, false, false, false},
		{"10", url, RedactionV9, StateResV2, false, true, true, true, true, true, true, true, false, false, false, false},
		{"11", url, RedactionV11, StateResV2, false, true, true, true, true, true, true, true, true, true, false, false},
		{"12", url, RedactionV11, StateResV2_1, false, true, true, true, true, true, true, true, true, true, true, true},
	}
	all := RoomVersions()
	if len(all) != len(want) {
		t.Fatalf("RoomVersions() has %d versions, want %d", len(all), len(want))
	}
	for i, w := range want {
		got := all[i]
		if got.ID != w.id {
			t.Fatalf("RoomVersions()[%d] = %q, want %q", i, got.ID, w.id)
		}
		if g, err := GetRoomVersion(w.id); err != nil || g != got {
			t.Errorf("GetRoomVersion(%q) = %v, %v; want the table's entry", w.id, g, err)
		}
		have := row{got.ID, got.EventIDFormat, got.Redaction, got.StateRes, got.SpecialCaseAliasesAuth,
			got.EnforceKeyValidity, got.StrictCanonicalJSON, got.NotificationsPowerLevels, got.Knocking,
			got.RestrictedJoins, got.KnockRestricted, got.IntegerPowerLevels, got.ImplicitRoomCreator,
			got.RedactsInContent, got.RoomIDFromCreateEvent, got.PrivilegedCreators}
		if have != w {
			t.Errorf("room version %s:\n got %+v\nwant %+v", w.id, have, w)
		}
		if !got.Stable {
			t.Errorf("room version %s is stable in the spec", w.id)
		}
	}
	if _, err := GetRoomVersion(DefaultRoomVersion); err != nil {
		t.Errorf("default room version %q: %v", DefaultRoomVersion, err)
	}
}

func TestUnsupportedRoomVersion(t *testing.T) {
	for _, id := range []RoomVersionID{"", "0", "13", "org.matrix.msc0000", " 1", "01"} {
		_, err := GetRoomVersion(id)
		var u UnsupportedRoomVersionError
		if !errors.As(err, &u) || u.Version != id {
			t.Errorf("GetRoomVersion(%q) error = %v, want UnsupportedRoomVersionError", id, err)
		}
	}
}
