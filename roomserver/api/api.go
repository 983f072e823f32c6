// Package api is the roomserver's contract: arrow 4 (clientapi → roomserver: computing and
// sending new events, serving /state), arrow 2 (syncapi → roomserver: backfill) and, with
// federation, arrow 3. Its outputs are topic 2 (→ syncapi), topic 4 (→ clientapi) and
// topic 6 (→ federationsender), described in output.go.
//
// Errors meant for clients are *httputil.MatrixError (M_FORBIDDEN when auth rules reject an
// event, M_NOT_FOUND for an unknown room, ...), so they keep their errcode end to end.
package api

import (
	"context"
	"encoding/json"
)

// RoomserverAPI is the roomserver's interface.
type RoomserverAPI interface {
	// CreateRoom creates a room on behalf of a local user (POST /createRoom).
	CreateRoom(ctx context.Context, req *CreateRoomRequest) (*CreateRoomResponse, error)
	// SendEvent builds, signs, authorises and stores one event sent by a local user: a
	// message (StateKey nil) or a state event. A repeated (Sender, DeviceID, TxnID) returns
	// the first event's ID without sending again.
	SendEvent(ctx context.Context, req *SendEventRequest) (*SendEventResponse, error)
	// PerformMembership joins, leaves, invites, kicks, bans, unbans or knocks.
	PerformMembership(ctx context.Context, req *MembershipRequest) (*SendEventResponse, error)
	// Forget hides a room the user has left from their /sync (POST /forget). It fails with
	// M_UNKNOWN (400) while the user is still joined or invited.
	Forget(ctx context.Context, roomID, userID string) error

	// QueryMembership returns the user's current membership in a room ("" if none) and the
	// ID of that membership event. M_NOT_FOUND if the room is unknown.
	QueryMembership(ctx context.Context, roomID, userID string) (membership, eventID string, err error)
	// QueryCurrentState returns the room's current state events (federation format JSON),
	// filtered to the given tuples when tuples is non-empty.
	QueryCurrentState(ctx context.Context, roomID string, tuples []StateTuple) ([]json.RawMessage, error)
	// QueryStateForUser serves GET /rooms/{roomId}/state[/{type}/{key}]: the current state if
	// the user is joined, the state at their leave if they left, M_FORBIDDEN otherwise.
	QueryStateForUser(ctx context.Context, roomID, userID string, tuples []StateTuple) ([]json.RawMessage, error)
	// QueryEvent returns an event by ID (federation format JSON) and its room version, or M_NOT_FOUND.
	QueryEvent(ctx context.Context, eventID string) (*EventJSON, error)
	// QueryEventsByID returns the stored events among eventIDs (at most MaxQueryEvents),
	// keyed by ID; unknown and rejected ones are left out (QueryEvent for many events in
	// one call: arrow 2, the state of a room joined over federation).
	QueryEventsByID(ctx context.Context, eventIDs []string) (map[string]EventJSON, error)
	// QueryRoomVersion returns a known room's version, or M_NOT_FOUND.
	QueryRoomVersion(ctx context.Context, roomID string) (string, error)
	// QueryRoomsForUser lists the rooms in which the user's membership is one of memberships.
	QueryRoomsForUser(ctx context.Context, userID string, memberships []string) ([]string, error)
	// QueryWritePosition is read-your-writes (arrow 2, syncapi → roomserver): the newest
	// topic 2 stream position among the writes already acknowledged in roomID (when not
	// "") and among userID's own writes — events they sent and membership events naming
	// them — (when not ""), the larger of the two. A sync instance that serves that
	// position reflects all of them. Unknown rooms and users are not an error: the answer
	// then covers every write made before the roomserver started.
	QueryWritePosition(ctx context.Context, roomID, userID string) (int64, error)

	// Aliases and the directory
	SetRoomAlias(ctx context.Context, alias, roomID, userID string) error // M_UNKNOWN 409 if taken
	ResolveRoomAlias(ctx context.Context, alias string) (roomID string, servers []string, err error)
	RemoveRoomAlias(ctx context.Context, alias, userID string) error
	GetAliasesForRoom(ctx context.Context, roomID string) ([]string, error)
	SetRoomVisibility(ctx context.Context, roomID, userID, visibility string) error // "public" | "private"
	GetRoomVisibility(ctx context.Context, roomID string) (string, error)
	QueryPublicRooms(ctx context.Context, req *PublicRoomsRequest) (*PublicRoomsResponse, error)
	// QueryHierarchy serves GET /rooms/{roomId}/hierarchy (types in spaces.go): the space
	// tree below the room, depth first, of the rooms the user may peek or join, rooms this
	// server does not hold asked of their servers (arrow 17 → 7). M_FORBIDDEN when the
	// user may not see the room; M_INVALID_PARAM for an unknown or mismatched From.
	QueryHierarchy(ctx context.Context, req *HierarchyRequest) (*HierarchyResponse, error)
	// QueryFederationHierarchy serves GET /_matrix/federation/v1/hierarchy/{roomId} (arrow
	// 3): the room and its children held here as the origin server may see them;
	// M_NOT_FOUND when the room is not held here or the origin may not see it.
	QueryFederationHierarchy(ctx context.Context, req *FederationHierarchyRequest) (*FederationHierarchyResponse, error)

	// Arrow 3 (federationapi → roomserver), types in federation.go.

	// InputFederationEvents stores events another server sent (PUT /send/{txnId}): each
	// authorised against its auth_events and against the state before it, rejected or
	// soft-failed as the spec says; accepted ones extend the room and go to topic 2.
	// M_NOT_FOUND if the room is unknown.
	InputFederationEvents(ctx context.Context, req *InputFederationEventsRequest) (*InputFederationEventsResponse, error)
	// QueryMakeJoin returns a join template for a remote user (GET /make_join):
	// M_NOT_FOUND for an unknown room, M_INCOMPATIBLE_ROOM_VERSION when the room's version
	// is not among req.Versions, M_FORBIDDEN when the auth rules would refuse the join.
	QueryMakeJoin(ctx context.Context, req *MakeJoinRequest) (*MakeJoinResponse, error)
	// PerformSendJoin stores a remote user's join (PUT /send_join) after the auth rules
	// and returns the state and auth chain before it; M_FORBIDDEN if it is refused.
	PerformSendJoin(ctx context.Context, req *SendJoinRequest) (*SendJoinResponse, error)
	// QueryStateAndAuthChain returns the state before an event of the room and its auth
	// chain (GET /state, /state_ids); M_NOT_FOUND if the event is not in the room.
	QueryStateAndAuthChain(ctx context.Context, req *StateAndAuthChainRequest) (*StateAndAuthChain, error)
	// QueryMissingEvents serves POST /get_missing_events: the ancestors of the latest
	// events back to the earliest ones (types in federation.go); M_NOT_FOUND for an
	// unknown room.
	QueryMissingEvents(ctx context.Context, req *MissingEventsRequest) (*MissingEventsResponse, error)
	// QueryServerAllowedInRoom says whether serverName may read the room over federation:
	// one of its users is joined, or the room's history is world_readable.
	QueryServerAllowedInRoom(ctx context.Context, roomID, serverName string) (bool, error)
	// PerformInboundInvite stores another server's invite of a local user (PUT /invite)
	// and returns it countersigned by this server: in a room this server holds, as an
	// event of the room; otherwise as an outlier whose membership (invite) and topic 2
	// record, with the stripped state in unsigned.invite_room_state, put the room in the
	// user's /sync invite section. M_FORBIDDEN when the invite is not for a local user
	// or the auth rules refuse it.
	PerformInboundInvite(ctx context.Context, req *InboundInviteRequest) (*InboundInviteResponse, error)
	// QueryAuthChain serves GET /event_auth: the auth chain of an event of the room (types
	// in history.go); M_NOT_FOUND when the event is not in the room.
	QueryAuthChain(ctx context.Context, req *AuthChainRequest) (*AuthChainResponse, error)
	// QueryBackfill serves GET /backfill: the given events of the room and their
	// ancestors through prev_events, at most Limit (100 at most), newest first; events
	// the asking server may not see are redacted. M_NOT_FOUND for an unknown room.
	QueryBackfill(ctx context.Context, req *BackfillRequest) (*BackfillResponse, error)
	// QueryEventByTimestamp serves timestamp_to_event: the room's event (not an outlier,
	// not rejected) closest to a time in a direction; M_NOT_FOUND when there is none.
	QueryEventByTimestamp(ctx context.Context, req *EventByTimestampRequest) (*EventByTimestampResponse, error)
	// PerformBackfill is arrow 2's backfill (syncapi → roomserver, types in history.go):
	// the room's events before the given ones, newest first, fetched from the other
	// servers in the room (arrow 17) past what this server holds, checked and stored as
	// backfilled history. M_NOT_FOUND for an unknown room.
	PerformBackfill(ctx context.Context, req *BackfillHistoryRequest) (*BackfillHistoryResponse, error)
}

