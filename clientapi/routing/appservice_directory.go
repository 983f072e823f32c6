package routing

import (
	"context"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	asapi "github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// The application services' room directory: a service lists rooms per third-party
// network (kept by the appservice component, arrow 10); POST /publicRooms shows them with
// include_all_networks, or alone for third_party_instance_id "<service id>|<network id>"
// (the instance_id of /thirdparty/protocols).

// putAppServiceListing serves PUT /directory/list/appservice/{networkId}/{roomId}: only
// with an as_token (403 M_FORBIDDEN otherwise, as Synapse); visibility "public" (the
// default) lists the room for the network, "private" removes it; an unknown room is 404.
func (rt *Routes) putAppServiceListing(r *http.Request, _ *userapi.Device) (any, error) {
	token, me := httputil.AccessToken(r)
	if me != nil {
		return nil, me
	}
	reg := rt.appServices.ByASToken(token)
	if reg == nil || rt.asAPI == nil {
		return nil, httputil.Forbidden("Only application services can edit their published room list")
	}
	v := mux.Vars(r)
	if err := checkRoomID(v["roomId"]); err != nil {
		return nil, err
	}
	var req struct {
		Visibility *string `json:"visibility"`
	}
	if err := readJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	vis := "public"
	if req.Visibility != nil {
		vis = *req.Visibility
	}
	if vis != "public" && vis != "private" {
		return nil, httputil.InvalidParam("visibility must be public or private")
	}
	if _, err := rt.rsAPI.GetRoomVisibility(r.Context(), v["roomId"]); err != nil {
		return nil, err // 404 for a room this server does not know
	}
	if _, err := rt.asAPI.SetRoomListing(r.Context(), &asapi.RoomListingRequest{AppServiceID: reg.ID,
		NetworkID: v["networkId"], RoomID: v["roomId"], Listed: vis == "public"}); err != nil {
		return nil, err
	}
	return empty, nil
}

// listedRooms is the rooms /publicRooms adds for include_all_networks (every service's)
// or third_party_instance_id (one service's network; 400 M_INVALID_PARAM for an ID that
// names no registered service).
func (rt *Routes) listedRooms(ctx context.Context, instanceID string, all bool) ([]string, error) {
	req := &asapi.ListedRoomsRequest{}
	if instanceID != "" {
		as, network, ok := strings.Cut(instanceID, "|")
		if !ok || network == "" || rt.appServices.ByID(as) == nil {
			return nil, httputil.InvalidParam("Unknown third_party_instance_id %q", instanceID)
		}
		req.AppServiceID, req.NetworkID = as, network
	} else if !all {
		return nil, nil
	}
	if rt.asAPI == nil {
		return nil, nil
	}
	resp, err := rt.asAPI.ListedRooms(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.RoomIDs, nil
}
