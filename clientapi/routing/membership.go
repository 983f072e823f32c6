package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

type rsMembership = rsapi.MembershipRequest

// maxReasonLength caps the free-text reason of membership changes.
const maxReasonLength = 2048

type reasonBody struct {
	Reason string `json:"reason"`
}

// ownMemberContent is the displayname/avatar_url a user's own join or knock carries.
func (rt *Routes) ownMemberContent(ctx context.Context, userID string) json.RawMessage {
	p, err := rt.userAPI.GetProfile(ctx, userID)
	if err != nil {
		return nil
	}
	c := map[string]string{}
	if p.DisplayName != "" {
		c["displayname"] = p.DisplayName
	}
	if p.AvatarURL != "" {
		c["avatar_url"] = p.AvatarURL
	}
	b, _ := json.Marshal(c)
	return b
}

// joinBody is the body of POST /join/{roomIdOrAlias}, /rooms/{roomId}/join and
// /knock/{roomIdOrAlias}: reason, third_party_signed (third-party invites need an
// identity server, so it is accepted and not used) and, for a join, any other keys, which
// go into the join event's content as Synapse does.
type joinBody struct {
	Reason string
	Extra  map[string]json.RawMessage
}

// notFromJoinBody are the keys a join body cannot put in the member event: the request's
// own parameters and the keys the server sets (join_authorised_via_users_server is the
// roomserver's to give, after checking a restricted room's allow rules).
var notFromJoinBody = map[string]bool{"reason": true, "third_party_signed": true, "membership": true,
	"join_authorised_via_users_server": true}

func (b *joinBody) UnmarshalJSON(raw []byte) error {
	var known struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(raw, &known); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return err
	}
	b.Reason = known.Reason
	for k, v := range all {
		if !notFromJoinBody[k] {
			if b.Extra == nil {
				b.Extra = map[string]json.RawMessage{}
			}
			b.Extra[k] = v
		}
	}
	return nil
}

// checkProfileKeys refuses a displayname or avatar_url in a join body that is not a string
// (clients and this server read them as strings).
func (b *joinBody) checkProfileKeys() error {
	for _, k := range []string{"displayname", "avatar_url"} {
		if raw, ok := b.Extra[k]; ok {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return httputil.BadJSON("%s must be a string", k)
			}
		}
	}
	return nil
}

