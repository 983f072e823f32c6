package syncv3

import (
	"context"
	"encoding/json"
)

// Source is what the streams are built from: the syncapi's storage and notifier
// (syncapi/internal/v3source*.go), or a proxy's copy of another homeserver's /sync. Every
// read takes the snapshot position it is made at, so answers are stable for a position.
type Source interface {
	// Position is the newest position the source serves.
	Position() Pos
	// CatchUp waits (bounded) until the source reflects the user's own acknowledged writes
	// (read your own writes), as the spec's /sync does.
	CatchUp(ctx context.Context, userID, deviceID string) error
	// Listen registers interest in news for the user (their to-device messages, their
	// membership changes) and in the given rooms (typing, events, state). Register before
	// reading Position so nothing is missed; Close the listener when done.
	Listen(userID string, rooms []string) Listener

	// Typing returns the room's m.typing EDU when its typers changed after edu position
	// since (since < 0: whenever anyone types, for a fresh view), as seen at upTo; nil when
	// unchanged or when the user may not see the room's typing (not joined at upTo).
	Typing(ctx context.Context, userID, roomID string, since int64, upTo Pos) (json.RawMessage, error)

	// ToDevice returns up to limit of the device's messages at edu positions in
	// (after, upTo], oldest first.
	ToDevice(ctx context.Context, userID, deviceID string, after, upTo int64, limit int) ([]ToDeviceMessage, error)
	// ToDevicePending reports the lowest position of a message waiting for the device
	// (ok false: none), from memory.
	ToDevicePending(userID, deviceID string) (lowest int64, ok bool)
	// DeleteToDevice deletes the device's messages at positions ≤ upTo.
	DeleteToDevice(ctx context.Context, userID, deviceID string, upTo int64) error

	// Members returns the room's member events (join, invite, knock, leave, ban: the state
	// m.room.member events) at room position at, as the user may see them (history
	// visibility as /members applies it: a user who left sees the members at their leave).
	// The error is the spec's (403) when the user may not see the room.
	Members(ctx context.Context, userID, roomID string, at int64) ([]Member, error)
	// PowerLevels returns the users' power levels and the default at room position at.
	PowerLevels(ctx context.Context, roomID string, at int64) (users map[string]int64, def int64, err error)
	// MemberChanges returns the member events of the room that entered its state at room
	// positions in (after, upTo], oldest first, as the user may see them.
	MemberChanges(ctx context.Context, userID, roomID string, after, upTo int64) ([]json.RawMessage, error)

	// Timeline returns up to limit of the room's events at room positions in (after,
	// upTo] that the user may see (history visibility as /messages applies it), the newest
	// ones, oldest first; next is the position to continue backwards from and more whether
	// older events remain in the range. M_FORBIDDEN (403) when the user may not read the
	// room.
	Timeline(ctx context.Context, userID, roomID string, upTo, after int64, limit int) (evs []Event, next int64, more bool, err error)
	// State returns the room's state events the filter asks for at room position at (no
	// later than the user may read).
	State(ctx context.Context, userID, roomID string, at int64, f StateFilter) ([]json.RawMessage, error)
	// StateChanges returns the state events the filter asks for that entered the room's
	// state at room positions in (after, upTo], oldest first, as far as the user may read.
	StateChanges(ctx context.Context, userID, roomID string, after, upTo int64, f StateFilter) ([]Event, error)

	// Rooms returns every room the user has a membership in at room position at, with that
	// membership (join, invite, knock, leave, ban) and the position of the event that set it.
	Rooms(ctx context.Context, userID string, at int64) ([]RoomMembership, error)
	// LastEventPositions returns, per room of the user's, the position of its newest
	// event at or before at, in bulk (no query per room; rooms beyond roomIDs may come too).
	LastEventPositions(ctx context.Context, userID string, roomIDs []string, at int64) (map[string]int64, error)
	// RecentEventPositions is LastEventPositions for at least the need rooms with the
	// newest events when that is cheaper: every room of roomIDs left out of last has its
	// newest event at or before lowest (lowest 0: left-out rooms have none).
	RecentEventPositions(ctx context.Context, userID string, roomIDs []string, at int64, need int) (last map[string]int64, lowest int64, err error)
	// RoomNames returns, per room of the user's, its name at at (m.room.name, else the
	// canonical alias; rooms with neither are left out), in bulk (rooms beyond roomIDs may
	// come too).
	RoomNames(ctx context.Context, userID string, roomIDs []string, at int64) (map[string]string, error)
	// RoomsWithEvents returns those of the rooms with events in (after, upTo], in bulk.
	RoomsWithEvents(ctx context.Context, roomIDs []string, after, upTo int64) (map[string]bool, error)
	// RoomFields fills the fields asked for of the given rooms of the user at room position
	// at (a page: a few queries for all of them).
	RoomFields(ctx context.Context, userID string, rooms []RoomMembership, at int64, fields []string) ([]RoomInfo, error)
}

// RoomMembership is a user's membership in a room.
type RoomMembership struct {
	RoomID, Membership string
	Pos                int64
}

// Listener is a registered interest (Source.Listen).
type Listener interface {
	// C receives a value when something the listener asked for may have changed.
	C() <-chan struct{}
	Close()
}

// ToDeviceMessage is one to-device message and its position.
type ToDeviceMessage struct {
	Pos   int64
	Event json.RawMessage // {"type", "sender", "content"}
}

// Member is one member event with what the sorts need.
type Member struct {
	UserID, DisplayName, Membership string
	Event                           json.RawMessage // client format
}
