// Package api is the federationsender's contract (Tier 2). Its inputs are topic 6 (new
// events of local senders, roomserver/api.OutputFederationEvent) and, later, topic 5
// (EDUs); arrow 17 (roomserver → federationsender) asks it to act on rooms this server
// does not hold yet: joins through make_join/send_join, leaves (rejected invites) through
// make_leave/send_leave, knocks through make_knock/send_knock, and invites of remote users
// countersigned through invite v2.
//
// Errors meant for clients are *httputil.MatrixError (M_NOT_FOUND when no server knows
// the room, M_FORBIDDEN when the remote server refuses the join, M_UNKNOWN otherwise), so
// they keep their errcode end to end.
package api

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/matrix"
)

// FederationSenderAPI is the federationsender's interface.
type FederationSenderAPI interface {
	// PerformJoin joins a local user to a room held by other servers (arrow 17): it asks
	// the servers in ServerNames in turn for a join template (make_join, offering every
	// room version this server supports), builds and signs the join event with this
	// server's key, sends it (send_join v2) and verifies the answer: every returned state
	// and auth chain event's content hash and signatures (arrow 12, serverkeyapi), and the
	// join event itself. It does not store anything: the roomserver stores the room.
	PerformJoin(ctx context.Context, req *PerformJoinRequest) (*PerformJoinResponse, error)
	// PerformInvite has an invite of another server's user countersigned (arrow 17): it
	// sends the invite event, signed by this server, to the invitee's server (PUT
	// /invite/v2) and returns the event with that server's signature added, checked.
	// M_FORBIDDEN when that server refuses the invite.
	PerformInvite(ctx context.Context, req *PerformInviteRequest) (*PerformInviteResponse, error)
	// PerformLeave leaves (rejects an invite to) a room this server does not hold for a
	// local user (arrow 17): make_leave, then send_leave v2 (v1 when v2 is unknown), with
	// each server of ServerNames in turn until one accepts. It returns the leave as sent.
	PerformLeave(ctx context.Context, req *PerformLeaveRequest) (*PerformLeaveResponse, error)
	// PerformKnock knocks on a room this server does not hold for a local user (arrow 17):
	// make_knock (offering every room version this server supports), the knock built and
	// signed with this server's key, then send_knock, with each server of ServerNames in
	// turn until one accepts. It returns the knock as sent and the room's stripped state.
	PerformKnock(ctx context.Context, req *PerformKnockRequest) (*PerformKnockResponse, error)
}

// PerformKnockRequest is a local user's knock on a room held by other servers.
type PerformKnockRequest struct {
	RoomID      string   `json:"room_id"`
	UserID      string   `json:"user_id"`
	ServerNames []string `json:"server_names"`
	// Content is merged into the knock's content (reason, displayname); membership stays
	// "knock".
	Content json.RawMessage `json:"content,omitempty"`
}

// PerformKnockResponse is the knock the remote server accepted and its answer.
type PerformKnockResponse struct {
	RoomVersion    string            `json:"room_version"`
	Event          json.RawMessage   `json:"event"`
	KnockRoomState []json.RawMessage `json:"knock_room_state"`
}

// PerformInviteRequest is an invite of a remote user, built and signed by the roomserver.
type PerformInviteRequest struct {
	RoomVersion string          `json:"room_version"`
	Event       json.RawMessage `json:"event"`
	// InviteRoomState is stripped state that helps the invitee recognise the room.
	InviteRoomState []json.RawMessage `json:"invite_room_state,omitempty"`
}

// PerformInviteResponse is the invite with the invitee's server's signature.
type PerformInviteResponse struct {
	Event json.RawMessage `json:"event"`
}

// PerformLeaveRequest is a local user's leave of a room held by other servers.
type PerformLeaveRequest struct {
	RoomID      string   `json:"room_id"`
	UserID      string   `json:"user_id"`
	ServerNames []string `json:"server_names"`
}

// PerformLeaveResponse is the leave event the remote server accepted.
type PerformLeaveResponse struct {
	RoomVersion string          `json:"room_version"`
	Event       json.RawMessage `json:"event"`
}

// PerformJoinRequest is a local user's join of a remote room.
type PerformJoinRequest struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	// ServerNames are the servers to ask, in order (the clientapi's server_name / via
	// parameters, then the room ID's own server when it has one).
	ServerNames []string `json:"server_names"`
	// Content is merged into the join event's content (displayname, avatar_url, reason);
	// membership stays "join".
	Content json.RawMessage `json:"content,omitempty"`
}

// PerformJoinResponse is what the roomserver needs to store the joined room.
type PerformJoinResponse struct {
	RoomVersion string          `json:"room_version"`
	Origin      string          `json:"origin"`     // the server that accepted the join
	JoinEvent   json.RawMessage `json:"join_event"` // as accepted (the remote server's signature added when it returned one)
	// StateEvents is the room's state before the join event; AuthChain the auth events
	// of all of them, recursively. Both verified; order as the remote server sent them.
	StateEvents []json.RawMessage `json:"state"`
	AuthChain   []json.RawMessage `json:"auth_chain"`
	// StateEventIDs and AuthChainIDs are the IDs of StateEvents and AuthChain, index for
	// index. The federationsender computed them while checking each event's format,
	// content hash and signatures, and every JSON above is the canonical form it checked
	// (redacted where the content hash did not match): the roomserver, an internal
	// component behind the same trust boundary, reads these events as trusted and does not
	// hash them again. Absent (an older federationsender), it parses them as untrusted.
	StateEventIDs []string `json:"state_event_ids,omitempty"`
	AuthChainIDs  []string `json:"auth_chain_ids,omitempty"`
	// StateParsed and AuthChainParsed are the same events already parsed, index for index:
	// only within one process (the monolith's direct API); never on the wire.
	StateParsed     []matrix.PDU `json:"-"`
	AuthChainParsed []matrix.PDU `json:"-"`
}
