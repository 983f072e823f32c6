package routing

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// joinHandlers serve make_join and send_join v1/v2 (arrow 3: the roomserver builds the
// template and stores the join).
type joinHandlers struct {
	cfg  Config
	rs   rsapi.RoomserverAPI
	keys func(ctx context.Context, e *event.Event) error
}

// makeJoin serves GET /_matrix/federation/v1/make_join/{roomId}/{userId}?ver=…: only for a
// user of the requesting server.
func (h *joinHandlers) makeJoin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vars := mux.Vars(r)
	userID := vars["userId"]
	if server, ok := matrix.ServerNameOf(userID); !ok || server != Origin(ctx) {
		httputil.WriteError(w, httputil.Forbidden("%s may not join for %s", Origin(ctx), userID))
		return
	}
	resp, err := h.rs.QueryMakeJoin(ctx, &rsapi.MakeJoinRequest{RoomID: vars["roomId"], UserID: userID, Versions: r.URL.Query()["ver"]})
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_version": resp.RoomVersion, "event": resp.Event})
}

// sendJoin serves PUT /_matrix/federation/v1|v2/send_join/{roomId}/{eventId}: the event's
// ID must be the path's and it must carry a valid signature of its sender's server (the
// origin); v1 answers [200, {…}].
func (h *joinHandlers) sendJoin(v1 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		vars := mux.Vars(r)
		roomID, eventID := vars["roomId"], vars["eventId"]
		raw, me := httputil.ReadBody(r, h.cfg.MaxBodyBytes)
		if me != nil {
			httputil.WriteError(w, me)
			return
		}
		version, err := h.rs.QueryRoomVersion(ctx, roomID)
		if err != nil {
			httputil.WriteError(w, err)
			return
		}
		e, err := event.NewEventFromUntrustedJSON(raw, matrix.RoomVersionID(version))
		if err != nil {
			httputil.WriteError(w, httputil.BadJSON("Bad join event: %v", err))
			return
		}
		if e.EventID() != eventID || e.RoomID() != roomID {
			httputil.WriteError(w, httputil.BadJSON("The event's ID or room does not match the path"))
			return
		}
		if server, _ := matrix.ServerNameOf(e.Sender()); server != Origin(ctx) {
			httputil.WriteError(w, httputil.Forbidden("%s may not send a join for %s", Origin(ctx), e.Sender()))
			return
		}
		if err := h.keys(ctx, e); err != nil {
			httputil.WriteError(w, httputil.Forbidden("The join's signature does not verify: %v", err))
			return
		}
		resp, err := h.rs.PerformSendJoin(ctx, &rsapi.SendJoinRequest{Origin: Origin(ctx), RoomID: roomID,
			Event: rsapi.FederationEvent{EventID: e.EventID(), JSON: e.JSON()}})
		if err != nil {
			httputil.WriteError(w, err)
			return
		}
		body := map[string]any{"origin": h.cfg.ServerName, "state": nonNilRaw(resp.StateEvents),
			"auth_chain": nonNilRaw(resp.AuthChain), "event": resp.Event}
		if v1 {
			httputil.WriteJSON(w, http.StatusOK, []any{http.StatusOK, body})
			return
		}
		httputil.WriteJSON(w, http.StatusOK, body)
	}
}
