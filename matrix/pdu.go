package matrix

import "encoding/json"

// PDU is the read-only view of a room event (a persistent data unit) that auth rules, state
// resolution and storage work on. matrix/event's *Event implements it; tests may use any
// other implementation.
type PDU interface {
	// EventID is the event's ID: "$…". For v3+ it is derived from the reference hash.
	EventID() string
	// RoomID is the room the event belongs to. For a v12 create event, which carries no
	// room_id, it is the room ID derived from the event's own ID.
	RoomID() string
	Sender() string
	Type() string
	// StateKey is nil for a message (non-state) event.
	StateKey() *string
	// Content is the raw JSON of the event's content.
	Content() json.RawMessage
	PrevEventIDs() []string
	AuthEventIDs() []string
	Depth() int64
	OriginServerTS() int64
	// Redacts is the event a m.room.redaction redacts (top level before v11, in content from v11), or "".
	Redacts() string
	// Version is the room version whose rules the event follows.
	Version() *RoomVersion
	// JSON is the event as it is sent over federation.
	JSON() []byte
}

// StateKeyTuple identifies a piece of room state: (event type, state key).
type StateKeyTuple struct {
	EventType string
	StateKey  string
}

// Tuple returns the (type, state_key) of a state event; ok is false for a non-state event.
func Tuple(e PDU) (t StateKeyTuple, ok bool) {
	sk := e.StateKey()
	if sk == nil {
		return StateKeyTuple{}, false
	}
	return StateKeyTuple{EventType: e.Type(), StateKey: *sk}, true
}

// Memoizer is implemented by PDUs that can keep one value derived from their (immutable)
// content, so that what many checks read of the same event is parsed once: the auth
// rules keep the parsed power levels on the m.room.power_levels event, the create
// content on m.room.create and the join rule on m.room.join_rules (matrix/auth). Each
// kind of event is asked for one key, so one slot per event suffices. matrix/event's
// *Event implements it.
type Memoizer interface {
	// Memo returns the value kept under key, or calls compute and keeps its result under
	// key (replacing a value kept under another key). It is safe for concurrent use;
	// compute may run more than once when calls race, so it must have no side effects.
	// Callers must not modify the value returned.
	Memo(key any, compute func() any) any
}
