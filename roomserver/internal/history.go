package internal

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// This file serves the history queries of arrow 3 (federationapi → roomserver):
// /event_auth, /backfill and /timestamp_to_event.

// maxBackfill caps one /backfill answer.
const maxBackfill = 100

// QueryAuthChain returns the auth chain of an event of the room (GET /event_auth).
func (a *RoomserverInternalAPI) QueryAuthChain(ctx context.Context, req *api.AuthChainRequest) (*api.AuthChainResponse, error) {
	s := a.db.Reader()
	row, err := s.EventByID(ctx, req.EventID)
	if err != nil {
		return nil, err
	}
	if row == nil || row.RoomID != req.RoomID || row.IsRejected {
		return nil, httputil.NotFound("Event %s is not known in room %s", req.EventID, req.RoomID)
	}
	chain, err := s.AuthChain(ctx, []string{row.EventID})
	if err != nil {
		return nil, err
	}
	sort.Strings(chain)
	evs, err := eventsJSON(ctx, s, chain)
	if err != nil {
		return nil, err
	}
	return &api.AuthChainResponse{AuthChain: evs}, nil
}

// QueryBackfill walks prev_events back from the given events (included), breadth first,
// and returns at most limit events of the room (outliers and rejected events left out),
// newest first; those the asking server may not see are redacted (serverMaySee).
func (a *RoomserverInternalAPI) QueryBackfill(ctx context.Context, req *api.BackfillRequest) (*api.BackfillResponse, error) {
	s := a.db.Reader()
	room, err := a.knownRoom(ctx, s, req.RoomID)
	if err != nil {
		return nil, err
	}
	limit := min(max(req.Limit, 1), maxBackfill)
	seen := map[string]bool{}
	var found []*storage.EventRow
	next := dedupeIDs(req.EventIDs)
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
		// Highest depth first, so that the limit keeps the newest.
		sort.Slice(ids, func(i, j int) bool {
			ri, rj := rows[ids[i]], rows[ids[j]]
			if ri == nil || rj == nil {
				return ri != nil
			}
			if ri.Depth != rj.Depth {
				return ri.Depth > rj.Depth
			}
			return ids[i] < ids[j]
		})
		for _, id := range ids {
			r := rows[id]
			if r == nil || r.RoomID != req.RoomID || r.IsOutlier || r.IsRejected || len(found) >= limit {
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
	sort.SliceStable(found, func(i, j int) bool { return found[i].Depth > found[j].Depth })
	out := &api.BackfillResponse{Events: make([]json.RawMessage, 0, len(found))}
	for _, r := range found {
		js := json.RawMessage(r.JSON)
		ok, err := serverMaySee(ctx, s, r, req.Server)
		if err != nil {
			return nil, err
		}
		if !ok {
			red, err := event.Redact(matrix.RoomVersionID(room.RoomVersion), r.JSON)
			if err != nil {
				return nil, err
			}
			js = red
		}
		out.Events = append(out.Events, js)
	}
	return out, nil
}

// serverMaySee says whether server may see an event (spec "History visibility", as for
// servers): with history visibility world_readable or shared at the event, yes; with
// joined (invited), only when one of its users was joined (joined or invited) in the state
// before the event, or the event is such a membership of one of its users.
func serverMaySee(ctx context.Context, s *storage.Store, r *storage.EventRow, server string) (bool, error) {
	if server == "" {
		return true, nil
	}
	state, err := s.LoadSnapshot(ctx, r.StateBefore)
	if err != nil {
		return false, err
	}
	nids := []int64{}
	hvNID, hasHV := state[hvTuple]
	if hasHV {
		nids = append(nids, hvNID)
	}
	for t, nid := range state {
		if t.EventType == "m.room.member" {
			if srv, ok := matrix.ServerNameOf(t.StateKey); ok && srv == server {
				nids = append(nids, nid)
			}
		}
	}
	rows, err := s.EventsByNID(ctx, nids)
	if err != nil {
		return false, err
	}
	visibility := "shared" // the spec's default
	if hv := rows[hvNID]; hasHV && hv != nil {
		var c struct {
			Content struct {
				HV string `json:"history_visibility"`
			} `json:"content"`
		}
		if json.Unmarshal(hv.JSON, &c) == nil && c.Content.HV != "" {
			visibility = c.Content.HV
		}
	}
	if visibility != "joined" && visibility != "invited" {
		return true, nil
	}
	memberships := []*storage.EventRow{}
	for nid, row := range rows {
		if nid != hvNID || !hasHV {
			memberships = append(memberships, row)
		}
	}
	if r.Type == "m.room.member" && r.StateKey != nil {
		if srv, ok := matrix.ServerNameOf(*r.StateKey); ok && srv == server {
			memberships = append(memberships, r)
		}
	}
	for _, m := range memberships {
		var c struct {
			Content struct {
				Membership string `json:"membership"`
			} `json:"content"`
		}
		if json.Unmarshal(m.JSON, &c) != nil {
			continue
		}
		if c.Content.Membership == "join" || (visibility == "invited" && c.Content.Membership == "invite") {
			return true, nil
		}
	}
	return false, nil
}

// QueryEventByTimestamp finds the room's event closest to a time (timestamp_to_event).
func (a *RoomserverInternalAPI) QueryEventByTimestamp(ctx context.Context, req *api.EventByTimestampRequest) (*api.EventByTimestampResponse, error) {
	s := a.db.Reader()
	if _, err := a.knownRoom(ctx, s, req.RoomID); err != nil {
		return nil, err
	}
	if req.Dir != "f" && req.Dir != "b" {
		return nil, httputil.InvalidParam("dir must be f or b")
	}
	id, ts, err := s.EventByTimestamp(ctx, req.RoomID, req.TS, req.Dir == "f")
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, httputil.NotFound("No event found in %s from %d in direction %s", req.RoomID, req.TS, req.Dir)
	}
	return &api.EventByTimestampResponse{EventID: id, OriginServerTS: ts}, nil
}
