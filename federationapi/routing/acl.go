package routing

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// aclTuple is the room's server ACL (spec "Server Access Control Lists").
var aclTuple = []rsapi.StateTuple{{EventType: "m.room.server_acl"}}

// serverAllowed says whether the room's m.room.server_acl lets server take part in it
// (arrow 3, QueryCurrentState). A room without an ACL, or one this server does not hold,
// allows every server: the handler then answers as it would anyway.
func serverAllowed(ctx context.Context, rs rsapi.RoomserverAPI, roomID, server string) (bool, error) {
	evs, err := rs.QueryCurrentState(ctx, roomID, aclTuple)
	if err != nil {
		if isNotFound(err) {
			return true, nil
		}
		return false, err
	}
	if len(evs) == 0 {
		return true, nil
	}
	var e struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(evs[0], &e) != nil {
		return true, nil
	}
	return matrix.ParseServerACL(e.Content).Allowed(server), nil
}

// checkACL answers 403 M_FORBIDDEN and returns false when the origin is denied by the
// room's server ACL.
func checkACL(ctx context.Context, w http.ResponseWriter, rs rsapi.RoomserverAPI, roomID, origin string) bool {
	ok, err := serverAllowed(ctx, rs, roomID, origin)
	if err != nil {
		httputil.WriteError(w, err)
		return false
	}
	if !ok {
		httputil.WriteError(w, httputil.Forbidden("Server %s is denied by the room's server ACL", origin))
	}
	return ok
}

// withACL wraps a handler of a path with {roomId}: an origin the room's server ACL denies
// is answered 403 M_FORBIDDEN before the handler runs. It runs inside Authenticate.
func withACL(rs rsapi.RoomserverAPI, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !checkACL(r.Context(), w, rs, mux.Vars(r)["roomId"], Origin(r.Context())) {
			return
		}
		h(w, r)
	}
}

// aclFilterEDUs drops the EDUs of /send that concern a room whose server ACL denies the
// origin: m.typing (content.room_id) whole, and the denied rooms of an m.receipt (its
// content is keyed by room ID). The others concern no room and are kept.
func aclFilterEDUs(ctx context.Context, rs rsapi.RoomserverAPI, origin string, edus []eduapi.FederationEDU) ([]eduapi.FederationEDU, error) {
	cache := map[string]bool{}
	allowed := func(roomID string) (bool, error) {
		if ok, seen := cache[roomID]; seen {
			return ok, nil
		}
		ok, err := serverAllowed(ctx, rs, roomID, origin)
		cache[roomID] = ok
		return ok, err
	}
	out := edus[:0:0]
	for _, e := range edus {
		switch e.Type {
		case "m.typing":
			var c struct {
				RoomID string `json:"room_id"`
			}
			if json.Unmarshal(e.Content, &c) == nil && c.RoomID != "" {
				ok, err := allowed(c.RoomID)
				if err != nil {
					return nil, err
				}
				if !ok {
					logrus.WithField("origin", origin).WithField("room_id", c.RoomID).Info("federationapi: typing EDU dropped by the room's server ACL")
					continue
				}
			}
		case "m.receipt":
			var rooms map[string]json.RawMessage
			if json.Unmarshal(e.Content, &rooms) != nil {
				break
			}
			dropped := false
			for roomID := range rooms {
				ok, err := allowed(roomID)
				if err != nil {
					return nil, err
				}
				if !ok {
					delete(rooms, roomID)
					dropped = true
				}
			}
			if dropped {
				if len(rooms) == 0 {
					continue
				}
				content, err := json.Marshal(rooms)
				if err != nil {
					return nil, err
				}
				e.Content = content
			}
		}
		out = append(out, e)
	}
	return out, nil
}
