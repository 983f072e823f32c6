package routing

import (
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// putPresence serves PUT /presence/{userId}/status (arrow 6): only for yourself. With
// presence switched off (edu_server.presence_enabled: false) the eduserver accepts and
// ignores it, as Synapse does.
func (rt *Routes) putPresence(r *http.Request, dev *userapi.Device) (any, error) {
	target := mux.Vars(r)["userId"]
	if _, _, err := parseUserID(target); err != nil {
		return nil, err
	}
	if target != dev.UserID {
		return nil, httputil.Forbidden("Cannot set the presence state of another user")
	}
	var body struct {
		Presence  *string `json:"presence"`
		StatusMsg *string `json:"status_msg"`
	}
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	if body.Presence == nil {
		return nil, httputil.BadJSON("presence is required")
	}
	switch *body.Presence {
	case eduapi.PresenceOnline, eduapi.PresenceUnavailable, eduapi.PresenceOffline:
	default:
		return nil, httputil.InvalidParam("presence must be online, unavailable or offline")
	}
	if body.StatusMsg != nil && len(*body.StatusMsg) > eduapi.MaxStatusMsgLength {
		return nil, httputil.InvalidParam("status_msg is longer than %d bytes", eduapi.MaxStatusMsgLength)
	}
	return empty, rt.eduAPI.SetPresence(r.Context(), &eduapi.SetPresenceRequest{UserID: dev.UserID,
		Presence: *body.Presence, StatusMsg: body.StatusMsg})
}

// getPresence serves GET /presence/{userId}/status: your own, or that of a user you share
// a joined room with (arrow 4, QueryRoomsForUser), else 403 M_FORBIDDEN (as Synapse).
func (rt *Routes) getPresence(r *http.Request, dev *userapi.Device) (any, error) {
	target := mux.Vars(r)["userId"]
	if _, _, err := parseUserID(target); err != nil {
		return nil, err
	}
	if target != dev.UserID {
		shared, err := rt.shareRoom(r, dev.UserID, target)
		if err != nil {
			return nil, err
		}
		if !shared {
			return nil, httputil.Forbidden("You are not allowed to see their presence")
		}
	}
	return rt.eduAPI.GetPresence(r.Context(), target)
}

// shareRoom reports whether a and b are both joined to some room.
func (rt *Routes) shareRoom(r *http.Request, a, b string) (bool, error) {
	join := []string{"join"}
	ra, err := rt.rsAPI.QueryRoomsForUser(r.Context(), a, join)
	if err != nil || len(ra) == 0 {
		return false, err
	}
	rb, err := rt.rsAPI.QueryRoomsForUser(r.Context(), b, join)
	if err != nil {
		return false, err
	}
	for _, room := range rb {
		if slices.Contains(ra, room) {
			return true, nil
		}
	}
	return false, nil
}