// StateTuple names one piece of state.
type StateTuple struct {
	EventType string `json:"type"`
	StateKey  string `json:"state_key"`
}

// MaxQueryEvents bounds the event IDs of one QueryEventsByID call (M_INVALID_PARAM above).
const MaxQueryEvents = 1000

// EventJSON is a stored event with its room version.
type EventJSON struct {
	RoomVersion string          `json:"room_version"`
	Event       json.RawMessage `json:"event"`
	// Redacted is true when the stored event has been redacted (Event is then the redacted form).
	Redacted bool `json:"redacted,omitempty"`
}

// CreateRoomRequest is POST /createRoom, already parsed by the clientapi.
type CreateRoomRequest struct {
	UserID                    string            `json:"user_id"`
	RoomVersion               string            `json:"room_version,omitempty"` // "" = matrix.DefaultRoomVersion
	Preset                    string            `json:"preset,omitempty"`       // private_chat | trusted_private_chat | public_chat
	Visibility                string            `json:"visibility,omitempty"`   // public | private
	Name                      string            `json:"name,omitempty"`
	Topic                     string            `json:"topic,omitempty"`
	RoomAliasName             string            `json:"room_alias_name,omitempty"`
	Invite                    []string          `json:"invite,omitempty"`
	IsDirect                  bool              `json:"is_direct,omitempty"`
	CreationContent           json.RawMessage   `json:"creation_content,omitempty"`
	InitialState              []InitialStateEvt `json:"initial_state,omitempty"`
	PowerLevelContentOverride json.RawMessage   `json:"power_level_content_override,omitempty"`
	// CreatorMemberContent holds extra keys for the creator's join event (displayname,
	// avatar_url from their profile), like MembershipRequest.Content. Optional.
	CreatorMemberContent json.RawMessage `json:"creator_member_content,omitempty"`
}

