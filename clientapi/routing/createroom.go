package routing

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

type createRoomRequest struct {
	Visibility                string                  `json:"visibility"`
	RoomAliasName             string                  `json:"room_alias_name"`
	Name                      *string                 `json:"name"`
	Topic                     *string                 `json:"topic"`
	Invite                    []string                `json:"invite"`
	Invite3PID                []json.RawMessage       `json:"invite_3pid"`
	RoomVersion               string                  `json:"room_version"`
	CreationContent           map[string]any          `json:"creation_content"`
	InitialState              []rsapi.InitialStateEvt `json:"initial_state"`
	Preset                    string                  `json:"preset"`
	IsDirect                  bool                    `json:"is_direct"`
	PowerLevelContentOverride map[string]any          `json:"power_level_content_override"`
}

// createRoom serves POST /createRoom: the request is validated here and the roomserver
// builds and sends the room's first events (arrow 4).
func (rt *Routes) createRoom(r *http.Request, dev *userapi.Device) (any, error) {
	var req createRoomRequest
	raw, me := httputil.ReadBody(r, bodyLimit)
	if me != nil {
		return nil, me
	}
	if me := httputil.DecodeJSONObject(raw, &req); me != nil {
		return nil, me
	}
	switch req.Visibility {
	case "", "public", "private":
	default:
		return nil, httputil.InvalidParam("visibility must be public or private")
	}
	switch req.Preset {
	case "", "private_chat", "trusted_private_chat", "public_chat":
	default:
		return nil, httputil.InvalidParam("Unknown preset %q", req.Preset)
	}
	if req.RoomVersion == "" {
		req.RoomVersion = rt.cfg.defaultRoomVersion() // global.default_room_version
	}
	if _, err := matrix.GetRoomVersion(matrix.RoomVersionID(req.RoomVersion)); err != nil {
		return nil, httputil.UnsupportedRoomVersion("Room version %q is not supported", req.RoomVersion)
	}
	if len(req.Invite3PID) > 0 {
		return nil, httputil.InvalidParam("Third-party invites are not supported: no identity server is configured")
	}
	for _, u := range req.Invite {
		if _, _, err := parseUserID(u); err != nil {
			return nil, err
		}
	}
	if err := rt.limitInvites(dev, "", req.Invite...); err != nil {
		return nil, err
	}
	if a := req.RoomAliasName; a != "" {
		if strings.ContainsAny(a, ": \t\n#") {
			return nil, httputil.InvalidParam("room_alias_name must be the localpart of an alias, without ':' or whitespace")
		}
		if len("#"+a+":"+rt.cfg.ServerName) > maxIDLength {
			return nil, httputil.InvalidParam("Room alias is too long")
		}
		if err := rt.checkAliasNamespace(r, "#"+a+":"+rt.cfg.ServerName, dev.UserID); err != nil { // appservice.go
			return nil, err
		}
		if _, _, err := rt.rsAPI.ResolveRoomAlias(r.Context(), "#"+a+":"+rt.cfg.ServerName); err == nil {
			return nil, httputil.RoomInUse("Room alias already taken")
		}
	}
	for _, s := range req.InitialState {
		if s.Type == "" {
			return nil, httputil.BadJSON("Every initial_state event needs a type")
		}
		if !isJSONObject(s.Content) {
			return nil, httputil.BadJSON("The content of initial_state event %s must be an object", s.Type)
		}
	}
	if t, ok := req.CreationContent["type"]; ok {
		if _, isString := t.(string); !isString {
			return nil, httputil.BadJSON("creation_content.type must be a string")
		}
	}
	for _, u := range req.Invite {
		rt.ensureAppServiceUser(r.Context(), u) // appservice.go: a service may create it
	}
	out := &rsapi.CreateRoomRequest{UserID: dev.UserID, RoomVersion: req.RoomVersion, Preset: req.Preset,
		Visibility: req.Visibility, RoomAliasName: req.RoomAliasName, Invite: req.Invite, IsDirect: req.IsDirect,
		InitialState: req.InitialState, CreatorMemberContent: rt.ownMemberContent(r.Context(), dev.UserID)}
	if req.Name != nil {
		out.Name = *req.Name
	}
	if req.Topic != nil {
		out.Topic = *req.Topic
	}
	if req.CreationContent != nil {
		out.CreationContent, _ = json.Marshal(req.CreationContent)
	}
	if req.PowerLevelContentOverride != nil {
		out.PowerLevelContentOverride, _ = json.Marshal(req.PowerLevelContentOverride)
	}
	resp, err := rt.rsAPI.CreateRoom(r.Context(), out)
	if err != nil {
		return nil, err
	}
	body := map[string]string{"room_id": resp.RoomID}
	if resp.RoomAlias != "" {
		body["room_alias"] = resp.RoomAlias
	}
	return body, nil
}

func isJSONObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return len(raw) > 0 && json.Unmarshal(raw, &m) == nil && m != nil
}
