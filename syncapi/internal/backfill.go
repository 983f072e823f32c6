package internal

import (
	"context"
	"math"

	"github.com/sirupsen/logrus"

	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// historyBound is the lower bound of a backwards /messages without `to`: backfilled
// history sits at negative positions (storage/backfill.go).
const historyBound = math.MinInt64

// pageBackfilled continues a backwards /messages that reached the start of what this
// server holds of the room: it asks the roomserver for the history before the room's
// earliest stored event (arrow 2, PerformBackfill; the roomserver fetches it from the
// room's other servers through the federationsender, arrow 17), stores what comes back
// at negative positions and pages through it from cur. more is true when something was
// stored (there may be more before it). A room that starts with its create event, a
// syncapi without a roomserver, or a failed backfill give nothing.
func (s *Syncer) pageBackfilled(ctx context.Context, roomID string, cur int64, limit int, f *RoomEventFilter, vis *roomVisibility) (evs []storage.Event, next int64, more bool, err error) {
	if s.rsAPI == nil || limit <= 0 {
		return nil, cur, false, nil
	}
	earliest, err := s.db.EarliestRoomEvent(ctx, roomID)
	if err != nil || earliest == nil || earliest.Type == "m.room.create" || earliest.StreamPos <= cur {
		return nil, cur, false, err
	}
	resp, err := s.rsAPI.PerformBackfill(ctx, &rsapi.BackfillHistoryRequest{RoomID: roomID, EventIDs: []string{earliest.EventID}, Limit: max(limit, DefaultPaginationLimit)})
	if err != nil {
		logrus.WithError(err).WithField("room_id", roomID).Info("syncapi: backfill failed")
		return nil, cur, false, nil
	}
	toStore := make([]storage.Event, 0, len(resp.Events))
	for i, raw := range resp.Events {
		if i >= len(resp.EventIDs) {
			break
		}
		if e := ParseEvent(raw, resp.EventIDs[i]); e != nil && e.RoomID == roomID {
			toStore = append(toStore, *e)
		}
	}
	stored, err := s.db.StoreBackfilled(ctx, toStore)
	if err != nil || len(stored) == 0 {
		return nil, cur, false, err
	}
	evs, next, _, err = s.page(ctx, roomID, stored[0].StreamPos, historyBound, true, limit, f, vis)
	return evs, next, true, err
}
