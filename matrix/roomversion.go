// Package matrix is Axon's Matrix protocol library: room versions, identifiers and the PDU
// contract that the rest of matrix/ (events, auth rules, state resolution, federation) and
// every component build on. It imports no Axon component.
package matrix

import "fmt"

// RoomVersionID names a room version, as it appears in m.room.create's room_version.
type RoomVersionID string

// EventIDFormat says how a room version forms its event IDs.
type EventIDFormat int

const (
	// EventIDFormatServer is v1–v2: "$opaque:server", chosen by the origin server.
	EventIDFormatServer EventIDFormat = iota + 1
	// EventIDFormatBase64 is v3: "$" + unpadded standard base64 of the reference hash.
	EventIDFormatBase64
	// EventIDFormatURLSafe is v4+: "$" + unpadded URL-safe base64 of the reference hash.
	EventIDFormatURLSafe
)

// RedactionAlgorithm says which keys survive redaction in a room version.
type RedactionAlgorithm int

const (
	// RedactionV1 is the original algorithm (v1–v5): m.room.aliases keeps "aliases".
	RedactionV1 RedactionAlgorithm = iota + 1
	// RedactionV6 (v6–v7) drops the m.room.aliases special case.
	RedactionV6
	// RedactionV8 (v8) also keeps "allow" in m.room.join_rules.
	RedactionV8
	// RedactionV9 (v9–v10) also keeps "join_authorised_via_users_server" in m.room.member.
	RedactionV9
	// RedactionV11 (v11+) keeps the whole create content, "invite" in power levels,
	// "redacts" in m.room.redaction content, third_party_invite.signed in members, and drops
	// the top-level origin, membership and prev_state keys.
	RedactionV11
)

// StateResAlgorithm names a state resolution algorithm.
type StateResAlgorithm int

const (
	// StateResV1 is the original algorithm (room version 1).
	StateResV1 StateResAlgorithm = iota + 1
	// StateResV2 is used by room versions 2–11.
	StateResV2
	// StateResV2_1 is used by room version 12: it starts from an empty state for the
	// conflicted set's auth chain difference and re-checks against the create event.
	StateResV2_1
)

// RoomVersion holds every rule in which room versions differ. It is data: code asks the
// table, never switches on a version string.
type RoomVersion struct {
	ID     RoomVersionID
	Stable bool
	// EventIDFormat is how event IDs are formed.
	EventIDFormat EventIDFormat
	// Redaction is the redaction algorithm.
	Redaction RedactionAlgorithm
	// StateRes is the state resolution algorithm.
	StateRes StateResAlgorithm
	// SpecialCaseAliasesAuth: m.room.aliases events have their own auth rule (v1–v5).
	SpecialCaseAliasesAuth bool
	// EnforceKeyValidity: signing keys must be valid at the event's origin_server_ts (v5+).
	EnforceKeyValidity bool
	// StrictCanonicalJSON: integers outside [-(2**53)+1, (2**53)-1] and floats are invalid (v6+).
	StrictCanonicalJSON bool
	// NotificationsPowerLevels: "notifications" in m.room.power_levels is checked (v6+).
	NotificationsPowerLevels bool
	// Knocking: the "knock" join rule and membership exist (v7+).
	Knocking bool
	// RestrictedJoins: the "restricted" join rule exists (v8+).
	RestrictedJoins bool
	// KnockRestricted: the "knock_restricted" join rule exists (v10+).
	KnockRestricted bool
	// IntegerPowerLevels: power level values must be JSON integers, not strings (v10+).
	IntegerPowerLevels bool
	// ImplicitRoomCreator: the creator is the create event's sender; "creator" is not used (v11+).
	ImplicitRoomCreator bool
	// RedactsInContent: m.room.redaction carries "redacts" in content, not top level (v11+).
	RedactsInContent bool
	// RoomIDFromCreateEvent: the room ID is "!" + the create event's reference hash, the
	// create event carries no room_id, and other events do not list it in auth_events (v12).
	RoomIDFromCreateEvent bool
	// PrivilegedCreators: the create event's sender and additional_creators have infinite
	// power and cannot be listed in m.room.power_levels users (v12).
	PrivilegedCreators bool
}

// DefaultRoomVersion is the version new rooms get when the client names none and the
// configuration (global.default_room_version) says nothing else: 10, as Synapse, since
// clients written before v12 list the creator in m.room.power_levels, which v12 forbids.
const DefaultRoomVersion RoomVersionID = "10"

var roomVersions = func() map[RoomVersionID]*RoomVersion {
	v1 := RoomVersion{ID: "1", Stable: true, EventIDFormat: EventIDFormatServer, Redaction: RedactionV1,
		StateRes: StateResV1, SpecialCaseAliasesAuth: true}
	v2 := v1
	v2.ID, v2.StateRes = "2", StateResV2
	v3 := v2
	v3.ID, v3.EventIDFormat = "3", EventIDFormatBase64
	v4 := v3
	v4.ID, v4.EventIDFormat = "4", EventIDFormatURLSafe
	v5 := v4
	v5.ID, v5.EnforceKeyValidity = "5", true
	v6 := v5
	v6.ID, v6.Redaction, v6.SpecialCaseAliasesAuth, v6.StrictCanonicalJSON, v6.NotificationsPowerLevels =
		"6", RedactionV6, false, true, true
	v7 := v6
	v7.ID, v7.Knocking = "7", true
	v8 := v7
	v8.ID, v8.Redaction, v8.RestrictedJoins = "8", RedactionV8, true
	v9 := v8
	v9.ID, v9.Redaction = "9", RedactionV9
	v10 := v9
	v10.ID, v10.KnockRestricted, v10.IntegerPowerLevels = "10", true, true
	v11 := v10
	v11.ID, v11.Redaction, v11.ImplicitRoomCreator, v11.RedactsInContent = "11", RedactionV11, true, true
	v12 := v11
	v12.ID, v12.StateRes, v12.RoomIDFromCreateEvent, v12.PrivilegedCreators = "12", StateResV2_1, true, true
	m := map[RoomVersionID]*RoomVersion{}
	for _, v := range []RoomVersion{v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12} {
		v := v
		m[v.ID] = &v
	}
	return m
}()

// GetRoomVersion returns the rules of a known room version.
func GetRoomVersion(id RoomVersionID) (*RoomVersion, error) {
	v, ok := roomVersions[id]
	if !ok {
		return nil, UnsupportedRoomVersionError{Version: id}
	}
	return v, nil
}

// MustRoomVersion is GetRoomVersion for versions known to exist; it panics otherwise.
func MustRoomVersion(id RoomVersionID) *RoomVersion {
	v, err := GetRoomVersion(id)
	if err != nil {
		panic(err)
	}
	return v
}

// RoomVersions lists every supported room version, in order 1…12.
func RoomVersions() []*RoomVersion {
	out := make([]*RoomVersion, 0, len(roomVersions))
	for i := 1; i <= len(roomVersions); i++ {
		out = append(out, roomVersions[RoomVersionID(fmt.Sprint(i))])
	}
	return out
}

// UnsupportedRoomVersionError is returned for a room version this library does not know.
// Client-facing code maps it to M_UNSUPPORTED_ROOM_VERSION.
type UnsupportedRoomVersionError struct{ Version RoomVersionID }

// Error names the unknown room version.
func (e UnsupportedRoomVersionError) Error() string {
	return fmt.Sprintf("unsupported room version %q", string(e.Version))
}
