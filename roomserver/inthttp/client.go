package inthttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/roomserver/api"
)

// SecretHeader carries global.internal_api_secret (the value internal/setup checks).
const SecretHeader = "X-Axon-Internal-Secret"

// Client is api.RoomserverAPI over internal HTTP.
type Client struct {
	base   string
	secret string
	hc     *http.Client
}

var _ api.RoomserverAPI = (*Client)(nil)

// NewClient returns a client of the roomserver whose internal listener is at baseURL
// (e.g. "http://roomserver:7770"; the client adds "/api/roomserver/…"). secret is the
// internal API secret ("" for none); hc nil means http.DefaultClient.
func NewClient(baseURL, secret string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimSuffix(baseURL, "/") + "/api", secret: secret, hc: hc}
}

// call POSTs req as JSON and decodes the answer into resp; an error answer becomes the
// *httputil.MatrixError the server sent.
func (c *Client) call(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+pathPrefix+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	if c.secret != "" {
		hr.Header.Set(SecretHeader, c.secret)
	}
	res, err := c.hc.Do(hr)
	if err != nil {
		return fmt.Errorf("roomserver inthttp %s: %w", path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("roomserver inthttp %s: %w", path, err)
	}
	if res.StatusCode != http.StatusOK {
		return decodeError(res.StatusCode, raw)
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(raw, resp); err != nil {
		return fmt.Errorf("roomserver inthttp %s: decoding response: %w", path, err)
	}
	return nil
}

// decodeError rebuilds the MatrixError of an error answer, extra fields included.
func decodeError(status int, raw []byte) error {
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return &httputil.MatrixError{Status: status, ErrCode: "M_UNKNOWN", Err: fmt.Sprintf("roomserver answered %d", status)}
	}
	me := &httputil.MatrixError{Status: status}
	me.ErrCode, _ = body["errcode"].(string)
	me.Err, _ = body["error"].(string)
	if me.ErrCode == "" {
		me.ErrCode = "M_UNKNOWN"
	}
	for k, v := range body {
		if k != "errcode" && k != "error" {
			if me.Extra == nil {
				me.Extra = map[string]any{}
			}
			me.Extra[k] = v
		}
	}
	return me
}

// CreateRoom implements api.RoomserverAPI.
func (c *Client) CreateRoom(ctx context.Context, req *api.CreateRoomRequest) (*api.CreateRoomResponse, error) {
	var resp api.CreateRoomResponse
	if err := c.call(ctx, pathCreateRoom, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SendEvent implements api.RoomserverAPI.
func (c *Client) SendEvent(ctx context.Context, req *api.SendEventRequest) (*api.SendEventResponse, error) {
	var resp api.SendEventResponse
	if err := c.call(ctx, pathSendEvent, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// PerformMembership implements api.RoomserverAPI.
func (c *Client) PerformMembership(ctx context.Context, req *api.MembershipRequest) (*api.SendEventResponse, error) {
	var resp api.SendEventResponse
	if err := c.call(ctx, pathPerformMember, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Forget implements api.RoomserverAPI.
func (c *Client) Forget(ctx context.Context, roomID, userID string) error {
	return c.call(ctx, pathForget, roomUserReq{RoomID: roomID, UserID: userID}, nil)
}

// QueryMembership implements api.RoomserverAPI.
func (c *Client) QueryMembership(ctx context.Context, roomID, userID string) (string, string, error) {
	var resp membershipResp
	err := c.call(ctx, pathQueryMembership, roomUserReq{RoomID: roomID, UserID: userID}, &resp)
	return resp.Membership, resp.EventID, err
}

// QueryCurrentState implements api.RoomserverAPI.
func (c *Client) QueryCurrentState(ctx context.Context, roomID string, tuples []api.StateTuple) ([]json.RawMessage, error) {
	var resp eventsResp
	if err := c.call(ctx, pathQueryState, stateReq{RoomID: roomID, Tuples: toTuples(tuples)}, &resp); err != nil {
		return nil, err
	}
	return resp.Events, nil
}

// QueryStateForUser implements api.RoomserverAPI.
func (c *Client) QueryStateForUser(ctx context.Context, roomID, userID string, tuples []api.StateTuple) ([]json.RawMessage, error) {
	var resp eventsResp
	if err := c.call(ctx, pathQueryStateUser, stateReq{RoomID: roomID, UserID: userID, Tuples: toTuples(tuples)}, &resp); err != nil {
		return nil, err
	}
	return resp.Events, nil
}

// QueryEvent implements api.RoomserverAPI.
func (c *Client) QueryEvent(ctx context.Context, eventID string) (*api.EventJSON, error) {
	var resp api.EventJSON
	if err := c.call(ctx, pathQueryEvent, eventIDReq{EventID: eventID}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryRoomVersion implements api.RoomserverAPI.
func (c *Client) QueryRoomVersion(ctx context.Context, roomID string) (string, error) {
	var resp stringResp
	err := c.call(ctx, pathQueryVersion, roomReq{RoomID: roomID}, &resp)
	return resp.Value, err
}

// QueryRoomsForUser implements api.RoomserverAPI.
func (c *Client) QueryRoomsForUser(ctx context.Context, userID string, memberships []string) ([]string, error) {
	var resp stringsResp
	err := c.call(ctx, pathQueryRoomsUser, roomsForUserReq{UserID: userID, Memberships: memberships}, &resp)
	return resp.Values, err
}

// SetRoomAlias implements api.RoomserverAPI.
func (c *Client) SetRoomAlias(ctx context.Context, alias, roomID, userID string) error {
	return c.call(ctx, pathSetAlias, aliasReq{Alias: alias, RoomID: roomID, UserID: userID}, nil)
}

// ResolveRoomAlias implements api.RoomserverAPI.
func (c *Client) ResolveRoomAlias(ctx context.Context, alias string) (string, []string, error) {
	var resp resolveResp
	err := c.call(ctx, pathResolveAlias, aliasReq{Alias: alias}, &resp)
	return resp.RoomID, resp.Servers, err
}

// RemoveRoomAlias implements api.RoomserverAPI.
func (c *Client) RemoveRoomAlias(ctx context.Context, alias, userID string) error {
	return c.call(ctx, pathRemoveAlias, aliasReq{Alias: alias, UserID: userID}, nil)
}

// GetAliasesForRoom implements api.RoomserverAPI.
func (c *Client) GetAliasesForRoom(ctx context.Context, roomID string) ([]string, error) {
	var resp stringsResp
	err := c.call(ctx, pathAliasesForRoom, roomReq{RoomID: roomID}, &resp)
	return resp.Values, err
}

// SetRoomVisibility implements api.RoomserverAPI.
func (c *Client) SetRoomVisibility(ctx context.Context, roomID, userID, visibility string) error {
	return c.call(ctx, pathSetVisibility, visibilityReq{RoomID: roomID, UserID: userID, Visibility: visibility}, nil)
}

// GetRoomVisibility implements api.RoomserverAPI.
func (c *Client) GetRoomVisibility(ctx context.Context, roomID string) (string, error) {
	var resp stringResp
	err := c.call(ctx, pathGetVisibility, roomReq{RoomID: roomID}, &resp)
	return resp.Value, err
}

// QueryPublicRooms implements api.RoomserverAPI.
func (c *Client) QueryPublicRooms(ctx context.Context, req *api.PublicRoomsRequest) (*api.PublicRoomsResponse, error) {
	var resp api.PublicRoomsResponse
	if err := c.call(ctx, pathQueryPublicRooms, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
