// Package inthttp carries api.RoomserverAPI over internal HTTP for the polylith, on the
// shared transport of internal/inthttp: Client implements the interface by POSTing JSON to
// the roomserver binary's /api/roomserver/…, and AddRoutes serves those paths from the
// direct implementation. It is arrow 4 (clientapi → roomserver) and, later, arrows 2 and 3,
// over the network. Errors keep their Matrix errcode and status end to end.
package inthttp

import "encoding/json"

// Paths of the internal API, below internal/inthttp.PathPrefix (/api).
const (
	pathPrefix           = "/roomserver"
	pathCreateRoom       = pathPrefix + "/createRoom"
	pathSendEvent        = pathPrefix + "/sendEvent"
	pathPerformMember    = pathPrefix + "/performMembership"
	pathForget           = pathPrefix + "/forget"
	pathQueryMembership  = pathPrefix + "/queryMembership"
	pathQueryState       = pathPrefix + "/queryCurrentState"
	pathQueryStateUser   = pathPrefix + "/queryStateForUser"
	pathQueryEvent       = pathPrefix + "/queryEvent"
	pathQueryVersion     = pathPrefix + "/queryRoomVersion"
	pathQueryRoomsUser   = pathPrefix + "/queryRoomsForUser"
	pathQueryWritePos    = pathPrefix + "/queryWritePosition"
	pathSetAlias         = pathPrefix + "/setRoomAlias"
	pathResolveAlias     = pathPrefix + "/resolveRoomAlias"
	pathRemoveAlias      = pathPrefix + "/removeRoomAlias"
	pathAliasesForRoom   = pathPrefix + "/getAliasesForRoom"
	pathSetVisibility    = pathPrefix + "/setRoomVisibility"
	pathGetVisibility    = pathPrefix + "/getRoomVisibility"
	pathQueryPublicRooms = pathPrefix + "/queryPublicRooms"
)

// Request and response bodies of the methods whose arguments are not one api struct.

type roomUserReq struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
}

type membershipResp struct {
	Membership string `json:"membership"`
	EventID    string `json:"event_id"`
}

type stateReq struct {
	RoomID string           `json:"room_id"`
	UserID string           `json:"user_id,omitempty"`
	Tuples []stateTupleJSON `json:"tuples,omitempty"`
}

type stateTupleJSON struct {
	EventType string `json:"type"`
	StateKey  string `json:"state_key"`
}

type eventsResp struct {
	Events []json.RawMessage `json:"events"`
}

type eventIDReq struct {
	EventID string `json:"event_id"`
}

type roomReq struct {
	RoomID string `json:"room_id"`
}

type stringResp struct {
	Value string `json:"value"`
}

type roomsForUserReq struct {
	UserID      string   `json:"user_id"`
	Memberships []string `json:"memberships"`
}

type positionResp struct {
	Pos int64 `json:"pos"`
}

type stringsResp struct {
	Values []string `json:"values"`
}

type aliasReq struct {
	Alias  string `json:"alias"`
	RoomID string `json:"room_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
}

type resolveResp struct {
	RoomID  string   `json:"room_id"`
	Servers []string `json:"servers"`
}

type visibilityReq struct {
	RoomID     string `json:"room_id"`
	UserID     string `json:"user_id"`
	Visibility string `json:"visibility"`
}
