package routing

import (
	"context"
	"encoding/json"
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

// makeMembership serves GET /_matrix/federation/v1/make_join|make_leave|make_knock/
// {roomId}/{userId}: a template of that membership event for a user of the requesting
// server (arrow 3: the roomserver builds it; the auth rules decide, M_FORBIDDEN when they
// would refuse it). Joins and knocks offer room versions in ?ver= (the roomserver answers
// M_INCOMPATIBLE_ROOM_VERSION when the room's is not among them); a knock must name some.
func (h *joinHandlers) makeMembership(membership string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		vars := mux.Vars(r)
		userID := vars["userId"]
		if server, ok := matrix.ServerNameOf(userID); !ok || server != Origin(ctx) {
			httputil.WriteError(w, httputil.Forbidden("%s may not %s for %s", Origin(ctx), membership, userID))
			return
		}
		req := &rsapi.MakeJoinRequest{RoomID: vars["roomId"], UserID: userID}
		if membership != "join" {
			req.Membership = membership
		}
		if membership != "leave" {
			req.Versions = r.URL.Query()["ver"]
		}
		if membership == "knock" && len(req.Versions) == 0 {
			httputil.WriteError(w, httputil.MissingParam("ver is required"))
			return
		}
		resp, err := h.rs.QueryMakeJoin(ctx, req)
		if err != nil {
			httputil.WriteError(w, err)
			return
		}
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_version": resp.RoomVersion, "event": resp.Event})
	}
}

// receivedMembership reads the body of send_join, send_leave and send_knock (PUT
// …/{roomId}/{eventId}): the event in the room's version, with the path's ID and room,
// sent by a user of the origin and carrying a valid signature of that server. On failure
// it writes the error and returns nil.
func (h *joinHandlers) receivedMembership(w http.ResponseWriter, r *http.Request, membership string) *event.Event {
	ctx := r.Context()
	vars := mux.Vars(r)
	roomID, eventID := vars["roomId"], vars["eventId"]
	raw, me := httputil.ReadBody(r, h.cfg.MaxBodyBytes)
	if me != nil {
		httputil.WriteError(w, me)
		return nil
	}
	if !json.Valid(raw) {
		httputil.WriteError(w, httputil.NotJSON("The body is not JSON"))
		return nil
	}
	version, err := h.rs.QueryRoomVersion(ctx, roomID)
	if err != nil {
		httputil.WriteError(w, err)
		return nil
	}
	e, err := event.NewEventFromUntrustedJSON(raw, matrix.RoomVersionID(version))
	if err != nil {
		httputil.WriteError(w, httputil.BadJSON("Bad %s event: %v", membership, err))
		return nil
	}
	if e.EventID() != eventID || e.RoomID() != roomID {
		httputil.WriteError(w, httputil.BadJSON("The event's ID or room does not match the path"))
		return nil
	}
	if server, _ := matrix.ServerNameOf(e.Sender()); server != Origin(ctx) {
		httputil.WriteError(w, httputil.Forbidden("%s may not send a %s for %s", Origin(ctx), membership, e.Sender()))
		return nil
	}
	if err := h.keys(ctx, e); err != nil {
		httputil.WriteError(w, httputil.Forbidden("The %s's signature does not verify: %v", membership, err))
		return nil
	}
	return e
}

// sendJoin serves PUT /_matrix/federation/v1|v2/send_join/{roomId}/{eventId}: the event's
// ID must be the path's and it must carry a valid signature of its sender's server (the
// origin); v1 answers [200, {…}].
func (h *joinHandlers) sendJoin(v1 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		roomID := mux.Vars(r)["roomId"]
		e := h.receivedMembership(w, r, "join")
		if e == nil {
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
