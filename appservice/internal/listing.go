package internal

import (
	"context"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/httputil"
)

// The services' room directory (the spec's "Application service room directories"): a
// service lists rooms per third-party network; /publicRooms shows them with
// include_all_networks, or alone for third_party_instance_id "<service id>|<network id>".

// SetRoomListing implements api.AppServiceAPI.
func (a *API) SetRoomListing(ctx context.Context, req *api.RoomListingRequest) (*api.RoomListingResponse, error) {
	if a.Regs.ByID(req.AppServiceID) == nil {
		return nil, httputil.NotFound("Unknown application service %q", req.AppServiceID)
	}
	if req.NetworkID == "" || req.RoomID == "" {
		return nil, httputil.MissingParam("A network ID and a room ID are needed")
	}
	err := a.DB.SetListed(ctx, storage.ListedRoom{ASID: req.AppServiceID, NetworkID: req.NetworkID, RoomID: req.RoomID}, req.Listed)
	if err != nil {
		return nil, err
	}
	return &api.RoomListingResponse{}, nil
}

// ListedRooms implements api.AppServiceAPI.
func (a *API) ListedRooms(ctx context.Context, req *api.ListedRoomsRequest) (*api.ListedRoomsResponse, error) {
	rooms, err := a.DB.Listed(ctx, req.AppServiceID, req.NetworkID)
	if err != nil {
		return nil, err
	}
	resp := &api.ListedRoomsResponse{RoomIDs: []string{}}
	for _, r := range rooms {
		if req.AppServiceID == "" && a.Regs.ByID(r.ASID) == nil {
			continue // a service no longer registered
		}
		resp.RoomIDs = append(resp.RoomIDs, r.RoomID)
	}
	return resp, nil
}
