package internal

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/sirupsen/logrus"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// maxBackfillFrom bounds the missing events one backfill request starts from.
const maxBackfillFrom = 20

// PerformBackfill is arrow 2's backfill: it walks prev_events back from req.EventIDs
// through what this server holds (timeline events and earlier backfilled ones; rejected
// events end the walk), and when that gives fewer than Limit events and the walk reached
// events this server lacks, asks the room's other servers for them through the
// federationsender (arrow 17, /backfill). What comes back (signatures and content hashes
// checked there) is stored as outliers, each authorised against its own auth events
// (refused ones stored as rejected and left out): backfilled history, which is neither a
// forward extremity nor part of the current state, and goes to no topic — it is not live.
func (a *RoomserverInternalAPI) PerformBackfill(ctx context.Context, req *api.BackfillHistoryRequest) (*api.BackfillHistoryResponse, error) {
	s := a.db.Reader()
	room, err := a.knownRoom(ctx, s, req.RoomID)
	if err != nil {
		return nil, err
	}
	limit := min(max(req.Limit, 1), maxBackfill)
	found, missing, err := walkHeld(ctx, s, req.RoomID, req.EventIDs, limit)
	if err != nil {
		return nil, err
	}
	out := &api.BackfillHistoryResponse{RoomVersion: room.RoomVersion}
	if len(found) < limit && len(missing) > 0 {
		fetched, err := a.backfillRemote(ctx, room, missing, limit-len(found))
		if err != nil {
			return nil, err
		}
		found = append(found, fetched...)
		out.Fetched = len(fetched)
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].Depth > found[j].Depth })
	if len(found) > limit {
		found = found[:limit]
	}
	out.Events = make([]json.RawMessage, 0, len(found))
	out.EventIDs = make([]string, 0, len(found))
	for _, r := range found {
		out.Events = append(out.Events, json.RawMessage(r.JSON))
		out.EventIDs = append(out.EventIDs, r.EventID)
	}
	return out, nil
}

// walkHeld walks prev_events back from the from events (not included), breadth first,
// collecting held events of the room (outliers too: backfilled history) until limit, and
// the prev events it met that are not held.
func walkHeld(ctx context.Context, s *storage.Store, roomID string, from []string, limit int) (found []*storage.EventRow, missing []string, err error) {
	seen := map[string]bool{}
	for _, id := range from {
		seen[id] = true
	}
	rows, err := s.EventsByID(ctx, dedupeIDs(from))
	if err != nil {
		return nil, nil, err
	}
	var next []string
	for _, r := range rows {
		if r.RoomID == roomID {
			prev, err := s.PrevEventIDs(ctx, r.NID)
			if err != nil {
				return nil, nil, err
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
			return nil, nil, err
		}
		sort.Strings(ids)
		for _, id := range ids {
			r := rows[id]
			if r == nil {
				missing = append(missing, id)
				continue
			}
			if r.RoomID != roomID || r.IsRejected || len(found) >= limit {
				continue
			}
			found = append(found, r)
			prev, err := s.PrevEventIDs(ctx, r.NID)
			if err != nil {
				return nil, nil, err
			}
			next = append(next, prev...)
		}
	}
	return found, missing, nil
}

// backfillRemote fetches up to limit events from missing backwards from the room's other
// servers (arrow 17) and stores them as outliers; it returns the accepted ones. Without a
// federationsender that can, or when no server answers, it returns none.
func (a *RoomserverInternalAPI) backfillRemote(ctx context.Context, room *storage.Room, missing []string, limit int) ([]*storage.EventRow, error) {
	bf, ok := a.fedSender.(fsapi.BackfillAPI)
	if !ok || a.fedSender == nil {
		return nil, nil
	}
	servers, err := a.backfillServers(ctx, room.RoomID, missing)
	if err != nil || len(servers) == 0 {
		return nil, err
	}
	if len(missing) > maxBackfillFrom {
		missing = missing[:maxBackfillFrom]
	}
	resp, err := bf.PerformBackfill(ctx, &fsapi.PerformBackfillRequest{RoomID: room.RoomID, RoomVersion: room.RoomVersion,
		Servers: servers, EventIDs: missing, Limit: limit})
	if err != nil {
		logrus.WithError(err).WithField("room_id", room.RoomID).Info("roomserver: backfill over federation failed")
		return nil, nil
	}
	var stored []string
	err = a.writeRoom(ctx, "backfill", room.RoomID, func(ctx context.Context, w *roomWriter) error {
		stored, err = w.storeBackfilled(ctx, resp.Events)
		return err
	})
	if err != nil {
		return nil, err
	}
	rows, err := a.db.Reader().EventsByID(ctx, stored)
	if err != nil {
		return nil, err
	}
	out := make([]*storage.EventRow, 0, len(stored))
	for _, id := range stored {
		if r := rows[id]; r != nil && !r.IsRejected {
			out = append(out, r)
		}
	}
	return out, nil
}

// backfillServers are the servers to ask: those with a joined member now, then the
// servers named by the missing events' IDs (room versions 1 and 2), this server left out.
func (a *RoomserverInternalAPI) backfillServers(ctx context.Context, roomID string, missing []string) ([]string, error) {
	members, err := a.db.Reader().RoomMembers(ctx, roomID, auth.MembershipJoin)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{a.serverName: true}
	var servers []string
	add := func(id string) {
		if srv, ok := matrix.ServerNameOf(id); ok && !seen[srv] {
			seen[srv] = true
			servers = append(servers, srv)
		}
	}
	for _, m := range members {
		add(m)
	}
	sort.Strings(servers)
	for _, id := range missing {
		add(id)
	}
	return servers, nil
}

// storeBackfilled stores fetched events of the writer's room as outliers (storeOutliers:
// each authorised against its own auth events, held ones kept as they are) and returns
// the IDs of those it was sent, in the order sent.
func (w *roomWriter) storeBackfilled(ctx context.Context, raws []json.RawMessage) ([]string, error) {
	create, err := w.stateEvent(ctx, "m.room.create", "")
	if err != nil || create == nil {
		return nil, err
	}
	byID := map[string]matrix.PDU{}
	var ids []string
	for _, raw := range raws {
		p, err := w.a.events.ParseReceived(w.version, raw)
		if err != nil || p.RoomID() != w.room.RoomID {
			continue
		}
		if _, dup := byID[p.EventID()]; !dup {
			ids = append(ids, p.EventID())
		}
		byID[p.EventID()] = p
	}
	// storeOutliers needs every auth event in byID: the held ones as they are.
	var refs []string
	for _, p := range byID {
		for _, aid := range p.AuthEventIDs() {
			if byID[aid] == nil {
				refs = append(refs, aid)
			}
		}
	}
	rows, err := w.s.EventsByID(ctx, refs)
	if err != nil {
		return nil, err
	}
	for id, r := range rows {
		if r.RoomID != w.room.RoomID {
			continue
		}
		p, err := w.parsedRow(r)
		if err != nil {
			return nil, err
		}
		byID[id] = p
	}
	if _, _, err := w.storeOutliers(ctx, byID, create); err != nil {
		return nil, err
	}
	return ids, nil
}
