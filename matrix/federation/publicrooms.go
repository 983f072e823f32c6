package federation

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// PublicRoomsFilter narrows a public rooms query.
type PublicRoomsFilter struct {
	GenericSearchTerm string `json:"generic_search_term,omitempty"`
	// RoomTypes: a nil entry means rooms without a type.
	RoomTypes []*string `json:"room_types,omitempty"`
}

// PublicRoomsRequest asks for a page of a server's room directory. With a Filter it is
// sent as POST, otherwise as GET.
type PublicRoomsRequest struct {
	Limit                int                `json:"limit,omitempty"`
	Since                string             `json:"since,omitempty"`
	Filter               *PublicRoomsFilter `json:"filter,omitempty"`
	IncludeAllNetworks   bool               `json:"include_all_networks,omitempty"`
	ThirdPartyInstanceID string             `json:"third_party_instance_id,omitempty"`
}

// PublicRoom is one entry of the room directory.
type PublicRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	AvatarURL        string `json:"avatar_url,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	JoinRule         string `json:"join_rule,omitempty"`
	RoomType         string `json:"room_type,omitempty"`
	NumJoinedMembers int64  `json:"num_joined_members"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	WorldReadable    bool   `json:"world_readable"`
}

// PublicRoomsResponse is one page of the room directory.
type PublicRoomsResponse struct {
	Chunk                  []PublicRoom `json:"chunk"`
	NextBatch              string       `json:"next_batch,omitempty"`
	PrevBatch              string       `json:"prev_batch,omitempty"`
	TotalRoomCountEstimate int64        `json:"total_room_count_estimate,omitempty"`
}

// PublicRooms sends GET or POST /_matrix/federation/v1/publicRooms.
func (c *Client) PublicRooms(ctx context.Context, destination string, req PublicRoomsRequest) (PublicRoomsResponse, error) {
	const path = "/_matrix/federation/v1/publicRooms"
	var out PublicRoomsResponse
	if req.Filter != nil {
		err := c.Do(ctx, destination, http.MethodPost, path, nil, req, &out)
		return out, err
	}
	q := url.Values{}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.Since != "" {
		q.Set("since", req.Since)
	}
	if req.IncludeAllNetworks {
		q.Set("include_all_networks", "true")
	}
	if req.ThirdPartyInstanceID != "" {
		q.Set("third_party_instance_id", req.ThirdPartyInstanceID)
	}
	err := c.Do(ctx, destination, http.MethodGet, path, q, nil, &out)
	return out, err
}
