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

// sendLeave serves PUT /_matrix/federation/v1|v2/send_leave/{roomId}/{eventId}: the leave
// of a user of the origin, with the path's ID and its sender's server's valid signature,
// stored after the auth rules; v1 answers [200, {}], v2 {}.
func (h *joinHandlers) sendLeave(v1 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		roomID := mux.Vars(r)["roomId"]
		e := h.receivedMembership(w, r, "leave")
		if e == nil {
			return
		}
		if _, err := h.rs.PerformSendJoin(ctx, &rsapi.SendJoinRequest{Origin: Origin(ctx), RoomID: roomID, Membership: "leave",
			Event: rsapi.FederationEvent{EventID: e.EventID(), JSON: e.JSON()}}); err != nil {
			httputil.WriteError(w, err)
			return
		}
		if v1 {
			httputil.WriteJSON(w, http.StatusOK, []any{http.StatusOK, struct{}{}})
			return
		}
		httputil.WriteJSON(w, http.StatusOK, struct{}{})
	}
}

// invite serves PUT /_matrix/federation/v1|v2/invite/{roomId}/{eventId}: another server
// invites one of our users. The invite must be the path's event, sent by a user of the
// origin, signed by it, and for a user of this server; the roomserver stores it and signs
// it (arrow 3), and the answer is the event with our signature. v2's body is {room_version,
// event, invite_room_state}; v1's is the bare event (room versions 1 and 2 only) with the
// stripped state in unsigned.invite_room_state, and it answers [200, {"event": …}].
func (h *joinHandlers) invite(v1 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		vars := mux.Vars(r)
		roomID, eventID := vars["roomId"], vars["eventId"]
		raw, me := httputil.ReadBody(r, h.cfg.MaxBodyBytes)
		if me != nil {
			httputil.WriteError(w, me)
			return
		}
		var body struct {
			RoomVersion     string            `json:"room_version"`
			Event           json.RawMessage   `json:"event"`
			InviteRoomState []json.RawMessage `json:"invite_room_state"`
		}
		if v1 {
			body.Event = raw
			var un struct {
				Unsigned struct {
					State []json.RawMessage `json:"invite_room_state"`
				} `json:"unsigned"`
			}
			_ = json.Unmarshal(raw, &un)
			body.InviteRoomState = un.Unsigned.State
			// v1 is for the room versions whose events carry their ID; the room's version is
			// not in the request, and 1 and 2 share their event format.
			body.RoomVersion = "1"
		} else if err := json.Unmarshal(raw, &body); err != nil || len(body.Event) == 0 {
			httputil.WriteError(w, httputil.BadJSON("The body must be {room_version, event, invite_room_state}"))
			return
		}
		if _, err := matrix.GetRoomVersion(matrix.RoomVersionID(body.RoomVersion)); err != nil {
			httputil.WriteError(w, &httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: "M_INCOMPATIBLE_ROOM_VERSION",
				Err: "This server does not support room version " + body.RoomVersion, Extra: map[string]any{"room_version": body.RoomVersion}})
			return
		}
		e, err := event.NewEventFromUntrustedJSON(body.Event, matrix.RoomVersionID(body.RoomVersion))
		if err != nil {
			httputil.WriteError(w, httputil.BadJSON("Bad invite event: %v", err))
			return
		}
		if e.EventID() != eventID || e.RoomID() != roomID {
			httputil.WriteError(w, httputil.BadJSON("The event's ID or room does not match the path"))
			return
		}
		if server, _ := matrix.ServerNameOf(e.Sender()); server != Origin(ctx) {
			httputil.WriteError(w, httputil.Forbidden("%s may not send an invite from %s", Origin(ctx), e.Sender()))
			return
		}
		if e.StateKey() == nil {
			httputil.WriteError(w, httputil.BadJSON("The invite has no state_key"))
			return
		}
		if server, _ := matrix.ServerNameOf(*e.StateKey()); server != h.cfg.ServerName {
			httputil.WriteError(w, httputil.Forbidden("%s is not a user of this server", *e.StateKey()))
			return
		}
		if err := h.keys(ctx, e); err != nil {
			httputil.WriteError(w, httputil.Forbidden("The invite's signature does not verify: %v", err))
			return
		}
		resp, err := h.rs.PerformInboundInvite(ctx, &rsapi.InboundInviteRequest{RoomVersion: body.RoomVersion, Event: e.JSON(),
			InviteRoomState: body.InviteRoomState})
		if err != nil {
			httputil.WriteError(w, err)
			return
		}
		out := map[string]any{"event": resp.Event}
		if v1 {
			httputil.WriteJSON(w, http.StatusOK, []any{http.StatusOK, out})
			return
		}
		httputil.WriteJSON(w, http.StatusOK, out)
	}
}
