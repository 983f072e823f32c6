package inthttp

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/roomserver/api"
)

// Client is api.RoomserverAPI over internal HTTP. Queries are retried on transport
// failures; writes never are (internal/inthttp.Client.Call).
type Client struct {
	c *inthttp.Client
}

var _ api.RoomserverAPI = (*Client)(nil)

// NewClient returns a client of the roomserver whose internal API is at baseURL (config
// room_server.internal_api_url). secret is global.internal_api_secret.
func NewClient(baseURL, secret string, opts ...inthttp.Option) *Client {
	return &Client{c: inthttp.NewClient(baseURL, secret, opts...)}
}

const (
	query = true  // idempotent: retried after a transport failure
	write = false // never retried
)

// notJSON stands in for a raw JSON field that is not JSON, which json.Marshal would refuse:
// the roomserver then answers M_BAD_JSON (not an object), as the direct implementation does.
var notJSON = json.RawMessage(`"not JSON"`)

func validRaw(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || json.Valid(raw) {
		return raw
	}
	return notJSON
}

// call is Call on the shared transport.
func (c *Client) call(ctx context.Context, path string, req, resp any, idempotent bool) error {
	return c.c.Call(ctx, path, req, resp, idempotent)
}

// CreateRoom implements api.RoomserverAPI.
func (c *Client) CreateRoom(ctx context.Context, req *api.CreateRoomRequest) (*api.CreateRoomResponse, error) {
	r := *req
	r.CreationContent, r.PowerLevelContentOverride, r.CreatorMemberContent =
		validRaw(r.CreationContent), validRaw(r.PowerLevelContentOverride), validRaw(r.CreatorMemberContent)
	r.InitialState = append([]api.InitialStateEvt(nil), req.InitialState...)
	for i := range r.InitialState {
		r.InitialState[i].Content = validRaw(r.InitialState[i].Content)
	}
	req = &r
	var resp api.CreateRoomResponse
	if err := c.call(ctx, pathCreateRoom, req, &resp, write); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SendEvent implements api.RoomserverAPI.
func (c *Client) SendEvent(ctx context.Context, req *api.SendEventRequest) (*api.SendEventResponse, error) {
	r := *req
	r.Content = validRaw(r.Content)
	var resp api.SendEventResponse
	// With a transaction ID a repeated send returns the first event: safe to retry.
	if err := c.call(ctx, pathSendEvent, &r, &resp, req.TxnID != ""); err != nil {
		return nil, err
	}
	return &resp, nil
}

// PerformMembership implements api.RoomserverAPI.
func (c *Client) PerformMembership(ctx context.Context, req *api.MembershipRequest) (*api.SendEventResponse, error) {
	r := *req
	r.Content = validRaw(r.Content)
	var resp api.SendEventResponse
	if err := c.call(ctx, pathPerformMember, &r, &resp, write); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Forget implements api.RoomserverAPI.
func (c *Client) Forget(ctx context.Context, roomID, userID string) error {
	return c.call(ctx, pathForget, roomUserReq{RoomID: roomID, UserID: userID}, nil, write)
}

// QueryMembership implements api.RoomserverAPI.
func (c *Client) QueryMembership(ctx context.Context, roomID, userID string) (string, string, error) {
	var resp membershipResp
	err := c.call(ctx, pathQueryMembership, roomUserReq{RoomID: roomID, UserID: userID}, &resp, query)
	return resp.Membership, resp.EventID, err
}

// QueryCurrentState implements api.RoomserverAPI.
func (c *Client) QueryCurrentState(ctx context.Context, roomID string, tuples []api.StateTuple) ([]json.RawMessage, error) {
	var resp eventsResp
	if err := c.call(ctx, pathQueryState, stateReq{RoomID: roomID, Tuples: toTuples(tuples)}, &resp, query); err != nil {
		return nil, err
	}
	return resp.Events, nil
}

// QueryStateForUser implements api.RoomserverAPI.
func (c *Client) QueryStateForUser(ctx context.Context, roomID, userID string, tuples []api.StateTuple) ([]json.RawMessage, error) {
	var resp eventsResp
	if err := c.call(ctx, pathQueryStateUser, stateReq{RoomID: roomID, UserID: userID, Tuples: toTuples(tuples)}, &resp, query); err != nil {
		return nil, err
	}
	return resp.Events, nil
}

// QueryEvent implements api.RoomserverAPI.
func (c *Client) QueryEvent(ctx context.Context, eventID string) (*api.EventJSON, error) {
	var resp api.EventJSON
	if err := c.call(ctx, pathQueryEvent, eventIDReq{EventID: eventID}, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryRoomVersion implements api.RoomserverAPI.
func (c *Client) QueryRoomVersion(ctx context.Context, roomID string) (string, error) {
	var resp stringResp
	err := c.call(ctx, pathQueryVersion, roomReq{RoomID: roomID}, &resp, query)
	return resp.Value, err
}

// QueryRoomsForUser implements api.RoomserverAPI.
func (c *Client) QueryRoomsForUser(ctx context.Context, userID string, memberships []string) ([]string, error) {
	var resp stringsResp
	err := c.call(ctx, pathQueryRoomsUser, roomsForUserReq{UserID: userID, Memberships: memberships}, &resp, query)
	return resp.Values, err
}

// QueryWritePosition implements api.RoomserverAPI (arrow 2: read-your-writes).
func (c *Client) QueryWritePosition(ctx context.Context, roomID, userID string) (int64, error) {
	var resp positionResp
	err := c.call(ctx, pathQueryWritePos, roomUserReq{RoomID: roomID, UserID: userID}, &resp, query)
	return resp.Pos, err
}

// SetRoomAlias implements api.RoomserverAPI.
func (c *Client) SetRoomAlias(ctx context.Context, alias, roomID, userID string) error {
	return c.call(ctx, pathSetAlias, aliasReq{Alias: alias, RoomID: roomID, UserID: userID}, nil, write)
}

// ResolveRoomAlias implements api.RoomserverAPI.
func (c *Client) ResolveRoomAlias(ctx context.Context, alias string) (string, []string, error) {
	var resp resolveResp
	err := c.call(ctx, pathResolveAlias, aliasReq{Alias: alias}, &resp, query)
	return resp.RoomID, resp.Servers, err
}

// RemoveRoomAlias implements api.RoomserverAPI.
func (c *Client) RemoveRoomAlias(ctx context.Context, alias, userID string) error {
	return c.call(ctx, pathRemoveAlias, aliasReq{Alias: alias, UserID: userID}, nil, write)
}

// GetAliasesForRoom implements api.RoomserverAPI.
func (c *Client) GetAliasesForRoom(ctx context.Context, roomID string) ([]string, error) {
	var resp stringsResp
	err := c.call(ctx, pathAliasesForRoom, roomReq{RoomID: roomID}, &resp, query)
	return resp.Values, err
}

// SetRoomVisibility implements api.RoomserverAPI.
func (c *Client) SetRoomVisibility(ctx context.Context, roomID, userID, visibility string) error {
	return c.call(ctx, pathSetVisibility, visibilityReq{RoomID: roomID, UserID: userID, Visibility: visibility}, nil, write)
}

// GetRoomVisibility implements api.RoomserverAPI.
func (c *Client) GetRoomVisibility(ctx context.Context, roomID string) (string, error) {
	var resp stringResp
	err := c.call(ctx, pathGetVisibility, roomReq{RoomID: roomID}, &resp, query)
	return resp.Value, err
}

// QueryPublicRooms implements api.RoomserverAPI.
func (c *Client) QueryPublicRooms(ctx context.Context, req *api.PublicRoomsRequest) (*api.PublicRoomsResponse, error) {
	var resp api.PublicRoomsResponse
	if err := c.call(ctx, pathQueryPublicRooms, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}
