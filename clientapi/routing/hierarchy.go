package routing

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// hierarchy serves GET /_matrix/client/v1/rooms/{roomId}/hierarchy: the space tree below
// the room, walked by the roomserver (arrow 4, QueryHierarchy; rooms this server does not
// hold asked of their servers over arrow 17 → 7). The parameters are checked here:
// suggested_only true or false, limit above zero, max_depth not negative.
func (rt *Routes) hierarchy(r *http.Request, dev *userapi.Device) (any, error) {
	roomID := mux.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	req := &rsapi.HierarchyRequest{RoomID: roomID, UserID: dev.UserID, From: q.Get("from")}
	switch q.Get("suggested_only") {
	case "", "false":
	case "true":
		req.SuggestedOnly = true
	default:
		return nil, httputil.InvalidParam("suggested_only must be true or false")
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return nil, httputil.InvalidParam("limit must be an integer greater than zero")
		}
		req.Limit = n
	}
	if d := q.Get("max_depth"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return nil, httputil.InvalidParam("max_depth must be a non-negative integer")
		}
		req.MaxDepth = &n
	}
	resp, err := rt.rsAPI.QueryHierarchy(r.Context(), req)
	if err != nil {
		return nil, err
	}
	if resp.Rooms == nil {
		resp.Rooms = []rsapi.HierarchyRoom{}
	}
	return resp, nil
}
