package inthttp

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/inthttp"
)

// Arrows 7 (directory lookups) and 8 (a server contacted us) over internal HTTP, and
// arrow 17's backfill (below).
const (
	pathQueryRemoteDirectory = pathPrefix + "/queryRemoteDirectory"
	pathServerContacted      = pathPrefix + "/serverContacted"
)

var (
	_ api.DirectoryAPI = (*Client)(nil)
	_ api.ContactAPI   = (*Client)(nil)
)

// QueryRemoteDirectory implements api.DirectoryAPI (a query: retried).
func (c *Client) QueryRemoteDirectory(ctx context.Context, req *api.QueryRemoteDirectoryRequest) (*api.QueryRemoteDirectoryResponse, error) {
	var resp api.QueryRemoteDirectoryResponse
	if err := c.c.Call(ctx, pathQueryRemoteDirectory, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ServerContacted implements api.ContactAPI (harmless to repeat: retried).
func (c *Client) ServerContacted(ctx context.Context, req *api.ServerContactedRequest) error {
	return c.c.Call(ctx, pathServerContacted, req, nil, true)
}

// addContactRoutes serves arrows 7 and 8 and the backfill on sr (the /federationsender subrouter) when a
// implements them.
func addContactRoutes(sr *mux.Router, a any) {
	if d, ok := a.(api.DirectoryAPI); ok {
		inthttp.Handle(sr, strings.TrimPrefix(pathQueryRemoteDirectory, pathPrefix), d.QueryRemoteDirectory)
	}
	if b, ok := a.(api.BackfillAPI); ok {
		inthttp.Handle(sr, strings.TrimPrefix(pathPerformBackfill, pathPrefix), b.PerformBackfill)
	}
	if c, ok := a.(api.ContactAPI); ok {
		inthttp.HandleErr(sr, strings.TrimPrefix(pathServerContacted, pathPrefix), c.ServerContacted)
	}
}

// Arrow 17's backfill over internal HTTP.
const pathPerformBackfill = pathPrefix + "/performBackfill"

var _ api.BackfillAPI = (*Client)(nil)

// PerformBackfill implements api.BackfillAPI (reads only: retried).
func (c *Client) PerformBackfill(ctx context.Context, req *api.PerformBackfillRequest) (*api.PerformBackfillResponse, error) {
	var resp api.PerformBackfillResponse
	if err := c.c.Call(ctx, pathPerformBackfill, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}
