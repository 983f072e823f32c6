package internal

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// This file is the resident side of a remote user's join (arrow 3: make_join, send_join)
// and the state queries other servers make (/state, /state_ids).

// QueryMakeJoin builds a join template for a user of another server (GET /make_join).
func (a *RoomserverInternalAPI) QueryMakeJoin(ctx context.Context, req *api.MakeJoinRequest) (*api.MakeJoinResponse, error) {
	_, server, err := matrix.ParseUserID(req.UserID)
	if err != nil {
		return nil, httputil.InvalidParam("Invalid user ID %q", req.UserID)
	}
	if server == a.serverName {
		return nil, httputil.Forbidden("%s is a user of this server", req.UserID)
	}
	room, err := a.knownRoom(ctx, a.db.Reader(), req.RoomID)
	if err != nil {
		return nil, err
	}
	if req.Membership == auth.MembershipLeave {
		return a.queryMakeLeave(ctx, room.RoomVersion, req, server)
	}
	versions := req.Versions
	if len(versions) == 0 {
		versions = []string{"1"}
	}
	if !slices.Contains(versions, room.RoomVersion) {
		return nil, &httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: "M_INCOMPATIBLE_ROOM_VERSION",
			Err:   "Your homeserver does not support the room's version " + room.RoomVersion,
			Extra: map[string]any{"room_version": room.RoomVersion}}
	}
	var out *api.MakeJoinResponse
	err = a.writeRoom(ctx, "make_join", req.RoomID, func(ctx context.Context, w *roomWriter) error {
		current, _, _, err := w.s.Membership(ctx, req.RoomID, req.UserID)
		if err != nil {
			return err
		}
		content := map[string]json.RawMessage{"membership": mustJSON(auth.MembershipJoin)}
		if req.Membership == auth.MembershipKnock {
			// make_knock (federation_knock.go): the auth rules decide when it is built.
			content["membership"] = mustJSON(auth.MembershipKnock)
		} else if err := w.authoriseRestrictedJoin(ctx, req.UserID, current, content); err != nil {
			return err
		}
		b, err := w.buildAs(ctx, eventTemplate{Type: "m.room.member", StateKey: strPtr(req.UserID), Content: mustJSON(content)},
			req.UserID, server)
		if err != nil {
			return err
		}
		out = &api.MakeJoinResponse{RoomVersion: room.RoomVersion, Event: b.template}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// queryMakeLeave builds a leave template for a user of another server (GET /make_leave):
// the auth rules must allow it (the user is invited, joined or knocking).
func (a *RoomserverInternalAPI) queryMakeLeave(ctx context.Context, version string, req *api.MakeJoinRequest, server string) (*api.MakeJoinResponse, error) {
	var out *api.MakeJoinResponse
	err := a.writeRoom(ctx, "make_leave", req.RoomID, func(ctx context.Context, w *roomWriter) error {
		content := mustJSON(map[string]string{"membership": auth.MembershipLeave})
		b, err := w.buildAs(ctx, eventTemplate{Type: "m.room.member", StateKey: strPtr(req.UserID), Content: content}, req.UserID, server)
		if err != nil {
			return err
		}
		out = &api.MakeJoinResponse{RoomVersion: version, Event: b.template}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PerformSendJoin stores a remote user's join (PUT /send_join) and returns the state and
// auth chain before it. A join refused by the auth rules is M_FORBIDDEN and not stored.
func (a *RoomserverInternalAPI) PerformSendJoin(ctx context.Context, req *api.SendJoinRequest) (*api.SendJoinResponse, error) {
	if _, err := a.knownRoom(ctx, a.db.Reader(), req.RoomID); err != nil {
		return nil, err
	}
	var out *api.SendJoinResponse
	err := a.writeRoom(ctx, "send_join", req.RoomID, func(ctx context.Context, w *roomWriter) error {
		e, err := w.parseReceived(req.Event)
		if err != nil {
			return err
		}
		want := auth.MembershipJoin
		if req.Membership == auth.MembershipLeave || req.Membership == auth.MembershipKnock {
			want = req.Membership
		}
		if e.Type() != "m.room.member" || e.StateKey() == nil || *e.StateKey() != e.Sender() || auth.Membership(e) != want {
			return httputil.BadJSON("Not a %s event: a m.room.member event with membership %s whose state_key is its sender", want, want)
		}
		if server, _ := matrix.ServerNameOf(e.Sender()); req.Origin != "" && server != req.Origin {
			return httputil.Forbidden("The join's sender does not belong to %s", req.Origin)
		}
		var c struct {
			Via string `json:"join_authorised_via_users_server"`
		}
		_ = json.Unmarshal(e.Content(), &c)
		if server, _ := matrix.ServerNameOf(c.Via); c.Via != "" && server == a.serverName {
			// One of our users authorised the restricted join: this server signs it too.
			if e, err = w.a.events.Countersign(e); err != nil {
				return err
			}
		}
		o, err := w.inputReceived(ctx, e, false)
		if err != nil {
			return err
		}
		switch {
		case o.res.Rejected || o.res.SoftFailed:
			authRefusals.Inc()
			return httputil.Forbidden("The join is not allowed: %s", o.res.Error)
		case o.res.Error != "":
			return httputil.BadJSON("The join cannot be stored: %s", o.res.Error)
		}
		if want == auth.MembershipLeave {
			// send_leave answers {} (no state).
			out = &api.SendJoinResponse{}
			return nil
		}
		if want == auth.MembershipKnock {
			// send_knock answers the room's stripped state (federation_knock.go).
			out = &api.SendJoinResponse{}
			out.KnockRoomState, err = w.knockRoomState(ctx)
			return err
		}
		row, err := w.s.EventByID(ctx, e.EventID())
		if err != nil {
			return err
		}
		sc, err := stateAndAuthChain(ctx, w.s, row, false)
		if err != nil {
			return err
		}
		out = &api.SendJoinResponse{StateAndAuthChain: *sc, Event: row.JSON}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QueryStateAndAuthChain returns the state before an event and the auth chain of that
// state and of the event (GET /state, /state_ids).
func (a *RoomserverInternalAPI) QueryStateAndAuthChain(ctx context.Context, req *api.StateAndAuthChainRequest) (*api.StateAndAuthChain, error) {
	s := a.db.Reader()
	row, err := s.EventByID(ctx, req.EventID)
	if err != nil {
		return nil, err
	}
	if row == nil || row.RoomID != req.RoomID || row.IsOutlier || row.IsRejected {
		return nil, httputil.NotFound("Event %s is not known in room %s", req.EventID, req.RoomID)
	}
	return stateAndAuthChain(ctx, s, row, req.IDsOnly)
}

// stateAndAuthChain returns the state before row and the auth chain of it and of row.
func stateAndAuthChain(ctx context.Context, s *storage.Store, row *storage.EventRow, idsOnly bool) (*api.StateAndAuthChain, error) {
	state, err := s.LoadSnapshot(ctx, row.StateBefore)
	if err != nil {
		return nil, err
	}
	nids := make([]int64, 0, len(state))
	for _, nid := range state {
		nids = append(nids, nid)
	}
	// The state's IDs (and JSON) in one pass by numeric ID.
	events, err := s.EventsIDAndJSONByNID(ctx, nids, !idsOnly)
	if err != nil {
		return nil, err
	}
	stateIDs := make([]string, 0, len(events))
	byID := make(map[string][]byte, len(events))
	for _, e := range events {
		stateIDs = append(stateIDs, e.EventID)
		byID[e.EventID] = e.JSON
	}
	sort.Strings(stateIDs)
	// The auth chain of the state and of the event, walked breadth-first from their
	// numeric IDs (a few dozen queries for a room of tens of thousands of state events).
	chain, err := s.AuthChainOfNIDs(ctx, append(nids, row.NID))
	if err != nil {
		return nil, err
	}
	sort.Strings(chain)
	out := &api.StateAndAuthChain{RoomVersion: row.RoomVersion}
	if idsOnly {
		out.StateIDs, out.AuthChainIDs = stateIDs, orNone(chain)
		return out, nil
	}
	out.StateEvents = make([]json.RawMessage, 0, len(stateIDs))
	for _, id := range stateIDs {
		out.StateEvents = append(out.StateEvents, byID[id])
	}
	if out.AuthChain, err = eventsJSON(ctx, s, chain); err != nil {
		return nil, err
	}
	return out, nil
}

func orNone(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// eventsJSON returns the stored JSON of events, in the order of ids (unknown ones left out).
func eventsJSON(ctx context.Context, s *storage.Store, ids []string) ([]json.RawMessage, error) {
	rows, err := s.EventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(ids))
	for _, id := range ids {
		if r := rows[id]; r != nil {
			out = append(out, json.RawMessage(r.JSON))
		}
	}
	return out, nil
}

// QueryServerAllowedInRoom says whether a server may read a room over federation: one of
// its users is joined now, or the room's history is world_readable.
func (a *RoomserverInternalAPI) QueryServerAllowedInRoom(ctx context.Context, roomID, serverName string) (bool, error) {
	s := a.db.Reader()
	if _, err := a.knownRoom(ctx, s, roomID); err != nil {
		return false, err
	}
	members, err := s.RoomMembers(ctx, roomID, auth.MembershipJoin)
	if err != nil {
		return false, err
	}
	for _, m := range members {
		if server, _ := matrix.ServerNameOf(m); server == serverName {
			return true, nil
		}
	}
	hv, err := s.CurrentState(ctx, roomID, []matrix.StateKeyTuple{hvTuple})
	if err != nil || len(hv) == 0 {
		return false, err
	}
	evs, err := stateJSON(ctx, s, hv, nil)
	if err != nil || len(evs) != 1 {
		return false, err
	}
	var e struct {
		Content struct {
			HV string `json:"history_visibility"`
		} `json:"content"`
	}
	return json.Unmarshal(evs[0], &e) == nil && e.Content.HV == "world_readable", nil
}

// maxMissingEvents caps one get_missing_events answer.
const maxMissingEvents = 100

// QueryMissingEvents walks prev_events back from the latest events (which are not
// returned), breadth first, stopping at the earliest events and below min_depth, and
// returns at most limit events of the room (10 when not given), oldest first. Rejected
// events and outliers are not part of the walk.
func (a *RoomserverInternalAPI) QueryMissingEvents(ctx context.Context, req *api.MissingEventsRequest) (*api.MissingEventsResponse, error) {
	s := a.db.Reader()
	if _, err := a.knownRoom(ctx, s, req.RoomID); err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 10
	}
	limit = min(limit, maxMissingEvents)
	seen := map[string]bool{}
	for _, id := range req.EarliestEvents {
		seen[id] = true
	}
	var found []*storage.EventRow
	frontier := dedupeIDs(req.LatestEvents)
	for _, id := range frontier {
		seen[id] = true
	}
	// The latest events themselves are only where the walk starts.
	rows, err := s.EventsByID(ctx, frontier)
	if err != nil {
		return nil, err
	}
	var next []string
	for _, id := range frontier {
		if r := rows[id]; r != nil && r.RoomID == req.RoomID {
			prev, err := s.PrevEventIDs(ctx, r.NID)
			if err != nil {
				return nil, err
			}
			next = append(next, prev...)
		}
	}
	for len(next) > 0 && len(found) < limit {
		var ids []string
		for _, id := range next {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		next = nil
		rows, err := s.EventsByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		sort.Strings(ids)
		for _, id := range ids {
			r := rows[id]
			if r == nil || r.RoomID != req.RoomID || r.IsOutlier || r.IsRejected || r.Depth < req.MinDepth || len(found) >= limit {
				continue
			}
			found = append(found, r)
			prev, err := s.PrevEventIDs(ctx, r.NID)
			if err != nil {
				return nil, err
			}
			next = append(next, prev...)
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].Depth < found[j].Depth })
	out := &api.MissingEventsResponse{Events: make([]json.RawMessage, 0, len(found))}
	for _, r := range found {
		out.Events = append(out.Events, json.RawMessage(r.JSON))
	}
	return out, nil
}
