package internal

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
)

// This file is the resident side of a remote user's knock (arrow 3: make_knock builds a
// knock template through QueryMakeJoin with Membership "knock", and send_knock stores it
// through PerformSendJoin; the auth rules decide, so a room whose join rule is not knock
// or knock_restricted, or whose version has no knocking, refuses with M_FORBIDDEN).

// knockRoomState is send_knock's knock_room_state: the room's current state events of
// inviteRoomStateTuples (create, join rules, name, avatar, canonical alias, encryption,
// topic), stripped as clients see them.
func (w *roomWriter) knockRoomState(ctx context.Context) ([]json.RawMessage, error) {
	state, _, err := w.stateEvents(ctx, nil, inviteRoomStateTuples)
	if err != nil {
		return nil, err
	}
	out := []json.RawMessage{}
	for _, t := range inviteRoomStateTuples {
		if e := state[t]; e != nil {
			if st, ok := strippedEvent(e.JSON()); ok {
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// knockRemote knocks for a local user on a room this server does not hold: make_knock
// and send_knock through the federationsender (arrow 17) with the caller's servers and
// the room ID's server, then the knock is stored like a received invite
// (storeOutlierMembership) with the answered stripped state in unsigned.knock_room_state,
// which puts the room in the user's /sync knock section. Withdrawing it is a leave
// (leaveRemote).
func (a *RoomserverInternalAPI) knockRemote(ctx context.Context, roomID string, req *api.MembershipRequest, content map[string]json.RawMessage) (*api.SendEventResponse, error) {
	servers := append([]string(nil), req.ServerNames...)
	if server, ok := matrix.ServerNameOf(roomID); ok && server != a.serverName && !slices.Contains(servers, server) {
		servers = append(servers, server)
	}
	resp, err := a.fedSender.PerformKnock(ctx, &fsapi.PerformKnockRequest{RoomID: roomID, UserID: req.Sender, ServerNames: servers,
		Content: mustJSON(content)})
	if err != nil {
		return nil, err
	}
	v, err := matrix.GetRoomVersion(matrix.RoomVersionID(resp.RoomVersion))
	if err != nil {
		return nil, httputil.Unknown("The room's version %q is not supported", resp.RoomVersion)
	}
	e, err := a.events.ParseReceived(v, resp.Event)
	if err != nil {
		return nil, err
	}
	if e.RoomID() != roomID || e.StateKey() == nil || *e.StateKey() != req.Sender || auth.Membership(e) != auth.MembershipKnock {
		return nil, errors.New("roomserver: the knock returned by the federationsender is not the user's knock")
	}
	if err := a.storeOutlierMembership(ctx, v, e, "knock_room_state", resp.KnockRoomState); err != nil {
		return nil, err
	}
	return &api.SendEventResponse{EventID: e.EventID(), RoomID: roomID}, nil
}
