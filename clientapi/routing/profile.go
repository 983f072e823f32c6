package routing

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/setup"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Profile field limits (Synapse's).
const (
	maxDisplayNameLength = 256
	maxAvatarURLLength   = 1000
)

// localProfile fetches a local user's profile; remote users would need federation.
func (rt *Routes) localProfile(ctx context.Context, userID string) (*userapi.Profile, error) {
	_, server, err := parseUserID(userID)
	if err != nil {
		return nil, err
	}
	if server != rt.cfg.ServerName {
		return nil, httputil.NotFound("Profiles of users on other servers cannot be fetched: federation is not available")
	}
	acc, err := rt.userAPI.GetAccount(ctx, userID)
	if isNotFound(err) && rt.queryAppServiceUser(ctx, userID) { // appservice.go, arrow 10
		acc, err = rt.userAPI.GetAccount(ctx, userID)
	}
	if err != nil {
		return nil, err
	}
	if acc.Deactivated {
		return nil, httputil.NotFound("User has been deactivated")
	}
	return rt.userAPI.GetProfile(ctx, userID)
}

func profileBody(p *userapi.Profile, field string) map[string]string {
	out := map[string]string{}
	if p.DisplayName != "" && (field == "" || field == "displayname") {
		out["displayname"] = p.DisplayName
	}
	if p.AvatarURL != "" && (field == "" || field == "avatar_url") {
		out["avatar_url"] = p.AvatarURL
	}
	return out
}

// getProfile serves GET /profile/{userId}.
func (rt *Routes) getProfile(r *http.Request, _ *userapi.Device) (any, error) {
	p, err := rt.localProfile(r.Context(), mux.Vars(r)["userId"])
	if err != nil {
		return nil, err
	}
	return profileBody(p, ""), nil
}

// getProfileField serves GET /profile/{userId}/displayname and …/avatar_url.
func (rt *Routes) getProfileField(field string) handlerFunc {
	return func(r *http.Request, _ *userapi.Device) (any, error) {
		p, err := rt.localProfile(r.Context(), mux.Vars(r)["userId"])
		if err != nil {
			return nil, err
		}
		return profileBody(p, field), nil
	}
}

// setProfileField serves PUT /profile/{userId}/displayname and …/avatar_url: only for
// yourself. After the change the user's m.room.member event in each joined room is sent
// again with the new value (arrow 4), the rooms coming from the topic 4 table.
func (rt *Routes) setProfileField(field string) handlerFunc {
	return func(r *http.Request, dev *userapi.Device) (any, error) {
		userID := mux.Vars(r)["userId"]
		if _, _, err := parseUserID(userID); err != nil {
			return nil, err
		}
		if userID != dev.UserID {
			return nil, httputil.Forbidden("You may only change your own profile")
		}
		var body map[string]json.RawMessage
		if err := readJSON(r, bodyLimit, &body); err != nil {
			return nil, err
		}
		raw, ok := body[field]
		if !ok {
			return nil, httputil.MissingParam("Missing %s", field)
		}
		var value *string
		if err := json.Unmarshal(raw, &value); err != nil {
			return nil, httputil.BadJSON("%s must be a string", field)
		}
		v := ""
		if value != nil {
			v = *value
		}
		ctx := r.Context()
		var err error
		switch field {
		case "displayname":
			if len(v) > maxDisplayNameLength {
				return nil, httputil.InvalidParam("displayname is longer than %d bytes", maxDisplayNameLength)
			}
			err = rt.userAPI.SetDisplayName(ctx, userID, v)
		case "avatar_url":
			if len(v) > maxAvatarURLLength {
				return nil, httputil.InvalidParam("avatar_url is longer than %d bytes", maxAvatarURLLength)
			}
			err = rt.userAPI.SetAvatarURL(ctx, userID, v)
		}
		if err != nil {
			return nil, err
		}
		rt.updateMemberEvents(ctx, dev, field, v)
		return empty, nil
	}
}

// updateMemberEvents re-sends the user's join event in every joined room with the changed
// profile field. A room that refuses (e.g. the user lost permission) is logged and skipped:
// the profile change itself has been made.
func (rt *Routes) updateMemberEvents(ctx context.Context, dev *userapi.Device, field, value string) {
	reqLog := setup.LoggerFrom(ctx)
	rooms, err := rt.db.JoinedRooms(ctx, dev.UserID)
	if err != nil {
		reqLog.WithError(err).Error("profile: listing joined rooms failed")
		return
	}
	for _, roomID := range rooms {
		log := reqLog.WithField("room_id", roomID)
		state, err := rt.rsAPI.QueryCurrentState(ctx, roomID, []rsapi.StateTuple{{EventType: "m.room.member", StateKey: dev.UserID}})
		if err != nil || len(state) == 0 {
			log.WithError(err).Warn("profile: no member event to update")
			continue
		}
		var ev struct {
			Content map[string]any `json:"content"`
		}
		if err := json.Unmarshal(state[0], &ev); err != nil || ev.Content["membership"] != "join" {
			continue
		}
		if value == "" {
			delete(ev.Content, field)
		} else {
			ev.Content[field] = value
		}
		content, _ := json.Marshal(ev.Content)
		sk := dev.UserID
		if _, err := rt.rsAPI.SendEvent(ctx, &rsapi.SendEventRequest{RoomID: roomID, Sender: dev.UserID, DeviceID: dev.DeviceID,
			Type: "m.room.member", StateKey: &sk, Content: content}); err != nil {
			log.WithError(err).Warn("profile: sending updated member event failed")
		}
	}
}
