package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/axon-matrix/axon/matrix"
)

// MakeMembershipResponse is the answer of make_join and make_leave: an unsigned event
// template and the room's version.
type MakeMembershipResponse struct {
	RoomVersion matrix.RoomVersionID `json:"room_version"`
	Event       json.RawMessage      `json:"event"`
}

// MakeJoin asks a resident server for a join event template (GET
// /_matrix/federation/v1/make_join/{roomId}/{userId}), naming the room versions we
// support. A room in another version answers M_INCOMPATIBLE_ROOM_VERSION (an *HTTPError).
func (c *Client) MakeJoin(ctx context.Context, destination, roomID, userID string, versions []matrix.RoomVersionID) (MakeMembershipResponse, error) {
	q := url.Values{}
	for _, v := range versions {
		q.Add("ver", string(v))
	}
	var out MakeMembershipResponse
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/make_join/%s/%s", roomID, userID), q, nil, &out)
	if err == nil {
		err = out.check()
	}
	return out, err
}

// MakeLeave asks for a leave event template (GET
// /_matrix/federation/v1/make_leave/{roomId}/{userId}).
func (c *Client) MakeLeave(ctx context.Context, destination, roomID, userID string) (MakeMembershipResponse, error) {
	var out MakeMembershipResponse
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/make_leave/%s/%s", roomID, userID), nil, nil, &out)
	if err == nil {
		err = out.check()
	}
	return out, err
}

func (r MakeMembershipResponse) check() error {
	if len(r.Event) == 0 || r.Event[0] != '{' {
		return fmt.Errorf("%w: no event template", errBadResponse)
	}
	return nil
}

// Version is the room version of the template, "1" when the server did not say (servers
// older than room versions answered without it).
func (r MakeMembershipResponse) Version() matrix.RoomVersionID {
	if r.RoomVersion == "" {
		return "1"
	}
	return r.RoomVersion
}

// SendJoinResponse is the answer of send_join v2: the room state and auth chain before the
// join, and the join as the resident server signed it (for restricted joins).
type SendJoinResponse struct {
	Origin    string            `json:"origin"`
	AuthChain []json.RawMessage `json:"auth_chain"`
	State     []json.RawMessage `json:"state"`
	// Event is the join event with the resident server's signature, if it added one.
	Event json.RawMessage `json:"event,omitempty"`
	// MembersOmitted is true when we asked for omit_members and the server left out
	// membership events (a "partial state" join).
	MembersOmitted bool `json:"members_omitted,omitempty"`
	// ServersInRoom is sent when members are omitted.
	ServersInRoom []string `json:"servers_in_room,omitempty"`
}

// SendJoin submits a signed join event (PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}).
// The federationsender checks the response's signatures through the serverkeyapi (arrow
// 12 of ARCHITECTURE.md §2).
func (c *Client) SendJoin(ctx context.Context, destination, roomID, eventID string, event json.RawMessage, omitMembers bool) (SendJoinResponse, error) {
	var q url.Values
	if omitMembers {
		q = url.Values{"omit_members": {strconv.FormatBool(true)}}
	}
	var out SendJoinResponse
	err := c.Do(ctx, destination, http.MethodPut, fedPath("/_matrix/federation/v2/send_join/%s/%s", roomID, eventID), q, event, &out)
	return out, err
}

// SendLeave submits a signed leave event (PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}).
func (c *Client) SendLeave(ctx context.Context, destination, roomID, eventID string, event json.RawMessage) error {
	var out struct{}
	return c.Do(ctx, destination, http.MethodPut, fedPath("/_matrix/federation/v2/send_leave/%s/%s", roomID, eventID), nil, event, &out)
}

// InviteRequest is the body of invite v2.
type InviteRequest struct {
	RoomVersion matrix.RoomVersionID `json:"room_version"`
	// Event is the invite event, signed by the inviting server.
	Event json.RawMessage `json:"event"`
	// InviteRoomState is stripped state to help the invitee identify the room.
	InviteRoomState []json.RawMessage `json:"invite_room_state,omitempty"`
}

// InviteResponse carries the invite event with the invitee's server's signature added.
type InviteResponse struct {
	Event json.RawMessage `json:"event"`
}

// Invite sends PUT /_matrix/federation/v2/invite/{roomId}/{eventId}.
func (c *Client) Invite(ctx context.Context, destination, roomID, eventID string, req InviteRequest) (InviteResponse, error) {
	var out InviteResponse
	err := c.Do(ctx, destination, http.MethodPut, fedPath("/_matrix/federation/v2/invite/%s/%s", roomID, eventID), nil, req, &out)
	if err == nil && (len(out.Event) == 0 || out.Event[0] != '{') {
		err = fmt.Errorf("%w: invite answer without event", errBadResponse)
	}
	return out, err
}

// MakeKnock asks a resident server for a knock event template (GET
// /_matrix/federation/v1/make_knock/{roomId}/{userId}), naming the room versions we support.
func (c *Client) MakeKnock(ctx context.Context, destination, roomID, userID string, versions []matrix.RoomVersionID) (MakeMembershipResponse, error) {
	q := url.Values{}
	for _, v := range versions {
		q.Add("ver", string(v))
	}
	var out MakeMembershipResponse
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/make_knock/%s/%s", roomID, userID), q, nil, &out)
	if err == nil {
		err = out.check()
	}
	return out, err
}

// SendKnockResponse carries stripped state for the knocking user's client.
type SendKnockResponse struct {
	KnockRoomState []json.RawMessage `json:"knock_room_state"`
}

// SendKnock submits a signed knock event (PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}).
func (c *Client) SendKnock(ctx context.Context, destination, roomID, eventID string, event json.RawMessage) (SendKnockResponse, error) {
	var out SendKnockResponse
	err := c.Do(ctx, destination, http.MethodPut, fedPath("/_matrix/federation/v1/send_knock/%s/%s", roomID, eventID), nil, event, &out)
	return out, err
}
