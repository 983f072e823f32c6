package routing

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// getState serves GET /rooms/{roomId}/state: the roomserver decides what the user may see
// (current state when joined, the state at their leave otherwise) (arrow 4).
func (rt *Routes) getState(r *http.Request, dev *userapi.Device) (any, error) {
	roomID := mux.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	ctx := r.Context()
	events, err := rt.rsAPI.QueryStateForUser(ctx, roomID, dev.UserID, nil)
	if err != nil {
		return nil, err
	}
	version, err := rt.rsAPI.QueryRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	out := make([]*event.ClientEvent, 0, len(events))
	for _, ev := range events {
		ce, err := toClientEvent(ev, version)
		if err != nil {
			return nil, err
		}
		out = append(out, ce)
	}
	return out, nil
}

// getStateEvent serves GET /rooms/{roomId}/state/{eventType}[/{stateKey}]: the content,
// or with ?format=event the whole client event.
func (rt *Routes) getStateEvent(r *http.Request, dev *userapi.Device) (any, error) {
	v := mux.Vars(r)
	if err := checkRoomID(v["roomId"]); err != nil {
		return nil, err
	}
	if err := checkEventType(v["eventType"]); err != nil {
		return nil, err
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "content" && format != "event" {
		return nil, httputil.InvalidParam("format must be content or event")
	}
	ctx := r.Context()
	events, err := rt.rsAPI.QueryStateForUser(ctx, v["roomId"], dev.UserID,
		[]rsapi.StateTuple{{EventType: v["eventType"], StateKey: v["stateKey"]}})
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, httputil.NotFound("No %s state event with state key %q in this room", v["eventType"], v["stateKey"])
	}
	version, err := rt.rsAPI.QueryRoomVersion(ctx, v["roomId"])
	if err != nil {
		return nil, err
	}
	ce, err := toClientEvent(events[0], version)
	if err != nil {
		return nil, err
	}
	if format == "event" {
		return ce, nil
	}
	return ce.Content, nil
}
