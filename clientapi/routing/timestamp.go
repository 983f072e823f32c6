package routing

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// timestampToEvent serves GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event?ts=&dir=
// for a member of the room: the room's event closest to ts in direction dir ("f": at or
// after, "b": at or before), from what this server holds (arrow 4, QueryEventByTimestamp).
func (rt *Routes) timestampToEvent(r *http.Request, dev *userapi.Device) (any, error) {
	roomID := mux.Vars(r)["roomId"]
	if err := rt.requireJoined(r.Context(), roomID, dev.UserID); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	if q.Get("ts") == "" || q.Get("dir") == "" {
		return nil, httputil.MissingParam("ts and dir are required")
	}
	ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
	if err != nil {
		return nil, httputil.InvalidParam("ts must be an integer")
	}
	dir := q.Get("dir")
	if dir != "f" && dir != "b" {
		return nil, httputil.InvalidParam("dir must be f or b")
	}
	return rt.rsAPI.QueryEventByTimestamp(r.Context(), &rsapi.EventByTimestampRequest{RoomID: roomID, TS: ts, Dir: dir})
}
