package internal

import (
	"context"
	"encoding/json"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/api"
)

// queryRemotePublicRooms asks another server for a page of its room directory through the
// federationsender (arrow 17 → 7: GET or POST /_matrix/federation/v1/publicRooms), for
// the clientapi's /publicRooms?server= (arrow 4). Entries that are not room summaries
// are dropped. Without a federationsender that offers it: 404 M_NOT_FOUND.
func (a *RoomserverInternalAPI) queryRemotePublicRooms(ctx context.Context, req *api.PublicRoomsRequest) (*api.PublicRoomsResponse, error) {
	if !matrix.ValidServerName(req.Server) {
		return nil, httputil.InvalidParam("Invalid server name %q", req.Server)
	}
	rooms, ok := a.fedSender.(fsapi.RoomsAPI)
	if !ok || a.fedSender == nil {
		return nil, httputil.NotFound("Server %s is another server, and this server does not federate", req.Server)
	}
	resp, err := rooms.QueryRemotePublicRooms(ctx, &fsapi.QueryRemotePublicRoomsRequest{Server: req.Server,
		Limit: req.Limit, Since: req.Since, Filter: req.Filter, RoomTypes: req.RoomTypes,
		IncludeAllNetworks: req.IncludeAllNetworks, ThirdPartyInstanceID: req.ThirdPartyInstanceID})
	if err != nil {
		return nil, err
	}
	out := &api.PublicRoomsResponse{Chunk: []api.PublicRoom{}, NextBatch: resp.NextBatch, PrevBatch: resp.PrevBatch,
		Total: int(resp.Total)}
	for _, raw := range resp.Chunk {
		var r api.PublicRoom
		if json.Unmarshal(raw, &r) == nil && matrix.ValidRoomID(r.RoomID) {
			out.Chunk = append(out.Chunk, r)
		}
	}
	return out, nil
}
