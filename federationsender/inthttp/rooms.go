package inthttp

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/inthttp"
)

// Arrow 7's room directory and hierarchy lookups over internal HTTP (both queries: retried).
const (
	pathQueryRemotePublicRooms = pathPrefix + "/queryRemotePublicRooms"
	pathQueryRemoteHierarchy   = pathPrefix + "/queryRemoteHierarchy"
)

var _ api.RoomsAPI = (*Client)(nil)

// QueryRemotePublicRooms implements api.RoomsAPI.
func (c *Client) QueryRemotePublicRooms(ctx context.Context, req *api.QueryRemotePublicRoomsRequest) (*api.QueryRemotePublicRoomsResponse, error) {
	var resp api.QueryRemotePublicRoomsResponse
	if err := c.c.Call(ctx, pathQueryRemotePublicRooms, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryRemoteHierarchy implements api.RoomsAPI.
func (c *Client) QueryRemoteHierarchy(ctx context.Context, req *api.QueryRemoteHierarchyRequest) (*api.QueryRemoteHierarchyResponse, error) {
	var resp api.QueryRemoteHierarchyResponse
	if err := c.c.Call(ctx, pathQueryRemoteHierarchy, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// addRoomsRoutes serves arrow 7's room lookups on sr when a implements them.
func addRoomsRoutes(sr *mux.Router, a any) {
	if r, ok := a.(api.RoomsAPI); ok {
		inthttp.Handle(sr, strings.TrimPrefix(pathQueryRemotePublicRooms, pathPrefix), r.QueryRemotePublicRooms)
		inthttp.Handle(sr, strings.TrimPrefix(pathQueryRemoteHierarchy, pathPrefix), r.QueryRemoteHierarchy)
	}
}
