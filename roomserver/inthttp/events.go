package inthttp

import (
	"context"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/roomserver/api"
)

// QueryEventsByID over internal HTTP (arrow 2, syncapi → roomserver): a query (retried).
const pathQueryEventsByID = pathPrefix + "/queryEventsByID"

type eventIDsReq struct {
	EventIDs []string `json:"event_ids"`
}

type eventsByIDResp struct {
	Events map[string]api.EventJSON `json:"events"`
}

func addEventsRoutes(sr *mux.Router, a api.RoomserverAPI, p func(string) string) {
	inthttp.Handle(sr, p(pathQueryEventsByID), func(ctx context.Context, req *eventIDsReq) (*eventsByIDResp, error) {
		evs, err := a.QueryEventsByID(ctx, req.EventIDs)
		return &eventsByIDResp{Events: evs}, err
	})
}

// QueryEventsByID implements api.RoomserverAPI.
func (c *Client) QueryEventsByID(ctx context.Context, eventIDs []string) (map[string]api.EventJSON, error) {
	var resp eventsByIDResp
	if err := c.call(ctx, pathQueryEventsByID, eventIDsReq{EventIDs: eventIDs}, &resp, query); err != nil {
		return nil, err
	}
	if resp.Events == nil {
		resp.Events = map[string]api.EventJSON{}
	}
	return resp.Events, nil
}
