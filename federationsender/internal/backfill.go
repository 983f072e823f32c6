package internal

import (
	"context"
	"net/http"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
)

var _ api.BackfillAPI = (*API)(nil)

// maxBackfillServers bounds the servers one backfill asks in turn.
const maxBackfillServers = 5

// PerformBackfill implements api.BackfillAPI (arrow 17): /backfill to each server in turn;
// the first answer is checked (arrow 12: signatures; content hashes) and returned.
func (a *API) PerformBackfill(ctx context.Context, req *api.PerformBackfillRequest) (*api.PerformBackfillResponse, error) {
	if len(req.EventIDs) == 0 || req.Limit <= 0 {
		return nil, httputil.InvalidParam("backfill needs event IDs and a positive limit")
	}
	version := matrix.RoomVersionID(req.RoomVersion)
	if _, err := matrix.GetRoomVersion(version); err != nil {
		return nil, httputil.InvalidParam("Unknown room version %q", req.RoomVersion)
	}
	asked := 0
	var lastErr error
	for _, server := range req.Servers {
		if server == a.ServerName || asked >= maxBackfillServers {
			continue
		}
		asked++
		txn, err := a.Client.Backfill(ctx, server, req.RoomID, req.EventIDs, req.Limit)
		if err != nil {
			lastErr = err
			a.log().WithField("destination", server).WithError(err).Info("backfill failed; trying the next server")
			continue
		}
		pdus := txn.PDUs
		if len(pdus) > req.Limit {
			pdus = pdus[:req.Limit]
		}
		events, _, err := a.verifiedEvents(ctx, version, req.RoomID, pdus)
		if err != nil {
			return nil, err
		}
		return &api.PerformBackfillResponse{Origin: server, Events: events}, nil
	}
	msg := "No server could backfill " + req.RoomID
	if lastErr != nil {
		msg += ": " + lastErr.Error()
	}
	return nil, &httputil.MatrixError{Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND", Err: msg}
}
