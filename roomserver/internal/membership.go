package internal

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
)

// PerformMembership joins, leaves, invites, kicks, bans, unbans or knocks for a local user
// (arrow 4). A join of a room this server does not hold goes through the federationsender
// (arrow 17, remotejoin.go) when one is configured, and so does a knock on one
// (federation_knock.go); otherwise such a room is M_NOT_FOUND.
func (a *RoomserverInternalAPI) PerformMembership(ctx context.Context, req *api.MembershipRequest) (*api.SendEventResponse, error) {
	if !matrix.ValidUserID(req.Sender) {
		return nil, httputil.InvalidParam("Invalid sender %q", req.Sender)
	}
	roomID := req.RoomID
	if strings.HasPrefix(roomID, "#") {
		if req.Action != "join" && req.Action != "knock" {
			return nil, httputil.InvalidParam("Only join and knock accept a room alias")
		}
		resolved, servers, err := a.ResolveRoomAlias(ctx, roomID)
		if err != nil {
			return nil, err
		}
		roomID = resolved
		if server, _ := matrix.ServerNameOf(req.RoomID); server != a.serverName {
			// Another server's alias (arrow 7): the servers it named are asked after the
			// client's.
			r := *req
			r.ServerNames = append(append([]string(nil), req.ServerNames...), servers...)
			req = &r
		}
	}
	target, membership, remoteInvite := req.Sender, "", false
	switch req.Action {
	case "join":
		membership = auth.MembershipJoin
	case "leave":
		membership = auth.MembershipLeave
	case "knock":
		membership = auth.MembershipKnock
	case "invite", "kick", "ban", "unban":
		target = req.Target
		if !matrix.ValidUserID(target) {
			return nil, httputil.InvalidParam("Invalid user ID %q", target)
		}
		membership = map[string]string{"invite": auth.MembershipInvite, "kick": auth.MembershipLeave,
			"ban": auth.MembershipBan, "unban": auth.MembershipLeave}[req.Action]
		if server, _ := matrix.ServerNameOf(target); req.Action == "invite" && server != a.serverName {
			remoteInvite = true
		}
	default:
		return nil, httputil.InvalidParam("Unknown membership action %q", req.Action)
	}
	content, err := objectOrEmpty(req.Content, "content")
	if err != nil {
		return nil, err
	}
	content["membership"] = mustJSON(membership)
	// Which member authorised a restricted join is the server's to say, after checking the
	// allow rules (authoriseRestrictedJoin), never the joining client's.
	delete(content, "join_authorised_via_users_server")
	if req.Reason != "" {
		content["reason"] = mustJSON(req.Reason)
	}
	if remoteInvite {
		// Another server's user: countersigned by that server first (arrow 17, invite v2).
		return a.inviteRemote(ctx, roomID, req, content)
	}
	if (req.Action == "join" || req.Action == "leave" || req.Action == "knock") && a.fedSender != nil {
		// A room this server does not hold is joined, or an invite to it rejected, through
		// another server (arrow 17).
		room, err := a.db.Reader().GetRoom(ctx, roomID)
		if err != nil {
			return nil, err
		}
		if room == nil && req.Action == "join" {
			return a.joinRemote(ctx, roomID, req, content)
		}
		if room == nil && req.Action == "knock" {
			return a.knockRemote(ctx, roomID, req, content) // federation_knock.go
		}
		if room != nil && req.Action == "join" {
			// Held, but no local member is left in it: what this server holds may be
			// stale, so the join goes through a server still in the room.
			if remote, servers, err := a.remoteOnly(ctx, roomID); err != nil {
				return nil, err
			} else if remote {
				return a.rejoinRemote(ctx, roomID, req, content, servers)
			}
		}
		if room == nil {
			return a.leaveRemote(ctx, roomID, req)
		}
	}
	var eventID string
	err = a.writeRoom(ctx, "membership", roomID, func(ctx context.Context, w *roomWriter) error {
		current, _, _, err := w.s.Membership(ctx, roomID, target)
		if err != nil {
			return err
		}
		// As in Synapse, repeating the current membership event (same sender, membership
		// and content, e.g. a client joining twice) is a no-op that returns that event.
		if old, err := w.stateEvent(ctx, "m.room.member", target); err != nil {
			return err
		} else if old != nil && old.Sender() == req.Sender && auth.Membership(old) == membership && sameJSON(old.Content(), mustJSON(content)) {
			eventID = old.EventID()
			return nil
		}
		switch req.Action {
		case "unban":
			if current != auth.MembershipBan {
				return httputil.Forbidden("%s is not banned", target)
			}
		case "kick":
			if current != auth.MembershipJoin && current != auth.MembershipInvite && current != auth.MembershipKnock {
				return httputil.Forbidden("%s is not in the room", target)
			}
		case "join":
			if err := w.authoriseRestrictedJoin(ctx, req.Sender, current, content); err != nil {
				return err
			}
		}
		e, err := w.send(ctx, eventTemplate{Type: "m.room.member", StateKey: strPtr(target), Content: mustJSON(content)},
			req.Sender, sendOpts{DeviceID: req.DeviceID})
		if err != nil {
			return err
		}
		eventID = e.EventID()
		return nil
	})
	if errCodeOf(err) == "M_NOT_FOUND" && (req.Action == "join" || req.Action == "knock") {
		return nil, httputil.NotFound("Room %s is not known to this server; joining rooms on other servers needs federation, which is not supported yet", roomID)
	}
	if err != nil {
		return nil, err
	}
	return &api.SendEventResponse{EventID: eventID, RoomID: roomID}, nil
}

