package api

import "encoding/json"

// This file holds the history queries of arrow 3 (federationapi → roomserver) that other
// servers make of a room's DAG: /event_auth, /backfill and /timestamp_to_event.

// AuthChainRequest is GET /event_auth/{roomId}/{eventId}: the auth chain of one event.
type AuthChainRequest struct {
	RoomID  string `json:"room_id"`
	EventID string `json:"event_id"`
}

// AuthChainResponse is the event's auth events, theirs, and so on (not the event itself).
type AuthChainResponse struct {
	AuthChain []json.RawMessage `json:"auth_chain"`
}

// BackfillRequest is GET /backfill/{roomId}?v=…&limit=…: the given events and those before
// them, for Server (whose visibility of each event is checked).
type BackfillRequest struct {
	RoomID   string   `json:"room_id"`
	EventIDs []string `json:"event_ids"`
	Limit    int      `json:"limit"`
	// Server is the asking server: an event its users could not see (history visibility
	// joined or invited at the event, and none of its users joined, or invited, then) is
	// given in its redacted form.
	Server string `json:"server"`
}

// BackfillResponse holds the events found, newest (highest depth) first.
type BackfillResponse struct {
	Events []json.RawMessage `json:"events"`
}

// EventByTimestampRequest is timestamp_to_event: the event of the room closest to TS in
// direction Dir ("f": at or after it, "b": at or before it).
type EventByTimestampRequest struct {
	RoomID string `json:"room_id"`
	TS     int64  `json:"ts"`
	Dir    string `json:"dir"`
}

// EventByTimestampResponse names the event found.
type EventByTimestampResponse struct {
	EventID        string `json:"event_id"`
	OriginServerTS int64  `json:"origin_server_ts"`
}

// BackfillHistoryRequest is arrow 2's backfill (syncapi → roomserver): up to Limit events
// of the room from before EventIDs (the earliest events the caller holds; not returned
// themselves), from this server's store and, past what it holds, from the other servers in
// the room (arrow 17).
type BackfillHistoryRequest struct {
	RoomID   string   `json:"room_id"`
	EventIDs []string `json:"event_ids"`
	Limit    int      `json:"limit"`
}

// BackfillHistoryResponse holds the events found, newest (highest depth) first, in the
// federation format of RoomVersion. Fetched events were stored as backfilled history
// (outliers: never live, never on topic 2 or topic 6).
type BackfillHistoryResponse struct {
	RoomVersion string            `json:"room_version"`
	Events      []json.RawMessage `json:"events"`
	// EventIDs are the events' IDs, in the same order (room versions 3+ carry none).
	EventIDs []string `json:"event_ids"`
	// Fetched counts the events that came from other servers.
	Fetched int `json:"fetched"`
}
