package api

import "context"

// Arrows 7 and 8 (docs/wiring.md). Like RemoteKeysAPI these are interfaces of their own,
// not part of FederationSenderAPI, so that other components' fakes need not implement
// them; the direct implementation and the inthttp client implement both.

// DirectoryAPI resolves room aliases of other servers (arrow 7: directory lookups over
// federation). The roomserver asks it, over arrow 17, when it resolves an alias that is
// not its own: for GET /directory/room/{roomAlias} of the clientapi (arrow 4) and for
// joins by alias.
type DirectoryAPI interface {
	// QueryRemoteDirectory sends GET /_matrix/federation/v1/query/directory to the
	// alias's server. Answers (found or M_NOT_FOUND) are remembered briefly.
	QueryRemoteDirectory(ctx context.Context, req *QueryRemoteDirectoryRequest) (*QueryRemoteDirectoryResponse, error)
}

// QueryRemoteDirectoryRequest names an alias of another server.
type QueryRemoteDirectoryRequest struct {
	Alias string `json:"alias"`
}

// QueryRemoteDirectoryResponse is where the alias points.
type QueryRemoteDirectoryResponse struct {
	RoomID  string   `json:"room_id"`
	Servers []string `json:"servers"`
}

// ContactAPI is arrow 8 (federationapi → federationsender): a server sent us an
// authenticated request, so it is up.
type ContactAPI interface {
	// ServerContacted ends the backoff of Server's queue at once, so what waits for it is
	// sent now.
	ServerContacted(ctx context.Context, req *ServerContactedRequest) error
}

// ServerContactedRequest names the server that contacted us.
type ServerContactedRequest struct {
	Server string `json:"server"`
}
