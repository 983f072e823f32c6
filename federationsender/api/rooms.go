package api

import (
	"context"
	"encoding/json"
)

// RoomsAPI is arrow 7's room directory and space lookups on other servers (clientapi →
// roomserver (arrow 4) → federationsender (arrow 17), like alias lookups): another
// server's public room directory (GET /publicRooms?server=) and the part of a space tree a
// server holds (GET /hierarchy for rooms this server does not hold). An interface of its
// own, like DirectoryAPI, so that other components' fakes need not implement it.
type RoomsAPI interface {
	// QueryRemotePublicRooms asks Server for a page of its room directory (GET, or POST
	// when a filter is given, /_matrix/federation/v1/publicRooms). An unreachable server
	// or one that fails is 502 M_UNKNOWN; its 4xx Matrix errors are passed on.
	QueryRemotePublicRooms(ctx context.Context, req *QueryRemotePublicRoomsRequest) (*QueryRemotePublicRoomsResponse, error)
	// QueryRemoteHierarchy asks the servers of Servers in turn (at most 5) for
	// GET /_matrix/federation/v1/hierarchy/{roomId} until one answers with the room.
	// Answers are remembered briefly. M_NOT_FOUND when none did.
	QueryRemoteHierarchy(ctx context.Context, req *QueryRemoteHierarchyRequest) (*QueryRemoteHierarchyResponse, error)
}

// QueryRemotePublicRoomsRequest is a client's /publicRooms query for another server.
type QueryRemotePublicRoomsRequest struct {
	Server string `json:"server"`
	Limit  int    `json:"limit,omitempty"`
	Since  string `json:"since,omitempty"`
	// Filter is the generic_search_term; RoomTypes the filter's room_types (a nil entry:
	// rooms without a type). Either makes the query a POST.
	Filter               string    `json:"filter,omitempty"`
	RoomTypes            []*string `json:"room_types,omitempty"`
	IncludeAllNetworks   bool      `json:"include_all_networks,omitempty"`
	ThirdPartyInstanceID string    `json:"third_party_instance_id,omitempty"`
}

// QueryRemotePublicRoomsResponse is the server's page; each entry a PublishedRoomsChunk
// object with a valid room_id (others are dropped).
type QueryRemotePublicRoomsResponse struct {
	Chunk     []json.RawMessage `json:"chunk"`
	NextBatch string            `json:"next_batch,omitempty"`
	PrevBatch string            `json:"prev_batch,omitempty"`
	Total     int64             `json:"total_room_count_estimate,omitempty"`
}

// QueryRemoteHierarchyRequest names a room this server does not hold and the servers to ask.
type QueryRemoteHierarchyRequest struct {
	RoomID        string   `json:"room_id"`
	Servers       []string `json:"servers"`
	SuggestedOnly bool     `json:"suggested_only,omitempty"`
}

// QueryRemoteHierarchyResponse is the answer of the first server that had the room: its
// summary (room_id checked), its children's summaries (each with a room_id) and the
// children the server says this server cannot reach.
type QueryRemoteHierarchyResponse struct {
	Origin               string            `json:"origin"`
	Room                 json.RawMessage   `json:"room"`
	Children             []json.RawMessage `json:"children"`
	InaccessibleChildren []string          `json:"inaccessible_children"`
}
