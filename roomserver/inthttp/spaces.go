package inthttp

import (
	"context"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/roomserver/api"
)

// Spaces over internal HTTP: the clientapi's /hierarchy (arrow 4) and the federation
// /hierarchy (arrow 3). Both are queries (retried): a repeated walk page only leaves one
// more pagination session behind.
const (
	pathQueryHierarchy           = pathPrefix + "/queryHierarchy"
	pathQueryFederationHierarchy = pathPrefix + "/queryFederationHierarchy"
)

func addSpacesRoutes(sr *mux.Router, a api.RoomserverAPI, p func(string) string) {
	inthttp.Handle(sr, p(pathQueryHierarchy), func(ctx context.Context, req *api.HierarchyRequest) (*api.HierarchyResponse, error) {
		return a.QueryHierarchy(ctx, req)
	})
	inthttp.Handle(sr, p(pathQueryFederationHierarchy), func(ctx context.Context, req *api.FederationHierarchyRequest) (*api.FederationHierarchyResponse, error) {
		return a.QueryFederationHierarchy(ctx, req)
	})
}

// QueryHierarchy implements api.RoomserverAPI.
func (c *Client) QueryHierarchy(ctx context.Context, req *api.HierarchyRequest) (*api.HierarchyResponse, error) {
	var resp api.HierarchyResponse
	if err := c.call(ctx, pathQueryHierarchy, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryFederationHierarchy implements api.RoomserverAPI.
func (c *Client) QueryFederationHierarchy(ctx context.Context, req *api.FederationHierarchyRequest) (*api.FederationHierarchyResponse, error) {
	var resp api.FederationHierarchyResponse
	if err := c.call(ctx, pathQueryFederationHierarchy, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}