// authoriseRestrictedJoin fills join_authorised_via_users_server for a join to a room
// whose join rule is restricted or knock_restricted (v8+/v10+), when the user is not
// already invited or joined and is joined to one of the rooms the rule allows: the
// authorising user is a local joined member who may invite. If no allow condition holds,
// nothing is added and the auth rules refuse the join.
func (w *roomWriter) authoriseRestrictedJoin(ctx context.Context, userID, current string, content map[string]json.RawMessage) error {
	if !w.version.RestrictedJoins || current == auth.MembershipJoin || current == auth.MembershipInvite {
		return nil
	}
	jr, err := w.stateEvent(ctx, "m.room.join_rules", "")
	if err != nil || jr == nil {
		return err
	}
	rule := auth.JoinRule(jr)
	if rule != auth.JoinRuleRestricted && !(rule == auth.JoinRuleKnockRestricted && w.version.KnockRestricted) {
		return nil
	}
	var c struct {
		Allow []struct {
			Type   string `json:"type"`
			RoomID string `json:"room_id"`
		} `json:"allow"`
	}
	_ = json.Unmarshal(jr.Content(), &c)
	allowed := false
	for _, cond := range c.Allow {
		if cond.Type != "m.room_membership" {
			continue
		}
		m, _, _, err := w.s.Membership(ctx, cond.RoomID, userID)
		if err != nil {
			return err
		}
		if m == auth.MembershipJoin {
			allowed = true
			break
		}
	}
	if !allowed {
		return nil
	}
	state, _, err := w.stateEvents(ctx, nil, []matrix.StateKeyTuple{{EventType: "m.room.create"}, {EventType: "m.room.power_levels"}})
	if err != nil {
		return err
	}
	pl, err := auth.NewPowerLevels(state[matrix.StateKeyTuple{EventType: "m.room.create"}], state[matrix.StateKeyTuple{EventType: "m.room.power_levels"}])
	if err != nil {
		return err
	}
	members, err := w.s.RoomMembers(ctx, w.room.RoomID, auth.MembershipJoin)
	if err != nil {
		return err
	}
	for _, m := range members {
		if server, _ := matrix.ServerNameOf(m); server == w.a.serverName && pl.UserPowerLevel(m) >= pl.Invite {
			content["join_authorised_via_users_server"] = mustJSON(m)
			return nil
		}
	}
	return nil
}

// Forget hides a room the user has left (POST /forget); M_UNKNOWN while still in it,
// M_NOT_FOUND for an unknown room, and (as in Synapse) nothing to do for a room the user
// was never in. The flag and its topic 2 record (OutputForget, roomserver → syncapi) are
// written in one transaction: the record gets the next dense stream position there (flush)
// and is recorded for read-your-writes under the user and the room, so the user's next
// /sync or read of the room reflects it. Forgetting again stages another record, which
// changes nothing downstream (it also repairs a syncapi that never heard of an older one).
func (a *RoomserverInternalAPI) Forget(ctx context.Context, roomID, userID string) error {
	return a.writeRoom(ctx, "forget", roomID, func(ctx context.Context, w *roomWriter) error {
		m, _, _, err := w.s.Membership(ctx, roomID, userID)
		if err != nil {
			return err
		}
		switch m {
		case "":
			return nil
		case auth.MembershipJoin, auth.MembershipInvite, auth.MembershipKnock:
			return httputil.Unknown("You must leave the room before forgetting it")
		}
		if err := w.s.ForgetRoom(ctx, roomID, userID); err != nil {
			return err
		}
		w.users = append(w.users, userID)
		// Topic 2 (roomserver → syncapi): the forget, at its own position.
		w.pending = append(w.pending, pendingOutput{topic: a.topics.RoomEvent, key: roomID,
			roomEvent: &api.OutputEvent{Type: api.OutputForget, Forget: &api.OutputForgetData{RoomID: roomID, UserID: userID}}})
		return nil
	})
}

// sameJSON reports whether two JSON values are equal as values (key order aside).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
