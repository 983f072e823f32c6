package api

import "encoding/json"

// Spaces: GET /_matrix/client/v1/rooms/{roomId}/hierarchy (arrow 4, QueryHierarchy) and
// GET /_matrix/federation/v1/hierarchy/{roomId} (arrow 3, QueryFederationHierarchy).

// HierarchyRequest is a client's /hierarchy request, parameters already checked.
type HierarchyRequest struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	// From is a next_batch of an earlier answer to the same user, room, MaxDepth and
	// SuggestedOnly.
	From string `json:"from,omitempty"`
	// Limit is the most rooms in one answer (0: the default).
	Limit int `json:"limit,omitempty"`
	// MaxDepth is how far below the room to go (nil: the default).
	MaxDepth      *int `json:"max_depth,omitempty"`
	SuggestedOnly bool `json:"suggested_only,omitempty"`
}

// HierarchyResponse is one page of the space tree, depth first.
type HierarchyResponse struct {
	Rooms     []HierarchyRoom `json:"rooms"`
	NextBatch string          `json:"next_batch,omitempty"`
}

// HierarchyRoom is a room's summary (the spec's RoomSummary) with its m.space.child events
// as stripped state with origin_server_ts (empty unless the room is a space).
type HierarchyRoom struct {
	RoomID           string   `json:"room_id"`
	Name             string   `json:"name,omitempty"`
	Topic            string   `json:"topic,omitempty"`
	CanonicalAlias   string   `json:"canonical_alias,omitempty"`
	AvatarURL        string   `json:"avatar_url,omitempty"`
	NumJoinedMembers int      `json:"num_joined_members"`
	WorldReadable    bool     `json:"world_readable"`
	GuestCanJoin     bool     `json:"guest_can_join"`
	JoinRule         string   `json:"join_rule,omitempty"`
	RoomType         string   `json:"room_type,omitempty"`
	AllowedRoomIDs   []string `json:"allowed_room_ids,omitempty"`
	Encryption       string   `json:"encryption,omitempty"`
	RoomVersion      string   `json:"room_version,omitempty"`
	// ChildrenState is never null in JSON.
	ChildrenState []json.RawMessage `json:"children_state"`
}

// FederationHierarchyRequest is another server's /hierarchy request.
type FederationHierarchyRequest struct {
	RoomID        string `json:"room_id"`
	Origin        string `json:"origin"`
	SuggestedOnly bool   `json:"suggested_only,omitempty"`
}

// FederationHierarchyResponse is the room, the children Origin may peek or join, and the
// IDs of the children held here that it may not.
type FederationHierarchyResponse struct {
	Room                 HierarchyRoom   `json:"room"`
	Children             []HierarchyRoom `json:"children"`
	InaccessibleChildren []string        `json:"inaccessible_children"`
}
