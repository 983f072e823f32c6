package inthttp

import (
	"context"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/roomserver/api"
)

// Arrow 3's history queries (federationapi → roomserver) over internal HTTP: /event_auth,
// /backfill and /timestamp_to_event. All are queries (retried).
const (
	pathQueryAuthChain   = pathPrefix + "/queryAuthChain"
	pathQueryBackfill    = pathPrefix + "/queryBackfill"
	pathQueryEventByTime = pathPrefix + "/queryEventByTimestamp"
)

func addHistoryRoutes(sr *mux.Router, a api.RoomserverAPI, p func(string) string) {
	inthttp.Handle(sr, p(pathQueryAuthChain), func(ctx context.Context, req *api.AuthChainRequest) (*api.AuthChainResponse, error) {
		return a.QueryAuthChain(ctx, req)
	})
	inthttp.Handle(sr, p(pathQueryBackfill), func(ctx context.Context, req *api.BackfillRequest) (*api.BackfillResponse, error) {
		return a.QueryBackfill(ctx, req)
	})
	inthttp.Handle(sr, p(pathQueryEventByTime), func(ctx context.Context, req *api.EventByTimestampRequest) (*api.EventByTimestampResponse, error) {
		return a.QueryEventByTimestamp(ctx, req)
	})
	inthttp.Handle(sr, p(pathPerformBackfill), func(ctx context.Context, req *api.BackfillHistoryRequest) (*api.BackfillHistoryResponse, error) {
		return a.PerformBackfill(ctx, req)
	})
}

// QueryAuthChain implements api.RoomserverAPI.
func (c *Client) QueryAuthChain(ctx context.Context, req *api.AuthChainRequest) (*api.AuthChainResponse, error) {
	var resp api.AuthChainResponse
	if err := c.call(ctx, pathQueryAuthChain, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryBackfill implements api.RoomserverAPI.
func (c *Client) QueryBackfill(ctx context.Context, req *api.BackfillRequest) (*api.BackfillResponse, error) {
	var resp api.BackfillResponse
	if err := c.call(ctx, pathQueryBackfill, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryEventByTimestamp implements api.RoomserverAPI.
func (c *Client) QueryEventByTimestamp(ctx context.Context, req *api.EventByTimestampRequest) (*api.EventByTimestampResponse, error) {
	var resp api.EventByTimestampResponse
	if err := c.call(ctx, pathQueryEventByTime, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Arrow 2's backfill (syncapi → roomserver). It stores what it fetches, but storing it
// again is harmless (held events are kept as they are): retried like a query.
const pathPerformBackfill = pathPrefix + "/performBackfill"

// PerformBackfill implements api.RoomserverAPI.
func (c *Client) PerformBackfill(ctx context.Context, req *api.BackfillHistoryRequest) (*api.BackfillHistoryResponse, error) {
	var resp api.BackfillHistoryResponse
	if err := c.call(ctx, pathPerformBackfill, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}
