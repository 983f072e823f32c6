package routing

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// Knocks of other servers' users on this server's rooms (arrow 3: the roomserver builds
// the template and stores the knock; the auth rules decide).

// makeKnock serves GET /_matrix/federation/v1/make_knock/{roomId}/{userId}?ver=…: a knock
// template for a user of the requesting server; 400 M_INCOMPATIBLE_ROOM_VERSION when the
// room's version is not among the ver parameters, 403 M_FORBIDDEN when the room may not be
// knocked on (its join rule, its version, the user's membership).
func (h *joinHandlers) makeKnock(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vars := mux.Vars(r)
	userID := vars["userId"]
	if server, ok := matrix.ServerNameOf(userID); !ok || server != Origin(ctx) {
		httputil.WriteError(w, httputil.Forbidden("%s may not knock for %s", Origin(ctx), userID))
		return
	}
	versions := r.URL.Query()["ver"]
	if len(versions) == 0 {
		httputil.WriteError(w, httputil.MissingParam("ver is required"))
		return
	}
	resp, err := h.rs.QueryMakeJoin(ctx, &rsapi.MakeJoinRequest{RoomID: vars["roomId"], UserID: userID, Versions: versions,
		Membership: "knock"})
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_version": resp.RoomVersion, "event": resp.Event})
}

// sendKnock serves PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}: the knock of
// a user of the origin, with the path's ID and its sender's server's valid signature,
// stored after the auth rules; the answer is {"knock_room_state": [stripped state]}.
func (h *joinHandlers) sendKnock(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vars := mux.Vars(r)
	roomID, eventID := vars["roomId"], vars["eventId"]
	raw, me := httputil.ReadBody(r, h.cfg.MaxBodyBytes)
	if me != nil {
		httputil.WriteError(w, me)
		return
	}
	if !json.Valid(raw) {
		httputil.WriteError(w, httputil.NotJSON("The body is not JSON"))
		return
	}
	version, err := h.rs.QueryRoomVersion(ctx, roomID)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	e, err := event.NewEventFromUntrustedJSON(raw, matrix.RoomVersionID(version))
	if err != nil {
		httputil.WriteError(w, httputil.BadJSON("Bad knock event: %v", err))
		return
	}
	if e.EventID() != eventID || e.RoomID() != roomID {
		httputil.WriteError(w, httputil.BadJSON("The event's ID or room does not match the path"))
		return
	}
	if server, _ := matrix.ServerNameOf(e.Sender()); server != Origin(ctx) {
		httputil.WriteError(w, httputil.Forbidden("%s may not send a knock for %s", Origin(ctx), e.Sender()))
		return
	}
	if err := h.keys(ctx, e); err != nil {
		httputil.WriteError(w, httputil.Forbidden("The knock's signature does not verify: %v", err))
		return
	}
	resp, err := h.rs.PerformSendJoin(ctx, &rsapi.SendJoinRequest{Origin: Origin(ctx), RoomID: roomID, Membership: "knock",
		Event: rsapi.FederationEvent{EventID: e.EventID(), JSON: e.JSON()}})
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"knock_room_state": nonNilRaw(resp.KnockRoomState)})
}