// InitialStateEvt is one entry of createRoom's initial_state.
type InitialStateEvt struct {
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

// CreateRoomResponse is the new room.
type CreateRoomResponse struct {
	RoomID    string `json:"room_id"`
	RoomAlias string `json:"room_alias,omitempty"`
}

// SendEventRequest asks for one local event.
type SendEventRequest struct {
	RoomID   string          `json:"room_id"`
	Sender   string          `json:"sender"`
	DeviceID string          `json:"device_id,omitempty"`
	TxnID    string          `json:"txn_id,omitempty"` // for idempotency and unsigned.transaction_id
	Type     string          `json:"type"`
	StateKey *string         `json:"state_key,omitempty"`
	Content  json.RawMessage `json:"content"`
	Redacts  string          `json:"redacts,omitempty"` // for m.room.redaction
	// Timestamp, when positive, is the event's origin_server_ts in milliseconds instead of
	// now: an application service's ?ts= (the clientapi allows it for as_tokens only).
	Timestamp int64 `json:"timestamp,omitempty"`
}

// SendEventResponse names the stored event.
type SendEventResponse struct {
	EventID string `json:"event_id"`
	RoomID  string `json:"room_id,omitempty"`
}

// MembershipRequest is join / leave / invite / kick / ban / unban / knock.
type MembershipRequest struct {
	Action   string          `json:"action"`  // join | leave | invite | kick | ban | unban | knock
	RoomID   string          `json:"room_id"` // for join/knock this may be an alias (#a:b), resolved first
	Sender   string          `json:"sender"`
	Target   string          `json:"target,omitempty"` // for invite/kick/ban/unban
	Reason   string          `json:"reason,omitempty"`
	DeviceID string          `json:"device_id,omitempty"`
	Content  json.RawMessage `json:"content,omitempty"` // extra content keys (e.g. displayname overrides)
	// ServerNames are the servers to ask when joining a room this server does not hold
	// (the client's server_name / via parameters, then the room ID's server).
	ServerNames []string `json:"server_names,omitempty"`
}

// PublicRoomsRequest is the local public room directory query.
type PublicRoomsRequest struct {
	Limit  int    `json:"limit,omitempty"`
	Since  string `json:"since,omitempty"`
	Filter string `json:"filter,omitempty"` // generic_search_term
	// ListedRoomIDs are rooms application services list for third-party networks (the
	// clientapi reads them from the appservice component), shown whatever their
	// visibility after the published rooms (include_all_networks); with OnlyListed they
	// alone (third_party_instance_id).
	ListedRoomIDs []string `json:"listed_room_ids,omitempty"`
	OnlyListed    bool     `json:"only_listed,omitempty"`
	// Server, when another server's name, asks that server's directory instead (arrow 17
	// → 7, GET /publicRooms?server=) with Limit, Since, Filter and the fields below.
	Server               string    `json:"server,omitempty"`
	RoomTypes            []*string `json:"room_types,omitempty"`
	IncludeAllNetworks   bool      `json:"include_all_networks,omitempty"`
	ThirdPartyInstanceID string    `json:"third_party_instance_id,omitempty"`
}

// PublicRoom is one directory entry (the spec's PublishedRoomsChunk).
type PublicRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	AvatarURL        string `json:"avatar_url,omitempty"`
	NumJoinedMembers int    `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	JoinRule         string `json:"join_rule,omitempty"`
	RoomType         string `json:"room_type,omitempty"`
}

// PublicRoomsResponse is a page of the directory.
type PublicRoomsResponse struct {
	Chunk     []PublicRoom `json:"chunk"`
	NextBatch string       `json:"next_batch,omitempty"`
	PrevBatch string       `json:"prev_batch,omitempty"`
	Total     int          `json:"total_room_count_estimate"`
}
