package routing

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// hierarchy serves GET /_matrix/federation/v1/hierarchy/{roomId}?suggested_only=: the
// space and its children held here, as the origin may see them (arrow 3,
// QueryFederationHierarchy; the space's server ACL is checked before, by withACL, and each
// child's by the roomserver). 404 M_NOT_FOUND when the room is not held here or is not
// visible to the origin.
func (h *eventHandlers) hierarchy(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req := &rsapi.FederationHierarchyRequest{RoomID: mux.Vars(r)["roomId"], Origin: Origin(ctx)}
	switch r.URL.Query().Get("suggested_only") {
	case "", "false":
	case "true":
		req.SuggestedOnly = true
	default:
		httputil.WriteError(w, httputil.InvalidParam("suggested_only must be true or false"))
		return
	}
	resp, err := h.rs.QueryFederationHierarchy(ctx, req)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	if resp.Children == nil {
		resp.Children = []rsapi.HierarchyRoom{}
	}
	if resp.InaccessibleChildren == nil {
		resp.InaccessibleChildren = []string{}
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
}
