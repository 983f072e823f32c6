package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// eventHandlers serve GET /event/{eventId}, /state/{roomId} and /state_ids/{roomId} (arrow
// 3: the roomserver answers), only to servers that may see the room (a joined member, or
// world_readable history).
type eventHandlers struct {
	cfg Config
	rs  rsapi.RoomserverAPI
}

// mayRead answers 403 unless origin may see the room.
func (h *eventHandlers) mayRead(ctx context.Context, w http.ResponseWriter, roomID, origin string) bool {
	ok, err := h.rs.QueryServerAllowedInRoom(ctx, roomID, origin)
	if err != nil {
		httputil.WriteError(w, err)
		return false
	}
	if !ok {
		httputil.WriteError(w, httputil.Forbidden("%s is not in room %s", origin, roomID))
	}
	return ok
}

func (h *eventHandlers) event(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ev, err := h.rs.QueryEvent(ctx, mux.Vars(r)["eventId"])
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	var head struct {
		RoomID string `json:"room_id"`
	}
	if json.Unmarshal(ev.Event, &head) != nil || head.RoomID == "" {
		// A v12 create event carries no room ID; it is not served alone.
		httputil.WriteError(w, httputil.NotFound("Event not found"))
		return
	}
	if !checkACL(ctx, w, h.rs, head.RoomID, Origin(ctx)) || !h.mayRead(ctx, w, head.RoomID, Origin(ctx)) {
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"origin": h.cfg.ServerName,
		"origin_server_ts": time.Now().UnixMilli(), "pdus": []json.RawMessage{ev.Event}})
}

func (h *eventHandlers) state(idsOnly bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		roomID := mux.Vars(r)["roomId"]
		eventID := r.URL.Query().Get("event_id")
		if eventID == "" {
			httputil.WriteError(w, httputil.MissingParam("event_id is required"))
			return
		}
		if !h.mayRead(ctx, w, roomID, Origin(ctx)) {
			return
		}
		sc, err := h.rs.QueryStateAndAuthChain(ctx, &rsapi.StateAndAuthChainRequest{RoomID: roomID, EventID: eventID, IDsOnly: idsOnly})
		if err != nil {
			httputil.WriteError(w, err)
			return
		}
		if idsOnly {
			httputil.WriteJSON(w, http.StatusOK, map[string]any{"pdu_ids": nonNil(sc.StateIDs), "auth_chain_ids": nonNil(sc.AuthChainIDs)})
			return
		}
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"pdus": nonNilRaw(sc.StateEvents), "auth_chain": nonNilRaw(sc.AuthChain)})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilRaw(s []json.RawMessage) []json.RawMessage {
	if s == nil {
		return []json.RawMessage{}
	}
	return s
}

// missingEvents serves POST /_matrix/federation/v1/get_missing_events/{roomId}.
func (h *eventHandlers) missingEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	roomID := mux.Vars(r)["roomId"]
	var body struct {
		EarliestEvents []string `json:"earliest_events"`
		LatestEvents   []string `json:"latest_events"`
		Limit          int      `json:"limit"`
		MinDepth       int64    `json:"min_depth"`
	}
	if me := httputil.ReadJSONObject(r, h.cfg.MaxBodyBytes, &body); me != nil {
		httputil.WriteError(w, me)
		return
	}
	if len(body.LatestEvents) == 0 {
		httputil.WriteError(w, httputil.MissingParam("latest_events is required"))
		return
	}
	if !h.mayRead(ctx, w, roomID, Origin(ctx)) {
		return
	}
	resp, err := h.rs.QueryMissingEvents(ctx, &rsapi.MissingEventsRequest{RoomID: roomID, EarliestEvents: body.EarliestEvents,
		LatestEvents: body.LatestEvents, Limit: body.Limit, MinDepth: body.MinDepth})
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"events": nonNilRaw(resp.Events)})
}
