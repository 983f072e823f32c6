// Package inthttp carries api.AppServiceAPI over internal HTTP for the polylith, on the
// shared transport of internal/inthttp: Client POSTs JSON to the axon-appservice binary's
// /api/appservice/…, and AddRoutes serves those paths from the direct implementation. It
// is arrow 10 (clientapi → appservice) over the network. Errors keep their Matrix errcode,
// status and extra fields (the ping's status and body).
package inthttp

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/internal/inthttp"
)

// Paths of the internal API, below internal/inthttp.PathPrefix (/api).
const (
	pathPrefix     = "/appservice"
	pathPing       = pathPrefix + "/ping"
	pathQueryUser  = pathPrefix + "/queryUser"
	pathQueryAlias = pathPrefix + "/queryAlias"
	pathProtocols  = pathPrefix + "/thirdPartyProtocols"
	pathThirdParty = pathPrefix + "/thirdPartyQuery"
	pathSetListing = pathPrefix + "/setRoomListing"
	pathListed     = pathPrefix + "/listedRooms"
)

// Client is api.AppServiceAPI over internal HTTP.
type Client struct {
	c *inthttp.Client
}

var _ api.AppServiceAPI = (*Client)(nil)

// NewClient returns a client of the appservice component whose internal API is at
// baseURL (config app_service.internal_api_url). secret is global.internal_api_secret.
func NewClient(baseURL, secret string, opts ...inthttp.Option) *Client {
	return &Client{c: inthttp.NewClient(baseURL, secret, opts...)}
}

// Ping implements api.AppServiceAPI. It is retried after a transport failure (a ping
// changes nothing).
func (c *Client) Ping(ctx context.Context, req *api.PingRequest) (*api.PingResponse, error) {
	var resp api.PingResponse
	if err := c.c.Call(ctx, pathPing, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryUser implements api.AppServiceAPI (retried after a transport failure: a service
// that created the user answers 200 again).
func (c *Client) QueryUser(ctx context.Context, req *api.QueryUserRequest) (*api.QueryResponse, error) {
	var resp api.QueryResponse
	if err := c.c.Call(ctx, pathQueryUser, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryAlias implements api.AppServiceAPI (retried like QueryUser).
func (c *Client) QueryAlias(ctx context.Context, req *api.QueryAliasRequest) (*api.QueryResponse, error) {
	var resp api.QueryResponse
	if err := c.c.Call(ctx, pathQueryAlias, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ThirdPartyProtocols implements api.AppServiceAPI (retried: a lookup changes nothing).
func (c *Client) ThirdPartyProtocols(ctx context.Context, req *api.ThirdPartyProtocolsRequest) (*api.ThirdPartyProtocolsResponse, error) {
	var resp api.ThirdPartyProtocolsResponse
	if err := c.c.Call(ctx, pathProtocols, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ThirdPartyQuery implements api.AppServiceAPI (retried: a lookup changes nothing).
func (c *Client) ThirdPartyQuery(ctx context.Context, req *api.ThirdPartyQueryRequest) (*api.ThirdPartyQueryResponse, error) {
	var resp api.ThirdPartyQueryResponse
	if err := c.c.Call(ctx, pathThirdParty, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SetRoomListing implements api.AppServiceAPI (retried: setting it again changes nothing).
func (c *Client) SetRoomListing(ctx context.Context, req *api.RoomListingRequest) (*api.RoomListingResponse, error) {
	var resp api.RoomListingResponse
	if err := c.c.Call(ctx, pathSetListing, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ListedRooms implements api.AppServiceAPI (retried: a read).
func (c *Client) ListedRooms(ctx context.Context, req *api.ListedRoomsRequest) (*api.ListedRoomsResponse, error) {
	var resp api.ListedRoomsResponse
	if err := c.c.Call(ctx, pathListed, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// AddRoutes serves the component's internal API on r (a router mounted at
// inthttp.PathPrefix) from a, the direct implementation.
func AddRoutes(r *mux.Router, a api.AppServiceAPI) {
	sr := r.PathPrefix(pathPrefix).Subrouter()
	p := func(full string) string { return strings.TrimPrefix(full, pathPrefix) }
	inthttp.Handle(sr, p(pathPing), a.Ping)
	inthttp.Handle(sr, p(pathQueryUser), a.QueryUser)
	inthttp.Handle(sr, p(pathQueryAlias), a.QueryAlias)
	inthttp.Handle(sr, p(pathProtocols), a.ThirdPartyProtocols)
	inthttp.Handle(sr, p(pathThirdParty), a.ThirdPartyQuery)
	inthttp.Handle(sr, p(pathSetListing), a.SetRoomListing)
	inthttp.Handle(sr, p(pathListed), a.ListedRooms)
}
