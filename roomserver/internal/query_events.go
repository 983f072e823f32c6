package internal

import (
	"context"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/roomserver/api"
)

// QueryEventsByID is QueryEvent for many events (arrow 2: the syncapi fetching the state of
// a room joined over federation): one read per 500 IDs (storage.EventsByID) instead of one
// per event. Unknown and rejected events are left out of the answer.
func (a *RoomserverInternalAPI) QueryEventsByID(ctx context.Context, eventIDs []string) (map[string]api.EventJSON, error) {
	if len(eventIDs) > api.MaxQueryEvents {
		return nil, httputil.InvalidParam("At most %d event IDs per query, not %d", api.MaxQueryEvents, len(eventIDs))
	}
	rows, err := a.db.Reader().EventsByID(ctx, dedupeIDs(eventIDs))
	if err != nil {
		return nil, err
	}
	out := make(map[string]api.EventJSON, len(rows))
	for id, r := range rows {
		if !r.IsRejected {
			out[id] = api.EventJSON{RoomVersion: r.RoomVersion, Event: r.JSON, Redacted: r.IsRedacted}
		}
	}
	return out, nil
}
