package internal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// This file is invites and leaves across servers: a local user inviting another server's
// user (invite v2 through the federationsender, arrow 17), another server inviting a
// local user (PUT /invite, arrow 3), and a local user rejecting an invite to a room this
// server does not hold (make_leave/send_leave through the federationsender, arrow 17).

// inviteRoomStateTuples are the state events sent with an invite (the spec's
// recommendation), plus the inviter's membership. Over federation they go as full PDUs
// (spec 1.16: invite_room_state must hold the create event, formatted for the room's
// version); clients get them stripped (strippedEvent).
var inviteRoomStateTuples = []matrix.StateKeyTuple{
	{EventType: "m.room.create"}, {EventType: "m.room.join_rules"}, {EventType: "m.room.name"},
	{EventType: "m.room.avatar"}, {EventType: "m.room.canonical_alias"}, {EventType: "m.room.encryption"},
	{EventType: "m.room.topic"},
}

// strippedEvent renders an entry of invite_room_state (a PDU, or already stripped) as a
// StrippedStateEvent; ok is false for an entry that is not a state event.
func strippedEvent(raw json.RawMessage) (json.RawMessage, bool) {
	var e struct {
		Type     string          `json:"type"`
		StateKey *string         `json:"state_key"`
		Sender   string          `json:"sender"`
		Content  json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Type == "" || e.StateKey == nil || len(e.Content) == 0 || e.Content[0] != '{' {
		return nil, false
	}
	return mustJSON(map[string]any{"type": e.Type, "state_key": *e.StateKey, "sender": e.Sender, "content": e.Content}), true
}

// inviteRemote invites another server's user: the invite is built and authorised here
// (not stored), countersigned by the invitee's server (PerformInvite), then stored as an
// event of the room and sent to the room's other servers (topic 6).
func (a *RoomserverInternalAPI) inviteRemote(ctx context.Context, roomID string, req *api.MembershipRequest, content map[string]json.RawMessage) (*api.SendEventResponse, error) {
	if a.fedSender == nil {
		return nil, httputil.Forbidden("Inviting %s needs federation, which is not configured", req.Target)
	}
	var invite []byte
	var version string
	var roomState []json.RawMessage
	var existing string
	err := a.writeRoom(ctx, "invite_remote", roomID, func(ctx context.Context, w *roomWriter) error {
		if old, err := w.stateEvent(ctx, "m.room.member", req.Target); err != nil {
			return err
		} else if old != nil && old.Sender() == req.Sender && auth.Membership(old) == auth.MembershipInvite {
			existing = old.EventID() // invited already: as for local users, a no-op
			return nil
		}
		b, err := w.build(ctx, eventTemplate{Type: "m.room.member", StateKey: strPtr(req.Target), Content: mustJSON(content)}, req.Sender)
		if err != nil {
			return err
		}
		state, _, err := w.stateEvents(ctx, nil, append(slices.Clone(inviteRoomStateTuples), matrix.StateKeyTuple{EventType: "m.room.member", StateKey: req.Sender}))
		if err != nil {
			return err
		}
		for _, t := range append(slices.Clone(inviteRoomStateTuples), matrix.StateKeyTuple{EventType: "m.room.member", StateKey: req.Sender}) {
			if e := state[t]; e != nil {
				roomState = append(roomState, json.RawMessage(e.JSON()))
			}
		}
		invite, version = b.e.JSON(), string(w.version.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if existing != "" {
		return &api.SendEventResponse{EventID: existing, RoomID: roomID}, nil
	}
	signed, err := a.fedSender.PerformInvite(ctx, &fsapi.PerformInviteRequest{RoomVersion: version, Event: invite, InviteRoomState: roomState})
	if err != nil {
		return nil, err
	}
	var eventID string
	err = a.writeRoom(ctx, "invite_remote", roomID, func(ctx context.Context, w *roomWriter) error {
		e, err := w.parseReceived(api.FederationEvent{JSON: signed.Event})
		if err != nil {
			return err
		}
		o, err := w.inputReceived(ctx, e, false)
		if err != nil {
			return err
		}
		if o.res.Error != "" {
			return httputil.Forbidden("The invite could not be stored: %s", o.res.Error)
		}
		// Stored like any event of a local sender: topic 2, and topic 6 to the room's other
		// servers and the invitee's.
		eventID = e.EventID()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.SendEventResponse{EventID: eventID, RoomID: roomID}, nil
}

// PerformInboundInvite implements api.RoomserverAPI (arrow 3, PUT /invite).
func (a *RoomserverInternalAPI) PerformInboundInvite(ctx context.Context, req *api.InboundInviteRequest) (*api.InboundInviteResponse, error) {
	v, err := matrix.GetRoomVersion(matrix.RoomVersionID(req.RoomVersion))
	if err != nil {
		return nil, &httputil.MatrixError{Status: 400, ErrCode: "M_INCOMPATIBLE_ROOM_VERSION",
			Err: "This server does not support room version " + req.RoomVersion, Extra: map[string]any{"room_version": req.RoomVersion}}
	}
	e, err := a.events.ParseReceived(v, req.Event)
	if err != nil {
		return nil, httputil.BadJSON("Bad invite event: %v", err)
	}
	if e.Type() != "m.room.member" || e.StateKey() == nil || auth.Membership(e) != auth.MembershipInvite {
		return nil, httputil.BadJSON("Not an invite: a m.room.member event with membership invite")
	}
	if server, ok := matrix.ServerNameOf(*e.StateKey()); !ok || server != a.serverName {
		return nil, httputil.Forbidden("%s is not a user of this server", *e.StateKey())
	}
	if e, err = a.events.Countersign(e); err != nil {
		return nil, err
	}
	roomID := e.RoomID()
	room, err := a.db.Reader().GetRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if room != nil {
		// A room this server holds: the invite is an event of it when its prev_events are
		// known; otherwise (this server left long ago) an outlier like below.
		held := false
		err = a.writeRoom(ctx, "invite", roomID, func(ctx context.Context, w *roomWriter) error {
			o, err := w.inputReceived(ctx, e, false)
			if err != nil {
				return err
			}
			switch {
			case o.res.Rejected || o.res.SoftFailed:
				authRefusals.Inc()
				return httputil.Forbidden("The invite is not allowed: %s", o.res.Error)
			case len(o.res.MissingPrevEvents) > 0:
				return nil
			case o.res.Error != "":
				return httputil.BadJSON("The invite cannot be stored: %s", o.res.Error)
			}
			held = true
			return nil
		})
		if err != nil {
			return nil, err
		}
		if held {
			return &api.InboundInviteResponse{Event: e.JSON()}, nil
		}
	}
	if err := a.storeOutlierMembership(ctx, v, e, "invite_room_state", req.InviteRoomState); err != nil {
		return nil, err
	}
	return &api.InboundInviteResponse{Event: e.JSON()}, nil
}

// storeOutlierMembership stores a local user's membership event (a received invite, or the
// leave that rejected it) in a room this server does not follow: the event as an outlier,
// the user's membership row, topic 4, and a topic 2 record with the event (stripped, when
// given, in unsigned under strippedKey) adding it to the state, which is what puts the room
// in the user's /sync invite or leave section.
func (a *RoomserverInternalAPI) storeOutlierMembership(ctx context.Context, v *matrix.RoomVersion, e matrix.PDU, strippedKey string, stripped []json.RawMessage) error {
	roomID := e.RoomID()
	unlock := a.locks.lock(roomID)
	defer unlock()
	var writer *roomWriter
	err := a.db.WithTx(ctx, func(s *storage.Store, tx *sql.Tx) error {
		room, err := s.GetRoom(ctx, roomID)
		if err != nil {
			return err
		}
		head := newRoomHead(storage.Room{RoomID: roomID, RoomVersion: string(v.ID)})
		if room != nil {
			head = newRoomHead(*room)
		}
		w, err := a.newWriter(s, tx, head)
		if err != nil {
			return err
		}
		writer = w
		w.stale = true
		nid, err := s.EventNIDByID(ctx, e.EventID())
		if err != nil {
			return err
		}
		if nid == 0 {
			nid, err = s.InsertEvent(ctx, &storage.EventRow{EventID: e.EventID(), RoomID: roomID, Type: e.Type(),
				StateKey: e.StateKey(), Sender: e.Sender(), Depth: e.Depth(), OriginServerTS: e.OriginServerTS(), JSON: e.JSON(),
				IsOutlier: true, PrevEventIDs: e.PrevEventIDs(), AuthEventIDs: e.AuthEventIDs()})
			if err != nil {
				return err
			}
		}
		w.parsed[nid] = e
		_, oldNID, _, err := s.Membership(ctx, roomID, *e.StateKey())
		if err != nil {
			return err
		}
		if err := w.setMembership(ctx, *e.StateKey(), e, nid); err != nil {
			return err
		}
		w.users = append(w.users, *e.StateKey())
		js := e.JSON()
		var clean []json.RawMessage
		for _, raw := range stripped {
			if st, ok := strippedEvent(raw); ok {
				clean = append(clean, st)
			}
		}
		stripped = clean
		if len(stripped) > 0 {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(js, &m); err != nil {
				return err
			}
			m["unsigned"] = mustJSON(map[string]any{strippedKey: stripped})
			js = mustJSON(m)
		}
		out := &api.OutputNewRoomEventData{RoomVersion: string(v.ID), Event: js, EventID: e.EventID(),
			AddsStateEventIDs: []string{e.EventID()}}
		if oldNID != 0 && oldNID != nid {
			// The membership it replaces (the invite a rejection answers) leaves the state.
			ids, err := s.EventIDsByNID(ctx, []int64{oldNID})
			if err != nil {
				return err
			}
			if id := ids[oldNID]; id != "" {
				out.RemovesStateEventIDs = []string{id}
			}
		}
		// Topic 2 (roomserver → syncapi).
		w.pending = append(w.pending, pendingOutput{topic: a.topics.RoomEvent, key: roomID, eventNID: nid,
			roomEvent: &api.OutputEvent{Type: api.OutputNewRoomEvent, NewRoomEvent: out}})
		return w.flush(ctx)
	})
	if err != nil {
		return err
	}
	writer.committed()
	if writer.staged > 0 {
		a.outbox.Kick()
	}
	return nil
}

// leaveRemote rejects an invite (or withdraws a knock) of a local user to a room this server
// does not hold: make_leave/send_leave through the inviting server (arrow 17), then the
// leave is stored like the invite was (storeOutlierMembership).
func (a *RoomserverInternalAPI) leaveRemote(ctx context.Context, roomID string, req *api.MembershipRequest) (*api.SendEventResponse, error) {
	s := a.db.Reader()
	m, nid, _, err := s.Membership(ctx, roomID, req.Sender)
	if err != nil {
		return nil, err
	}
	if m != auth.MembershipInvite && m != auth.MembershipKnock {
		return nil, httputil.NotFound("Room %s is not known to this server", roomID)
	}
	servers := append([]string(nil), req.ServerNames...)
	if sender, err := s.EventSenderByNID(ctx, nid); err != nil {
		return nil, err
	} else if server, ok := matrix.ServerNameOf(sender); ok && !slices.Contains(servers, server) {
		servers = append(servers, server)
	}
	if server, ok := matrix.ServerNameOf(roomID); ok && server != a.serverName && !slices.Contains(servers, server) {
		servers = append(servers, server)
	}
	resp, err := a.fedSender.PerformLeave(ctx, &fsapi.PerformLeaveRequest{RoomID: roomID, UserID: req.Sender, ServerNames: servers})
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
	if e.RoomID() != roomID || e.StateKey() == nil || *e.StateKey() != req.Sender || auth.Membership(e) != auth.MembershipLeave {
		return nil, errors.New("roomserver: the leave returned by the federationsender is not the user's leave")
	}
	if err := a.storeOutlierMembership(ctx, v, e, "", nil); err != nil {
		return nil, err
	}
	return &api.SendEventResponse{EventID: e.EventID(), RoomID: roomID}, nil
}

// inviterServers adds the server of the user who invited userID to roomID (when invited)
// to servers: where a join after a remote invite goes (v12 room IDs name no server).
func (a *RoomserverInternalAPI) inviterServers(ctx context.Context, roomID, userID string, servers []string) []string {
	s := a.db.Reader()
	m, nid, _, err := s.Membership(ctx, roomID, userID)
	if err != nil || m != auth.MembershipInvite {
		return servers
	}
	sender, err := s.EventSenderByNID(ctx, nid)
	if err != nil {
		return servers
	}
	if server, ok := matrix.ServerNameOf(sender); ok && server != a.serverName && !slices.Contains(servers, server) {
		servers = append(servers, server)
	}
	return servers
}
