package inthttp

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/inthttp"
)

// Arrow 20 (keyserver → federationsender) over internal HTTP.
const (
	pathQueryRemoteKeys = pathPrefix + "/queryRemoteKeys"
	pathClaimRemoteKeys = pathPrefix + "/claimRemoteKeys"
	pathQueryRemoteDevs = pathPrefix + "/queryRemoteDevices"
)

var _ api.RemoteKeysAPI = (*Client)(nil)

// QueryRemoteKeys implements api.RemoteKeysAPI (a query: retried).
func (c *Client) QueryRemoteKeys(ctx context.Context, req *api.QueryRemoteKeysRequest) (*api.QueryRemoteKeysResponse, error) {
	var resp api.QueryRemoteKeysResponse
	if err := c.c.Call(ctx, pathQueryRemoteKeys, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ClaimRemoteKeys implements api.RemoteKeysAPI. Never retried after a transport failure:
// the first attempt may have used up one-time keys.
func (c *Client) ClaimRemoteKeys(ctx context.Context, req *api.ClaimRemoteKeysRequest) (*api.ClaimRemoteKeysResponse, error) {
	var resp api.ClaimRemoteKeysResponse
	if err := c.c.Call(ctx, pathClaimRemoteKeys, req, &resp, false); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryRemoteDevices implements api.RemoteKeysAPI (a query: retried).
func (c *Client) QueryRemoteDevices(ctx context.Context, req *api.QueryRemoteDevicesRequest) (*api.QueryRemoteDevicesResponse, error) {
	var resp api.QueryRemoteDevicesResponse
	if err := c.c.Call(ctx, pathQueryRemoteDevs, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// AddRemoteKeysRoutes serves arrow 20 on r (like AddRoutes) from a.
func AddRemoteKeysRoutes(r *mux.Router, a api.RemoteKeysAPI) {
	sr := r.PathPrefix(pathPrefix).Subrouter()
	inthttp.Handle(sr, strings.TrimPrefix(pathQueryRemoteKeys, pathPrefix), a.QueryRemoteKeys)
	inthttp.Handle(sr, strings.TrimPrefix(pathClaimRemoteKeys, pathPrefix), a.ClaimRemoteKeys)
	inthttp.Handle(sr, strings.TrimPrefix(pathQueryRemoteDevs, pathPrefix), a.QueryRemoteDevices)
}
