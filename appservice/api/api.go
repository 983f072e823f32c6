package api

import (
	"context"
	"encoding/json"
)

// AppServiceAPI is the appservice component's internal API (arrow 10: clientapi →
// appservice; arrow 9, federationapi → appservice, will use it too).
type AppServiceAPI interface {
	// Ping calls the service's POST /_matrix/app/v1/ping (the client API's
	// POST /_matrix/client/v1/appservice/{appserviceId}/ping). Errors are the spec's:
	// 400 M_URL_NOT_SET, 502 M_BAD_STATUS (with status and body) or M_CONNECTION_FAILED,
	// 504 M_CONNECTION_TIMEOUT; 404 M_NOT_FOUND for an unknown service ID.
	Ping(ctx context.Context, req *PingRequest) (*PingResponse, error)
	// QueryUser asks the services whose user namespaces hold the (unknown) user ID
	// whether it exists (GET /_matrix/app/v1/users/{userId}): Exists is true once one
	// answered 200, having created the user. Negative answers are cached for a while.
	QueryUser(ctx context.Context, req *QueryUserRequest) (*QueryResponse, error)
	// QueryAlias is QueryUser for an unknown room alias (GET /_matrix/app/v1/rooms/{roomAlias}):
	// true once a service answered 200, having created the room and the alias.
	QueryAlias(ctx context.Context, req *QueryAliasRequest) (*QueryResponse, error)
	// ThirdPartyProtocols asks the services declaring protocols for their metadata
	// (GET /_matrix/app/v1/thirdparty/protocol/{protocol}), merged per protocol: the first
	// answer, with the instances of every service's answer, each instance_id
	// "<appservice id>|<network_id>". One protocol when Protocol is set (404 M_NOT_FOUND
	// when no service declares it).
	ThirdPartyProtocols(ctx context.Context, req *ThirdPartyProtocolsRequest) (*ThirdPartyProtocolsResponse, error)
	// ThirdPartyQuery forwards a third-party lookup (GET /_matrix/app/v1/thirdparty/
	// location|user[/{protocol}]) to the services concerned and concatenates their valid
	// results.
	ThirdPartyQuery(ctx context.Context, req *ThirdPartyQueryRequest) (*ThirdPartyQueryResponse, error)
	// SetRoomListing lists a room in (or removes it from) the directory of one of the
	// service's third-party networks (PUT /directory/list/appservice/{networkId}/{roomId}).
	SetRoomListing(ctx context.Context, req *RoomListingRequest) (*RoomListingResponse, error)
	// ListedRooms returns the rooms of one service's network, or of every network when
	// AppServiceID is empty (/publicRooms' third_party_instance_id, include_all_networks).
	ListedRooms(ctx context.Context, req *ListedRoomsRequest) (*ListedRoomsResponse, error)
}

// RoomListingRequest lists (Listed) or unlists a room for a service's network.
type RoomListingRequest struct {
	AppServiceID string `json:"appservice_id"`
	NetworkID    string `json:"network_id"`
	RoomID       string `json:"room_id"`
	Listed       bool   `json:"listed"`
}

// RoomListingResponse is empty.
type RoomListingResponse struct{}

// ListedRoomsRequest names a service and network, or neither for all.
type ListedRoomsRequest struct {
	AppServiceID string `json:"appservice_id,omitempty"`
	NetworkID    string `json:"network_id,omitempty"`
}

// ListedRoomsResponse is the listed rooms' IDs.
type ListedRoomsResponse struct {
	RoomIDs []string `json:"room_ids"`
}

// Kinds of ThirdPartyQueryRequest.
const (
	ThirdPartyLocation = "location"
	ThirdPartyUser     = "user"
)

// ThirdPartyProtocolsRequest names one protocol, or none for all.
type ThirdPartyProtocolsRequest struct {
	Protocol string `json:"protocol,omitempty"`
}

// ThirdPartyProtocolsResponse maps each protocol to its merged metadata.
type ThirdPartyProtocolsResponse struct {
	Protocols map[string]json.RawMessage `json:"protocols"`
}

// ThirdPartyQueryRequest is a lookup of Kind (ThirdPartyLocation, ThirdPartyUser): by
// Protocol and its Fields (the client's query parameters), or without Protocol the
// reverse lookup of a Matrix ID (Fields "alias" or "userid"), asked of the services with
// protocols whose alias or user namespaces hold it.
type ThirdPartyQueryRequest struct {
	Kind     string              `json:"kind"`
	Protocol string              `json:"protocol,omitempty"`
	Fields   map[string][]string `json:"fields,omitempty"`
}

// ThirdPartyQueryResponse is the services' results, concatenated.
type ThirdPartyQueryResponse struct {
	Results []json.RawMessage `json:"results"`
}

// QueryUserRequest names the user asked about.
type QueryUserRequest struct {
	UserID string `json:"user_id"`
}

// QueryAliasRequest names the room alias asked about.
type QueryAliasRequest struct {
	Alias string `json:"alias"`
}

// QueryResponse says whether a service claimed the user or alias.
type QueryResponse struct {
	Exists bool `json:"exists"`
}

// PingRequest names the service and the optional transaction ID passed through.
type PingRequest struct {
	AppServiceID  string `json:"appservice_id"`
	TransactionID string `json:"transaction_id,omitempty"`
}

// PingResponse is how long the service took to answer.
type PingResponse struct {
	DurationMS int64 `json:"duration_ms"`
}