// joinContent is the member event content of a join: the user's profile (displayname,
// avatar_url), then the body's extra keys on top, so a displayname or avatar_url given in
// the body wins. The roomserver sets membership and reason itself.
func (rt *Routes) joinContent(ctx context.Context, userID string, extra map[string]json.RawMessage) json.RawMessage {
	profile := rt.ownMemberContent(ctx, userID)
	if len(extra) == 0 {
		return profile
	}
	c := map[string]json.RawMessage{}
	_ = json.Unmarshal(profile, &c)
	for k, v := range extra {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	return b
}

// joinOrKnock sends a join or knock for the room ID or alias (arrow 4).
func (rt *Routes) joinOrKnock(r *http.Request, dev *userapi.Device, action, target string, aliasAllowed bool) (any, error) {
	var req joinBody
	if err := readOptionalJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	if len(req.Reason) > maxReasonLength {
		return nil, httputil.InvalidParam("reason is too long")
	}
	if err := req.checkProfileKeys(); err != nil {
		return nil, err
	}
	if aliasAllowed && len(target) > 0 && target[0] == '#' {
		server, err := parseAlias(target)
		if err != nil {
			return nil, err
		}
		if server == rt.cfg.ServerName {
			rt.ensureAppServiceAlias(r.Context(), target) // appservice.go: a service may create it
		}
	} else if err := checkRoomID(target); err != nil {
		if aliasAllowed {
			return nil, httputil.InvalidParam("%q is neither a room ID nor a room alias", target)
		}
		return nil, err
	}
	ctx := r.Context()
	content := rt.ownMemberContent(ctx, dev.UserID)
	if action == "join" { // a knock carries the profile and the reason only
		content = rt.joinContent(ctx, dev.UserID, req.Extra)
	}
	// The servers to join a room this server does not hold through (arrow 17): the via
	// and (deprecated) server_name parameters of POST /join/{roomIdOrAlias}; the
	// roomserver adds the room ID's own server.
	var servers []string
	if aliasAllowed {
		for _, s := range append(r.URL.Query()["via"], r.URL.Query()["server_name"]...) {
			if !matrix.ValidServerName(s) {
				return nil, httputil.InvalidParam("%q is not a server name", s)
			}
			if !slices.Contains(servers, s) {
				servers = append(servers, s)
			}
		}
	}
	resp, err := rt.rsAPI.PerformMembership(ctx, &rsMembership{Action: action, RoomID: target, Sender: dev.UserID,
		Reason: req.Reason, DeviceID: dev.DeviceID, Content: content, ServerNames: servers})
	if err != nil {
		return nil, err
	}
	roomID := resp.RoomID
	if roomID == "" {
		roomID = target
	}
	return map[string]string{"room_id": roomID}, nil
}

// joinRoomIDOrAlias serves POST /join/{roomIdOrAlias}.
func (rt *Routes) joinRoomIDOrAlias(r *http.Request, dev *userapi.Device) (any, error) {
	return rt.joinOrKnock(r, dev, "join", mux.Vars(r)["roomIdOrAlias"], true)
}

// joinRoom serves POST /rooms/{roomId}/join.
func (rt *Routes) joinRoom(r *http.Request, dev *userapi.Device) (any, error) {
	return rt.joinOrKnock(r, dev, "join", mux.Vars(r)["roomId"], false)
}

// knock serves POST /knock/{roomIdOrAlias}.
func (rt *Routes) knock(r *http.Request, dev *userapi.Device) (any, error) {
	return rt.joinOrKnock(r, dev, "knock", mux.Vars(r)["roomIdOrAlias"], true)
}

// leave serves POST /rooms/{roomId}/leave.
func (rt *Routes) leave(r *http.Request, dev *userapi.Device) (any, error) {
	roomID := mux.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	var req reasonBody
	if err := readOptionalJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	if len(req.Reason) > maxReasonLength {
		return nil, httputil.InvalidParam("reason is too long")
	}
	if _, err := rt.rsAPI.PerformMembership(r.Context(), &rsMembership{Action: "leave", RoomID: roomID,
		Sender: dev.UserID, Reason: req.Reason, DeviceID: dev.DeviceID}); err != nil {
		return nil, err
	}
	return empty, nil
}

// targetMembership serves POST /rooms/{roomId}/invite, /kick, /ban and /unban.
func (rt *Routes) targetMembership(action string) handlerFunc {
	return func(r *http.Request, dev *userapi.Device) (any, error) {
		roomID := mux.Vars(r)["roomId"]
		if err := checkRoomID(roomID); err != nil {
			return nil, err
		}
		var req struct {
			UserID  *string `json:"user_id"`
			Reason  string  `json:"reason"`
			Medium  string  `json:"medium"`
			Address string  `json:"address"`
		}
		if err := readJSON(r, bodyLimit, &req); err != nil {
			return nil, err
		}
		if action == "invite" && req.UserID == nil && (req.Medium != "" || req.Address != "") {
			return nil, httputil.InvalidParam("Third-party invites are not supported: no identity server is configured")
		}
		if req.UserID == nil {
			return nil, httputil.MissingParam("Missing user_id")
		}
		if _, _, err := parseUserID(*req.UserID); err != nil {
			return nil, err
		}
		if len(req.Reason) > maxReasonLength {
			return nil, httputil.InvalidParam("reason is too long")
		}
		if action == "invite" {
			if err := rt.limitInvites(dev, roomID, *req.UserID); err != nil {
				return nil, err
			}
			rt.ensureAppServiceUser(r.Context(), *req.UserID) // appservice.go: a service may create it
		}
		if _, err := rt.rsAPI.PerformMembership(r.Context(), &rsMembership{Action: action, RoomID: roomID,
			Sender: dev.UserID, Target: *req.UserID, Reason: req.Reason, DeviceID: dev.DeviceID}); err != nil {
			return nil, err
		}
		return empty, nil
	}
}

// forget serves POST /rooms/{roomId}/forget.
func (rt *Routes) forget(r *http.Request, dev *userapi.Device) (any, error) {
	roomID := mux.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	if err := rt.rsAPI.Forget(r.Context(), roomID, dev.UserID); err != nil {
		return nil, err
	}
	return empty, nil
}

// joinedRooms serves GET /joined_rooms, asking the roomserver, which is authoritative.
func (rt *Routes) joinedRooms(r *http.Request, dev *userapi.Device) (any, error) {
	rooms, err := rt.rsAPI.QueryRoomsForUser(r.Context(), dev.UserID, []string{"join"})
	if err != nil {
		return nil, err
	}
	if rooms == nil {
		rooms = []string{}
	}
	return map[string][]string{"joined_rooms": rooms}, nil
}
