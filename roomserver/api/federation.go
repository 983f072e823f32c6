package api

import "encoding/json"

// This file holds arrow 3 (federationapi → roomserver): events other servers send us, the
// join handshake a remote server makes with us (make_join, send_join), and the state
// queries of /state and /state_ids. The federationapi has checked each event's
// signatures (arrow 11) and content hash before it calls the roomserver; the roomserver
// applies the auth rules.

// FederationEvent is one event received over federation: its ID (computed by the
// federationapi for room versions 3+) and its JSON, as checked (the redacted form when
// its content hash did not match).
type FederationEvent struct {
	EventID string          `json:"event_id"`
	JSON    json.RawMessage `json:"event"`
	// PrevStates are, for prev_events this server lacks after get_missing_events (a gap),
	// the state after each as the origin reported it (its /state at the prev event, plus
	// the prev event itself when it is a state event), as event IDs by prev event ID.
	// With a state for every missing prev event, the event is checked against those
	// states resolved with the states after the prev events held (matrix/stateres), and
	// the room's current state is resolved again with it (InputFederationEvents). Only
	// for InputFederationEvents; empty: missing prev_events are reported.
	PrevStates map[string][]string `json:"prev_states,omitempty"`
	// Outliers are the events of PrevStates and their auth chains (signatures checked by
	// the caller); those not held are stored as outliers, each authorised against its own
	// auth events (refused ones stored as rejected and left out of the states). Without
	// PrevStates they are the event's auth chain (after MissingAuthEvents): those in it are
	// stored the same way before the event is checked.
	Outliers []json.RawMessage `json:"outliers,omitempty"`
}

// InputFederationEventsRequest is arrow 3's input of the PDUs of one room from one
// transaction (PUT /send/{txnId}), in the order they should be tried.
type InputFederationEventsRequest struct {
	Origin string            `json:"origin"`
	RoomID string            `json:"room_id"`
	Events []FederationEvent `json:"events"`
}

// InputFederationEventsResponse has one result per input event, in order.
type InputFederationEventsResponse struct {
	Results []FederationEventResult `json:"results"`
}

// FederationEventResult is the verdict on one received event. Error is "" when the event
// was stored and accepted (also when it was stored before). Rejected events (auth rules)
// are stored as rejected and never reach clients; SoftFailed ones are stored but not
// offered to clients nor built on. MissingPrevEvents lists prev_events the roomserver does
// not hold: the event was not stored, and the caller may fetch them (get_missing_events)
// and input the event again.
type FederationEventResult struct {
	EventID           string   `json:"event_id"`
	Error             string   `json:"error,omitempty"`
	Rejected          bool     `json:"rejected,omitempty"`
	SoftFailed        bool     `json:"soft_failed,omitempty"`
	MissingPrevEvents []string `json:"missing_prev_events,omitempty"`
	// ForwardExtremities are the room's forward extremities when prev_events are missing:
	// the earliest_events of a get_missing_events request.
	ForwardExtremities []string `json:"forward_extremities,omitempty"`
	// MissingAuthEvents lists auth_events the roomserver does not hold (the event was not
	// stored): the caller may fetch the event's auth chain (/event_auth) and input the
	// event again with it as Outliers (without PrevStates).
	MissingAuthEvents []string `json:"missing_auth_events,omitempty"`
}

// MakeJoinRequest is GET /make_join/{roomId}/{userId}: Versions are the room versions the
// joining server supports (its "ver" parameters; empty means only "1").
type MakeJoinRequest struct {
	RoomID   string   `json:"room_id"`
	UserID   string   `json:"user_id"`
	Versions []string `json:"versions"`
	// Membership is "join" (or empty) for make_join, "leave" for make_leave (Versions
	// unused), "knock" for make_knock.
	Membership string `json:"membership,omitempty"`
}

// MakeJoinResponse is the join template: an unsigned event with prev_events, auth_events
// and depth filled in, and the room's version.
type MakeJoinResponse struct {
	RoomVersion string          `json:"room_version"`
	Event       json.RawMessage `json:"event"`
}

// SendJoinRequest is PUT /send_join/{roomId}/{eventId}: the remote user's signed join.
type SendJoinRequest struct {
	Origin string          `json:"origin"`
	RoomID string          `json:"room_id"`
	Event  FederationEvent `json:"event"`
	// Membership is "join" (or empty) for send_join, "knock" for send_knock (whose answer
	// is KnockRoomState), "leave" for send_leave (whose answer
	// has no state).
	Membership string `json:"membership,omitempty"`
}

// InboundInviteRequest is PUT /invite/v1|v2 for a user of this server: the invite,
// signed by the inviting server (signatures already checked by the federationapi), and
// the stripped state that came with it.
type InboundInviteRequest struct {
	RoomVersion     string            `json:"room_version"`
	Event           json.RawMessage   `json:"event"`
	InviteRoomState []json.RawMessage `json:"invite_room_state,omitempty"`
}

// InboundInviteResponse is the invite with this server's signature added.
type InboundInviteResponse struct {
	Event json.RawMessage `json:"event"`
}

// StateAndAuthChain is the room state before an event (as full events or as IDs) and the
// auth chain of that state and of the event.
type StateAndAuthChain struct {
	RoomVersion  string            `json:"room_version"`
	StateEvents  []json.RawMessage `json:"state,omitempty"`
	AuthChain    []json.RawMessage `json:"auth_chain,omitempty"`
	StateIDs     []string          `json:"state_ids,omitempty"`
	AuthChainIDs []string          `json:"auth_chain_ids,omitempty"`
}

// SendJoinResponse is the answer to a send_join: the join as stored (with this server's
// signature added when one of its users authorised a restricted join) and the state and
// auth chain before it.
type SendJoinResponse struct {
	StateAndAuthChain
	Event json.RawMessage `json:"event"`
	// KnockRoomState answers a send_knock (Membership "knock"): the room's state events
	// a knocking user's client shows (create, join rules, name, avatar, canonical alias,
	// encryption, topic), stripped.
	KnockRoomState []json.RawMessage `json:"knock_room_state,omitempty"`
}

// StateAndAuthChainRequest asks for the state before EventID in RoomID (GET /state,
// /state_ids); IDsOnly answers with IDs.
type StateAndAuthChainRequest struct {
	RoomID  string `json:"room_id"`
	EventID string `json:"event_id"`
	IDsOnly bool   `json:"ids_only,omitempty"`
}

// MissingEventsRequest is POST /get_missing_events/{roomId}: the ancestors of
// LatestEvents that the asking server lacks, walking prev_events back and stopping at
// EarliestEvents, at most Limit of them, none below MinDepth.
type MissingEventsRequest struct {
	RoomID         string   `json:"room_id"`
	EarliestEvents []string `json:"earliest_events"`
	LatestEvents   []string `json:"latest_events"`
	Limit          int      `json:"limit"`
	MinDepth       int64    `json:"min_depth"`
}

// MissingEventsResponse holds the events found, oldest (lowest depth) first.
type MissingEventsResponse struct {
	Events []json.RawMessage `json:"events"`
}
