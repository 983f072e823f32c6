package internal

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// knownRoom returns a room or M_NOT_FOUND.
func (a *RoomserverInternalAPI) knownRoom(ctx context.Context, s *storage.Store, roomID string) (*storage.Room, error) {
	room, err := s.GetRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if room == nil {
		return nil, httputil.NotFound("Unknown room %s", roomID)
	}
	return room, nil
}

// QueryMembership returns the user's current membership and its event ID.
func (a *RoomserverInternalAPI) QueryMembership(ctx context.Context, roomID, userID string) (string, string, error) {
	s := a.db.Reader()
	m, nid, _, err := s.Membership(ctx, roomID, userID)
	if err != nil {
		return "", "", err
	}
	if m == "" {
		// An unknown room is M_NOT_FOUND; a room this server does not hold can still have
		// a local user's invite (or its rejection) from another server (federation_invite.go).
		_, err := a.knownRoom(ctx, s, roomID)
		return "", "", err
	}
	ids, err := s.EventIDsByNID(ctx, []int64{nid})
	if err != nil {
		return "", "", err
	}
	return m, ids[nid], nil
}

func toTuples(ts []api.StateTuple) []matrix.StateKeyTuple {
	out := make([]matrix.StateKeyTuple, len(ts))
	for i, t := range ts {
		out[i] = matrix.StateKeyTuple{EventType: t.EventType, StateKey: t.StateKey}
	}
	return out
}

// stateJSON returns the JSON of the events of a state map, filtered to tuples if given, in
// a stable order (type, state_key).
func stateJSON(ctx context.Context, s *storage.Store, state storage.StateMap, tuples []api.StateTuple) ([]json.RawMessage, error) {
	want := state
	if len(tuples) > 0 {
		want = storage.StateMap{}
		for _, t := range toTuples(tuples) {
			if nid, ok := state[t]; ok {
				want[t] = nid
			}
		}
	}
	keys := make([]matrix.StateKeyTuple, 0, len(want))
	nids := make([]int64, 0, len(want))
	for t, nid := range want {
		keys = append(keys, t)
		nids = append(nids, nid)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].EventType != keys[j].EventType {
			return keys[i].EventType < keys[j].EventType
		}
		return keys[i].StateKey < keys[j].StateKey
	})
	rows, err := s.EventsByNID(ctx, nids)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(keys))
	for _, t := range keys {
		if r := rows[want[t]]; r != nil {
			out = append(out, json.RawMessage(r.JSON))
		}
	}
	return out, nil
}

// QueryCurrentState returns the room's current state events.
func (a *RoomserverInternalAPI) QueryCurrentState(ctx context.Context, roomID string, tuples []api.StateTuple) ([]json.RawMessage, error) {
	s := a.db.Reader()
	if _, err := a.knownRoom(ctx, s, roomID); err != nil {
		return nil, err
	}
	state, err := s.CurrentState(ctx, roomID, toTuples(tuples))
	if err != nil {
		return nil, err
	}
	return stateJSON(ctx, s, state, nil)
}

// QueryStateForUser serves GET /rooms/{roomId}/state (arrow 4): the current state for a
// joined member, the state after their leave (or ban) for a former member, the current
// state of a world_readable room for anyone, and M_FORBIDDEN otherwise.
func (a *RoomserverInternalAPI) QueryStateForUser(ctx context.Context, roomID, userID string, tuples []api.StateTuple) ([]json.RawMessage, error) {
	s := a.db.Reader()
	if _, err := a.knownRoom(ctx, s, roomID); err != nil {
		return nil, err
	}
	m, nid, _, err := s.Membership(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	switch m {
	case auth.MembershipJoin:
		return a.QueryCurrentState(ctx, roomID, tuples)
	case auth.MembershipLeave, auth.MembershipBan:
		rows, err := s.EventsByNID(ctx, []int64{nid})
		if err != nil {
			return nil, err
		}
		r := rows[nid]
		if r == nil {
			return nil, httputil.NotFound("Membership event not found")
		}
		state, err := s.LoadSnapshot(ctx, r.StateAfter)
		if err != nil {
			return nil, err
		}
		return stateJSON(ctx, s, state, tuples)
	}
	hv, err := s.CurrentState(ctx, roomID, []matrix.StateKeyTuple{{EventType: "m.room.history_visibility"}})
	if err != nil {
		return nil, err
	}
	if len(hv) == 1 {
		evs, err := stateJSON(ctx, s, hv, nil)
		if err != nil {
			return nil, err
		}
		var e struct {
			Content struct {
				HV string `json:"history_visibility"`
			} `json:"content"`
		}
		if len(evs) == 1 && json.Unmarshal(evs[0], &e) == nil && e.Content.HV == "world_readable" {
			return a.QueryCurrentState(ctx, roomID, tuples)
		}
	}
	return nil, httputil.Forbidden("You are not a member of room %s", roomID)
}

// QueryEvent returns a stored event and its room version.
func (a *RoomserverInternalAPI) QueryEvent(ctx context.Context, eventID string) (*api.EventJSON, error) {
	r, err := a.db.Reader().EventByID(ctx, eventID)
	if err != nil {
		return nil, err
	}
	if r == nil || r.IsRejected {
		return nil, httputil.NotFound("Event %s not found", eventID)
	}
	return &api.EventJSON{RoomVersion: r.RoomVersion, Event: r.JSON, Redacted: r.IsRedacted}, nil
}

// QueryRoomVersion returns a room's version.
func (a *RoomserverInternalAPI) QueryRoomVersion(ctx context.Context, roomID string) (string, error) {
	room, err := a.knownRoom(ctx, a.db.Reader(), roomID)
	if err != nil {
		return "", err
	}
	return room.RoomVersion, nil
}

// QueryRoomsForUser lists the rooms where the user's membership is one of memberships.
func (a *RoomserverInternalAPI) QueryRoomsForUser(ctx context.Context, userID string, memberships []string) ([]string, error) {
	return a.db.Reader().RoomsForUser(ctx, userID, memberships)
}
