package inthttp

import (
	"context"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/roomserver/api"
)

// Arrow 3 (federationapi → roomserver) over internal HTTP.
const (
	pathInputFederation  = pathPrefix + "/inputFederationEvents"
	pathQueryMakeJoin    = pathPrefix + "/queryMakeJoin"
	pathPerformSendJoin  = pathPrefix + "/performSendJoin"
	pathQueryStateChain  = pathPrefix + "/queryStateAndAuthChain"
	pathQueryServerAllow = pathPrefix + "/queryServerAllowedInRoom"
	pathQueryMissing     = pathPrefix + "/queryMissingEvents"
	pathInboundInvite    = pathPrefix + "/performInboundInvite"
)

type serverRoomReq struct {
	RoomID     string `json:"room_id"`
	ServerName string `json:"server_name"`
}

type boolResp struct {
	Value bool `json:"value"`
}

// addFederationRoutes serves arrow 3's methods.
func addFederationRoutes(sr *mux.Router, a api.RoomserverAPI, p func(string) string) {
	addHistoryRoutes(sr, a, p) // history.go
	addSpacesRoutes(sr, a, p)  // spaces.go
	inthttp.Handle(sr, p(pathInputFederation), func(ctx context.Context, req *api.InputFederationEventsRequest) (*api.InputFederationEventsResponse, error) {
		return a.InputFederationEvents(ctx, req)
	})
	inthttp.Handle(sr, p(pathQueryMakeJoin), func(ctx context.Context, req *api.MakeJoinRequest) (*api.MakeJoinResponse, error) {
		return a.QueryMakeJoin(ctx, req)
	})
	inthttp.Handle(sr, p(pathPerformSendJoin), func(ctx context.Context, req *api.SendJoinRequest) (*api.SendJoinResponse, error) {
		return a.PerformSendJoin(ctx, req)
	})
	inthttp.Handle(sr, p(pathQueryStateChain), func(ctx context.Context, req *api.StateAndAuthChainRequest) (*api.StateAndAuthChain, error) {
		return a.QueryStateAndAuthChain(ctx, req)
	})
	inthttp.Handle(sr, p(pathQueryMissing), func(ctx context.Context, req *api.MissingEventsRequest) (*api.MissingEventsResponse, error) {
		return a.QueryMissingEvents(ctx, req)
	})
	inthttp.Handle(sr, p(pathInboundInvite), func(ctx context.Context, req *api.InboundInviteRequest) (*api.InboundInviteResponse, error) {
		return a.PerformInboundInvite(ctx, req)
	})
	inthttp.Handle(sr, p(pathQueryServerAllow), func(ctx context.Context, req *serverRoomReq) (*boolResp, error) {
		ok, err := a.QueryServerAllowedInRoom(ctx, req.RoomID, req.ServerName)
		return &boolResp{Value: ok}, err
	})
}

// InputFederationEvents implements api.RoomserverAPI. Storing an event again is harmless
// (already stored events are accepted as they are), so it is retried like a query.
func (c *Client) InputFederationEvents(ctx context.Context, req *api.InputFederationEventsRequest) (*api.InputFederationEventsResponse, error) {
	r := *req
	r.Events = append([]api.FederationEvent(nil), req.Events...)
	for i := range r.Events {
		r.Events[i].JSON = validRaw(r.Events[i].JSON)
	}
	var resp api.InputFederationEventsResponse
	if err := c.call(ctx, pathInputFederation, &r, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryMakeJoin implements api.RoomserverAPI.
func (c *Client) QueryMakeJoin(ctx context.Context, req *api.MakeJoinRequest) (*api.MakeJoinResponse, error) {
	var resp api.MakeJoinResponse
	if err := c.call(ctx, pathQueryMakeJoin, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// PerformSendJoin implements api.RoomserverAPI (a repeated join is answered from storage,
// so it is retried like a query).
func (c *Client) PerformSendJoin(ctx context.Context, req *api.SendJoinRequest) (*api.SendJoinResponse, error) {
	r := *req
	r.Event.JSON = validRaw(r.Event.JSON)
	var resp api.SendJoinResponse
	if err := c.call(ctx, pathPerformSendJoin, &r, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryStateAndAuthChain implements api.RoomserverAPI.
func (c *Client) QueryStateAndAuthChain(ctx context.Context, req *api.StateAndAuthChainRequest) (*api.StateAndAuthChain, error) {
	var resp api.StateAndAuthChain
	if err := c.call(ctx, pathQueryStateChain, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryServerAllowedInRoom implements api.RoomserverAPI.
func (c *Client) QueryServerAllowedInRoom(ctx context.Context, roomID, serverName string) (bool, error) {
	var resp boolResp
	err := c.call(ctx, pathQueryServerAllow, serverRoomReq{RoomID: roomID, ServerName: serverName}, &resp, query)
	return resp.Value, err
}

// QueryMissingEvents implements api.RoomserverAPI.
func (c *Client) QueryMissingEvents(ctx context.Context, req *api.MissingEventsRequest) (*api.MissingEventsResponse, error) {
	var resp api.MissingEventsResponse
	if err := c.call(ctx, pathQueryMissing, req, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// PerformInboundInvite implements api.RoomserverAPI. Storing the same invite again
// changes nothing, so it is retried like a query.
func (c *Client) PerformInboundInvite(ctx context.Context, req *api.InboundInviteRequest) (*api.InboundInviteResponse, error) {
	var resp api.InboundInviteResponse
	if err := c.c.Call(ctx, pathInboundInvite, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}
