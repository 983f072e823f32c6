package api

import "encoding/json"

// OutputType says which kind of message a topic 2 record is.
type OutputType string

const (
	// OutputNewRoomEvent is a new event added to a room's timeline (and maybe its state).
	OutputNewRoomEvent OutputType = "new_room_event"
	// OutputRedaction says an earlier event was redacted; consumers replace their copy.
	OutputRedaction OutputType = "redacted_event"
	// OutputForget says a user forgot a room they had left (POST /forget): it leaves their
	// /sync and their reads of the room until a later membership event of theirs there.
	OutputForget OutputType = "forget"
)

// OutputEvent is one topic 2 record (roomserver → syncapi). Its log Key is the room ID, so
// a room's events arrive in order.
//
// StreamPos is the sync position of the record. The roomserver assigns it in the same
// database transaction that stores the event, from a single counter row, so positions are
// dense (1, 2, 3, … with no gaps, since a rolled-back transaction also rolls back its
// increment) and committed in order. A sync instance that has received every position up to
// N may serve N; it never exposes a position beyond the first gap. Positions are never
// broker offsets, so every sync instance agrees on them and a recreated topic changes nothing.
type OutputEvent struct {
	Type      OutputType `json:"type"`
	StreamPos int64      `json:"stream_pos"`

	NewRoomEvent *OutputNewRoomEventData `json:"new_room_event,omitempty"`
	Redaction    *OutputRedactionData    `json:"redaction,omitempty"`
	Forget       *OutputForgetData       `json:"forget,omitempty"`
}

// OutputNewRoomEventData is a new timeline event.
type OutputNewRoomEventData struct {
	RoomVersion string          `json:"room_version"`
	Event       json.RawMessage `json:"event"` // federation format, as stored
	// EventID is Event's ID. Federation-format events of room versions 3+ carry no
	// event_id (it is their reference hash), so consumers take it from here.
	EventID string `json:"event_id,omitempty"`
	// AddsStateEventIDs / RemovesStateEventIDs are the change to the room's current state
	// that this event causes (after state resolution where extremities diverged). Consumers
	// that do not have an added event's JSON fetch it with QueryEvent; usually it is Event.
	AddsStateEventIDs    []string `json:"adds_state_event_ids,omitempty"`
	RemovesStateEventIDs []string `json:"removes_state_event_ids,omitempty"`
	// Sender's device and transaction ID, for unsigned.transaction_id in the sender's sync.
	TxnDeviceID string `json:"txn_device_id,omitempty"`
	TxnID       string `json:"txn_id,omitempty"`
	// HistoryVisibility in force for this event.
	HistoryVisibility string `json:"history_visibility,omitempty"`
}

// OutputRedactionData says RedactedEventID was redacted by RedactionEventID.
type OutputRedactionData struct {
	RedactedEventID  string          `json:"redacted_event_id"`
	RedactionEventID string          `json:"redaction_event_id"`
	RedactedEvent    json.RawMessage `json:"redacted_event"` // the redacted form
}

// OutputForgetData says UserID forgot RoomID. The record's StreamPos, assigned in the
// forget's own transaction like every topic 2 position, orders it against the user's
// membership events in the room: a membership event at a later position undoes it.
type OutputForgetData struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
}

// OutputMembership is one topic 4 record (roomserver → clientapi): a local user's
// membership changed. Keyed by the user ID.
type OutputMembership struct {
	RoomID     string `json:"room_id"`
	UserID     string `json:"user_id"`
	Membership string `json:"membership"`
	EventID    string `json:"event_id"`
}

// OutputFederationEvent is one topic 6 record (roomserver → federationsender): an event
// this server must send to other servers. Keyed by the room ID, so a room's events reach
// the sender in order. The roomserver stages one only for events of local senders in rooms
// where other servers take part (events received over federation are not relayed: their
// origin sends them to every server itself).
type OutputFederationEvent struct {
	RoomID      string          `json:"room_id"`
	RoomVersion string          `json:"room_version"`
	EventID     string          `json:"event_id"`
	Event       json.RawMessage `json:"event"` // federation format, signed, as stored
	// Destinations are the servers to send it to: every server with a joined member
	// after the event, plus the server of a remote user the event is about (a kick, ban
	// or leave of that user), never this server.
	Destinations []string `json:"destinations"`
}
