package api

import "encoding/json"

// Topic 3 (eventlog.TopicEDU, eduserver → syncapi). Every record carries the eduserver's
// own dense stream position (StreamPos, from one counter for all kinds), never a broker
// offset, so any sync instance serves any token. Keys: the room ID for typing and
// receipts, the recipient's user ID for to-device messages, the user ID for presence.

// Kinds of OutputEDU.
const (
	OutputTypingKind   = "typing"
	OutputReceiptKind  = "receipt"
	OutputToDeviceKind = "to_device"
	OutputPresenceKind = "presence"
)

// OutputEDU is one topic 3 record: exactly one of Typing, Receipt, ToDevice and Presence is set, as
// Kind says.
type OutputEDU struct {
	Kind      string          `json:"kind"`
	StreamPos int64           `json:"stream_pos"`
	Typing    *OutputTyping   `json:"typing,omitempty"`
	Receipt   *OutputReceipt  `json:"receipt,omitempty"`
	ToDevice  *OutputToDevice `json:"to_device,omitempty"`
	Presence  *OutputPresence `json:"presence,omitempty"`
}

// OutputTyping is the whole set of a room's typers after a change: a consumer replaces
// what it held for the room.
type OutputTyping struct {
	RoomID string  `json:"room_id"`
	Typers []Typer `json:"typers"`
}

// Typer is a user typing until ExpiresTS (ms since the epoch); a consumer that outlives
// the eduserver's stop record hides them after it.
type Typer struct {
	UserID    string `json:"user_id"`
	ExpiresTS int64  `json:"expires_ts"`
}

// OutputReceipt is one stored receipt.
type OutputReceipt struct {
	RoomID   string `json:"room_id"`
	UserID   string `json:"user_id"`
	Type     string `json:"type"`
	EventID  string `json:"event_id"`
	ThreadID string `json:"thread_id,omitempty"`
	TS       int64  `json:"ts"`
}

// OutputToDevice is one to-device message for one device of a local user.
type OutputToDevice struct {
	Sender   string          `json:"sender"`
	Type     string          `json:"type"`
	UserID   string          `json:"user_id"`
	DeviceID string          `json:"device_id"`
	Content  json.RawMessage `json:"content"`
}

// OutputPresence is a user's presence after a change of state, status message or
// currently_active (key: the user ID). Activity alone (a /sync of an online user) moves
// last_active_ts in the eduserver but publishes nothing.
type OutputPresence struct {
	UserID          string  `json:"user_id"`
	Presence        string  `json:"presence"`
	StatusMsg       *string `json:"status_msg,omitempty"`
	LastActiveTS    int64   `json:"last_active_ts"`
	CurrentlyActive bool    `json:"currently_active"`
}
