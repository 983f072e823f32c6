// Package inthttp carries api.ServerKeyAPI over internal HTTP for the polylith, on the
// shared transport of internal/inthttp: Client implements the interface by POSTing JSON to
// the axon-server-key-api binary's /api/serverkeyapi/…, and AddRoutes serves those paths
// from the direct implementation. It is arrow 11 (federationapi → serverkeyapi) and later
// 12 and 13 over the network. Errors keep their Matrix errcode and status.
package inthttp

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/serverkeyapi/api"
)

// Paths of the internal API, below internal/inthttp.PathPrefix (/api).
const (
	pathPrefix     = "/serverkeyapi"
	pathServerKeys = pathPrefix + "/serverKeys"
	pathQueryKeys  = pathPrefix + "/queryKeys"
	pathFetchKeys  = pathPrefix + "/fetchKeys"
	pathVerifyJSON = pathPrefix + "/verifyJSON"
)

type rawResp struct {
	JSON json.RawMessage `json:"json"`
}

// Client is api.ServerKeyAPI over internal HTTP. Every method is a query: retried after a
// transport failure.
type Client struct {
	c *inthttp.Client
}

var _ api.ServerKeyAPI = (*Client)(nil)

// NewClient returns a client of the serverkeyapi whose internal API is at baseURL (config
// server_key_api.internal_api_url). secret is global.internal_api_secret.
func NewClient(baseURL, secret string, opts ...inthttp.Option) *Client {
	return &Client{c: inthttp.NewClient(baseURL, secret, opts...)}
}

const query = true

// ServerKeys implements api.ServerKeyAPI.
func (c *Client) ServerKeys(ctx context.Context) (json.RawMessage, error) {
	var resp rawResp
	if err := c.c.Call(ctx, pathServerKeys, inthttp.Empty{}, &resp, query); err != nil {
		return nil, err
	}
	return resp.JSON, nil
}

// QueryKeys implements api.ServerKeyAPI.
func (c *Client) QueryKeys(ctx context.Context, req *api.QueryKeysRequest) (*api.QueryKeysResponse, error) {
	var resp api.QueryKeysResponse
	if err := c.c.Call(ctx, pathQueryKeys, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// FetchKeys implements api.ServerKeyAPI.
func (c *Client) FetchKeys(ctx context.Context, req *api.FetchKeysRequest) (*api.FetchKeysResponse, error) {
	var resp api.FetchKeysResponse
	if err := c.c.Call(ctx, pathFetchKeys, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// VerifyJSON implements api.ServerKeyAPI.
func (c *Client) VerifyJSON(ctx context.Context, req *api.VerifyJSONRequest) (*api.VerifyJSONResponse, error) {
	r := *req
	r.Objects = append([]api.SignedObject(nil), req.Objects...)
	for i, o := range r.Objects {
		if !json.Valid(o.Object) { // json.Marshal would refuse it; the serverkeyapi answers why
			r.Objects[i].Object = json.RawMessage(`"not JSON"`)
		}
	}
	var resp api.VerifyJSONResponse
	if err := c.c.Call(ctx, pathVerifyJSON, &r, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// AddRoutes serves the serverkeyapi's internal API on r (a router mounted at
// inthttp.PathPrefix, such as setup's InternalAPIMux) from a, the direct implementation.
// The internal API secret is checked in front of r (polylith.Start).
func AddRoutes(r *mux.Router, a api.ServerKeyAPI) {
	sr := r.PathPrefix(pathPrefix).Subrouter()
	p := func(full string) string { return strings.TrimPrefix(full, pathPrefix) }
	inthttp.Handle(sr, p(pathServerKeys), func(ctx context.Context, _ *inthttp.Empty) (*rawResp, error) {
		raw, err := a.ServerKeys(ctx)
		return &rawResp{JSON: raw}, err
	})
	inthttp.Handle(sr, p(pathQueryKeys), func(ctx context.Context, req *api.QueryKeysRequest) (*api.QueryKeysResponse, error) {
		return a.QueryKeys(ctx, req)
	})
	inthttp.Handle(sr, p(pathFetchKeys), func(ctx context.Context, req *api.FetchKeysRequest) (*api.FetchKeysResponse, error) {
		return a.FetchKeys(ctx, req)
	})
	inthttp.Handle(sr, p(pathVerifyJSON), func(ctx context.Context, req *api.VerifyJSONRequest) (*api.VerifyJSONResponse, error) {
		return a.VerifyJSON(ctx, req)
	})
}
