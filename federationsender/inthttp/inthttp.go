// Package inthttp carries api.FederationSenderAPI over internal HTTP for the polylith, on
// the shared transport of internal/inthttp: Client implements the interface by POSTing
// JSON to the axon-federation-sender binary's /api/federationsender/…, and AddRoutes
// serves those paths from the direct implementation. It is arrow 17 (roomserver →
// federationsender) over the network. Errors keep their Matrix errcode and status.
package inthttp

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/inthttp"
)

// Paths of the internal API, below internal/inthttp.PathPrefix (/api).
const (
	pathPrefix        = "/federationsender"
	pathPerformJoin   = pathPrefix + "/performJoin"
	pathPerformInvite = pathPrefix + "/performInvite"
	pathPerformLeave  = pathPrefix + "/performLeave"
	pathPerformKnock  = pathPrefix + "/performKnock"
)

// Client is api.FederationSenderAPI over internal HTTP.
type Client struct {
	c *inthttp.Client
}

var _ api.FederationSenderAPI = (*Client)(nil)

// NewClient returns a client of the federationsender whose internal API is at baseURL
// (config federation_sender.internal_api_url). secret is global.internal_api_secret.
func NewClient(baseURL, secret string, opts ...inthttp.Option) *Client {
	return &Client{c: inthttp.NewClient(baseURL, secret, opts...)}
}

// PerformJoin implements api.FederationSenderAPI. It is never retried after a transport
// failure: the first attempt may have reached the remote server, and a second join event
// would be a second membership event in the room.
func (c *Client) PerformJoin(ctx context.Context, req *api.PerformJoinRequest) (*api.PerformJoinResponse, error) {
	var resp api.PerformJoinResponse
	if err := c.c.Call(ctx, pathPerformJoin, req, &resp, false); err != nil {
		return nil, err
	}
	return &resp, nil
}

// PerformInvite implements api.FederationSenderAPI. Asking the invitee's server to sign
// again is harmless (the same event, signed again), so it is retried like a query.
func (c *Client) PerformInvite(ctx context.Context, req *api.PerformInviteRequest) (*api.PerformInviteResponse, error) {
	var resp api.PerformInviteResponse
	if err := c.c.Call(ctx, pathPerformInvite, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// PerformLeave implements api.FederationSenderAPI. Never retried after a transport failure
// (a second leave event would be a second membership event in the room).
func (c *Client) PerformLeave(ctx context.Context, req *api.PerformLeaveRequest) (*api.PerformLeaveResponse, error) {
	var resp api.PerformLeaveResponse
	if err := c.c.Call(ctx, pathPerformLeave, req, &resp, false); err != nil {
		return nil, err
	}
	return &resp, nil
}

// PerformKnock implements api.FederationSenderAPI. Never retried after a transport failure
// (a second knock would be a second membership event in the room).
func (c *Client) PerformKnock(ctx context.Context, req *api.PerformKnockRequest) (*api.PerformKnockResponse, error) {
	var resp api.PerformKnockResponse
	if err := c.c.Call(ctx, pathPerformKnock, req, &resp, false); err != nil {
		return nil, err
	}
	return &resp, nil
}

// AddRoutes serves the federationsender's internal API on r (a router mounted at
// inthttp.PathPrefix, such as setup's InternalAPIMux) from a, the direct implementation.
// The internal API secret is checked in front of r (polylith.Start).
func AddRoutes(r *mux.Router, a api.FederationSenderAPI) {
	sr := r.PathPrefix(pathPrefix).Subrouter()
	inthttp.Handle(sr, strings.TrimPrefix(pathPerformJoin, pathPrefix), a.PerformJoin)
	inthttp.Handle(sr, strings.TrimPrefix(pathPerformInvite, pathPrefix), a.PerformInvite)
	inthttp.Handle(sr, strings.TrimPrefix(pathPerformLeave, pathPrefix), a.PerformLeave)
	inthttp.Handle(sr, strings.TrimPrefix(pathPerformKnock, pathPrefix), a.PerformKnock)
	addContactRoutes(sr, a) // arrows 7 and 8 (contact.go)
	addRoomsRoutes(sr, a)   // arrow 7's room directory and hierarchy lookups (rooms.go)
}
