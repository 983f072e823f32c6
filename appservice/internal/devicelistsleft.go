package internal

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// RoomServer is the part of the roomserver the topic 2 consumer asks for MSC3202's
// device_lists.left (arrow 23, like the device-list consumer): a user's joined rooms, and
// a room's current state (its joined members, when a service's last user left it).
type RoomServer interface {
	RoomsForUser
	QueryCurrentState(ctx context.Context, roomID string, tuples []rsapi.StateTuple) ([]json.RawMessage, error)
}

// SetRooms gives the consumer the roomserver (arrow 23) for device_lists.left; without it
// left stays empty. Call it before Run.
func (c *Consumer) SetRooms(rooms RoomServer) { c.rooms = rooms }

// leaveCheck is a user who may no longer share a room with a service: they left (or were
// banned from) a room the service was in, or the service's last user left a room they
// are in. key makes the row unique (the event that caused it).
type leaveCheck struct {
	reg  *api.Registration
	user string
	key  string
}

// interestedIn says whether reg is in room, given the room's joined users that some
// service owns: the room is in its room namespaces or one of its users is joined (the
// rule of the device-list consumer).
func interestedIn(reg *api.Registration, room string, members []string) bool {
	return reg.InterestedInRoom(room) || slices.ContainsFunc(members, reg.OwnsUser)
}

// leaveChecks lists, for one membership event (target's new membership in room; before
// and after are the room's service-owned joined users around it), the checks it calls for
// in the services with org.matrix.msc3202: another user leaving a room the service was
// in, or every other joined user of a room the service's last user left (which asks the
// roomserver for the room's members).
func (c *Consumer) leaveChecks(ctx context.Context, eventID, room, target, membership string, before, after []string) []leaveCheck {
	if c.rooms == nil || (membership != "leave" && membership != "ban") {
		return nil
	}
	var out []leaveCheck
	var joined []string // the room's members, asked once
	asked := false
	for _, reg := range c.regs.All() {
		if !reg.HasURL() || !reg.MSC3202 || !interestedIn(reg, room, before) {
			continue
		}
		if !reg.OwnsUser(target) {
			out = append(out, leaveCheck{reg: reg, user: target, key: "left:" + eventID})
			continue
		}
		if interestedIn(reg, room, after) {
			continue // still in the room through another of its users
		}
		if !asked {
			asked = true
			var err error
			if joined, err = c.joinedMembers(ctx, room); err != nil {
				c.log.WithError(err).WithField("room_id", room).Warn("room members unavailable: device_lists.left incomplete")
			}
		}
		for _, u := range joined {
			if !reg.OwnsUser(u) {
				out = append(out, leaveCheck{reg: reg, user: u, key: "left:" + eventID + ":" + u})
			}
		}
	}
	return out
}

// joinedMembers is the room's joined users, from its current state.
func (c *Consumer) joinedMembers(ctx context.Context, room string) ([]string, error) {
	state, err := c.rooms.QueryCurrentState(ctx, room, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, js := range state {
		var ev struct {
			Type     string  `json:"type"`
			StateKey *string `json:"state_key"`
			Content  struct {
				Membership string `json:"membership"`
			} `json:"content"`
		}
		if json.Unmarshal(js, &ev) == nil && ev.Type == "m.room.member" && ev.StateKey != nil && ev.Content.Membership == "join" {
			out = append(out, *ev.StateKey)
		}
	}
	return out, nil
}

// leftRows turns the checks of a run into org.matrix.msc3202.device_lists.left rows: a
// user is left for a service when none of the rooms they are joined to now is one the
// service is in (members gives a room's service-owned joined users after the run). A
// roomserver failure skips that user and the run's remaining checks (logged): events must
// not wait for device lists, and a run can hold thousands of checks (a room the service's
// last user left), each a call that may take the client's whole timeout to fail.
func (c *Consumer) leftRows(ctx context.Context, checks []leaveCheck, members func(room string) []string) []storage.QueuedEvent {
	var rows []storage.QueuedEvent
	roomsOf := map[string][]string{}
	for i, ch := range checks {
		rooms, ok := roomsOf[ch.user]
		if !ok {
			var err error
			if rooms, err = c.rooms.QueryRoomsForUser(ctx, ch.user, []string{"join"}); err != nil {
				c.log.WithError(err).WithField("user_id", ch.user).WithField("skipped", len(checks)-i).
					Warn("rooms unavailable: device_lists.left incomplete")
				break
			}
			roomsOf[ch.user] = rooms
		}
		if slices.ContainsFunc(rooms, func(room string) bool { return interestedIn(ch.reg, room, members(room)) }) {
			continue
		}
		js, _ := json.Marshal(ch.user)
		rows = append(rows, storage.QueuedEvent{ASID: ch.reg.ID, EventID: ch.key, JSON: js, Kind: storage.KindDeviceListLeft})
	}
	return rows
}
