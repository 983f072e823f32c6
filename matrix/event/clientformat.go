package event

import (
	"encoding/json"
)

// ClientFormat chooses the client-server shape of an event.
type ClientFormat int

const (
	// ClientFormatClient is the full ClientEvent, with room_id (e.g. /messages, /event).
	ClientFormatClient ClientFormat = iota + 1
	// ClientFormatSync omits room_id, as in /sync where the room is the enclosing key.
	ClientFormatSync
)

// ClientEvent is an event as the client-server API shows it.
type ClientEvent struct {
	Content        json.RawMessage `json:"content"`
	EventID        string          `json:"event_id"`
	OriginServerTS int64           `json:"origin_server_ts"`
	RoomID         string          `json:"room_id,omitempty"`
	Sender         string          `json:"sender"`
	StateKey       *string         `json:"state_key,omitempty"`
	Type           string          `json:"type"`
	Unsigned       json.RawMessage `json:"unsigned,omitempty"`
	// Redacts is set for m.room.redaction in every room version; from v11 it is also in
	// content, and clients of either kind find it.
	Redacts string `json:"redacts,omitempty"`
}

// ToClientEvent converts an event to the client-server format. The event's "unsigned"
// (e.g. age, prev_content, redacted_because added by the server) is passed on as is.
func ToClientEvent(e *Event, format ClientFormat) ClientEvent {
	ce := ClientEvent{
		Content:        e.Content(),
		EventID:        e.EventID(),
		OriginServerTS: e.OriginServerTS(),
		Sender:         e.Sender(),
		StateKey:       e.StateKey(),
		Type:           e.Type(),
		Unsigned:       e.Unsigned(),
	}
	if format != ClientFormatSync {
		ce.RoomID = e.RoomID()
	}
	if e.Type() == "m.room.redaction" {
		ce.Redacts = e.Redacts()
	}
	return ce
}

// ToClientEvents converts a list of events.
func ToClientEvents(events []*Event, format ClientFormat) []ClientEvent {
	out := make([]ClientEvent, len(events))
	for i, e := range events {
		out[i] = ToClientEvent(e, format)
	}
	return out
}
