package routing

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
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

// joinOrKnock sends a join or knock for the room ID or alias (arrow 4).
func (rt *Routes) joinOrKnock(r *http.Request, dev *userapi.Device, action, target string, aliasAllowed bool) (any, error) {
	var req reasonBody
	if err := readOptionalJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	if len(req.Reason) > maxReasonLength {
		return nil, httputil.InvalidParam("reason is too long")
	}
	if aliasAllowed && len(target) > 0 && target[0] == '#' {
		if _, err := parseAlias(target); err != nil {
			return nil, err
		}
	} else if err := checkRoomID(target); err != nil {
		if aliasAllowed {
			return nil, httputil.InvalidParam("%q is neither a room ID nor a room alias", target)
		}
		return nil, err
	}
	ctx := r.Context()
	resp, err := rt.rsAPI.PerformMembership(ctx, &rsMembership{Action: action, RoomID: target, Sender: dev.UserID,
		Reason: req.Reason, DeviceID: dev.DeviceID, Content: rt.ownMemberContent(ctx, dev.UserID)})
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
