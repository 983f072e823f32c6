// Package syncv3 is the engine of sync v3, the stream API served on POST
// /_matrix/client/v3/sync (docs/sync-v3.md): the protocol types, the token, the stored
// sessions with their sticky parameters, the long-poll loop and the streams, written
// against a Source so that the syncapi (syncapi/internal/v3source*.go) and
// axon-syncv3-proxy (syncv3proxy/source*.go, over another homeserver's spec /sync) both
// serve it.
package syncv3

import (
	"encoding/json"
	"net/http"

	"github.com/axon-matrix/axon/internal/httputil"
)

// Stream names, as they appear in requests and responses.
const (
	StreamTyping      = "typing"
	StreamToDevice    = "to_device"
	StreamRoomMembers = "room_members"
	StreamRoom        = "room"
	StreamRoomList    = "room_list"
)

// Request is the body of POST /sync: one object per stream the client wants. Unknown
// streams are refused (M_INVALID_PARAM) so that a misspelt name never silently returns
// nothing.
type Request struct {
	Typing      *TypingRequest      `json:"typing,omitempty"`
	ToDevice    *ToDeviceRequest    `json:"to_device,omitempty"`
	RoomMembers *RoomMembersRequest `json:"room_members,omitempty"`
	Room        *RoomRequest        `json:"room,omitempty"`
	RoomList    *RoomListRequest    `json:"room_list,omitempty"`
}

// P is a paginated stream's `p` object, in a request (limit, sort, since) and in a
// response (the negotiated limit and sort, and next).
type P struct {
	Limit int    `json:"limit,omitempty"`
	Sort  string `json:"sort,omitempty"`
	// Since is the page to read: FirstPage, or a previous response's Next.
	Since string `json:"since,omitempty"`
	// Next names the following page of the snapshot; empty on the last page.
	Next string `json:"next,omitempty"`
}

// FirstPage is the p.since sentinel of the first page of a snapshot.
const FirstPage = "1"

// TypingRequest are the typing stream's parameters.
type TypingRequest struct {
	RoomID string `json:"room_id,omitempty"`
}

// ToDeviceRequest are the to_device stream's parameters.
type ToDeviceRequest struct {
	// Limit is the most messages one response carries (negotiated: at most MaxToDeviceLimit).
	Limit int `json:"limit,omitempty"`
}

// RoomMembersRequest are the room_members stream's parameters.
type RoomMembersRequest struct {
	RoomID string `json:"room_id,omitempty"`
	P      *P     `json:"p,omitempty"`
}

// Response is the body of a POST /sync answer: the streams with something to say, and the
// token of the next request.
type Response struct {
	Typing      *EventsResponse      `json:"typing,omitempty"`
	ToDevice    *ToDeviceResponse    `json:"to_device,omitempty"`
	RoomMembers *RoomMembersResponse `json:"room_members,omitempty"`
	Room        *RoomResponse        `json:"room,omitempty"`
	RoomList    *RoomListResponse    `json:"room_list,omitempty"`
	Next        string               `json:"next"`
}

// EventsResponse is a stream answer that is only a list of events.
type EventsResponse struct {
	Events []json.RawMessage `json:"events"`
}

// ToDeviceResponse is the to_device stream's answer; Limit is the negotiated limit.
type ToDeviceResponse struct {
	Events []json.RawMessage `json:"events"`
	Limit  int               `json:"limit"`
}

// RoomMembersResponse is the room_members stream's answer: a page of the snapshot (P set:
// the negotiated limit and sort, and next) or the member events changed since `?since=`.
type RoomMembersResponse struct {
	P      *P                `json:"p,omitempty"`
	Events []json.RawMessage `json:"events"`
}

// isEmpty reports whether r carries nothing for the client.
func (r *Response) isEmpty() bool {
	return r.Typing == nil && r.ToDevice == nil && r.RoomMembers == nil && r.Room == nil && r.RoomList == nil
}

// RoomRequest are the room stream's parameters.
type RoomRequest struct {
	RoomID string `json:"room_id,omitempty"`
	// TimelineLimit is the most timeline events of a delta or a page (negotiated).
	TimelineLimit int `json:"timeline_limit,omitempty"`
	// RequiredState lists the state wanted as [type, state_key] pairs; "*" matches any.
	RequiredState [][]string `json:"required_state,omitempty"`
	P             *P         `json:"p,omitempty"`
}

// RoomResponse is the room stream's answer: timeline events oldest first; state, the
// required state (at the snapshot on a first page, the changes of a delta); limited, when
// a delta had more new events than the timeline limit; P on a page.
type RoomResponse struct {
	P        *P                `json:"p,omitempty"`
	Timeline []json.RawMessage `json:"timeline"`
	State    []json.RawMessage `json:"state,omitempty"`
	Limited  bool              `json:"limited,omitempty"`
}

// ErrUnknownSession is the answer to a since token whose session is unknown, expired, of
// another device, or malformed (the seed's M_UNKNOWN_SYNC_SESSION): the client starts a new
// session by calling again without since.
func ErrUnknownSession() *httputil.MatrixError {
	return &httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: "M_UNKNOWN_SYNC_SESSION", Err: "Session unknown or expired"}
}
