package routing

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// Knocks of other servers' users on this server's rooms (arrow 3: the roomserver builds
// the template and stores the knock; the auth rules decide).

// sendKnock serves PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}: the knock of
// a user of the origin, with the path's ID and its sender's server's valid signature,
// stored after the auth rules; the answer is {"knock_room_state": [stripped state]}.
func (h *joinHandlers) sendKnock(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	roomID := mux.Vars(r)["roomId"]
	e := h.receivedMembership(w, r, "knock")
	if e == nil {
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
