package routing

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// getAlias serves GET /directory/room/{roomAlias}.
func (rt *Routes) getAlias(r *http.Request, _ *userapi.Device) (any, error) {
	alias := mux.Vars(r)["roomAlias"]
	server, err := parseAlias(alias)
	if err != nil {
		return nil, err
	}
	// Another server's alias: the roomserver asks that server through the federationsender
	// (arrow 7, remembered briefly there); M_NOT_FOUND without federation.
	roomID, servers, err := rt.rsAPI.ResolveRoomAlias(r.Context(), alias)
	if server == rt.cfg.ServerName && isNotFound(err) && rt.queryAppServiceAlias(r.Context(), alias) { // appservice.go, arrow 10
		roomID, servers, err = rt.rsAPI.ResolveRoomAlias(r.Context(), alias)
	}
	if err != nil {
		return nil, err
	}
	if servers == nil {
		servers = []string{rt.cfg.ServerName}
	}
	return map[string]any{"room_id": roomID, "servers": servers}, nil
}

// putAlias serves PUT /directory/room/{roomAlias}; only aliases of this server.
func (rt *Routes) putAlias(r *http.Request, dev *userapi.Device) (any, error) {
	alias := mux.Vars(r)["roomAlias"]
	server, err := parseAlias(alias)
	if err != nil {
		return nil, err
	}
	var req struct {
		RoomID *string `json:"room_id"`
	}
	if err := readJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	if req.RoomID == nil {
		return nil, httputil.MissingParam("Missing room_id")
	}
	if err := checkRoomID(*req.RoomID); err != nil {
		return nil, err
	}
	if server != rt.cfg.ServerName {
		return nil, httputil.InvalidParam("Room alias must be on this server (%s)", rt.cfg.ServerName)
	}
	if err := rt.checkAliasNamespace(r, alias, dev.UserID); err != nil { // appservice.go
		return nil, err
	}
	if err := rt.rsAPI.SetRoomAlias(r.Context(), alias, *req.RoomID, dev.UserID); err != nil {
		return nil, err
	}
	return empty, nil
}

// deleteAlias serves DELETE /directory/room/{roomAlias}.
func (rt *Routes) deleteAlias(r *http.Request, dev *userapi.Device) (any, error) {
	alias := mux.Vars(r)["roomAlias"]
	server, err := parseAlias(alias)
	if err != nil {
		return nil, err
	}
	if server != rt.cfg.ServerName {
		return nil, httputil.InvalidParam("Room alias must be on this server (%s)", rt.cfg.ServerName)
	}
	if err := rt.rsAPI.RemoveRoomAlias(r.Context(), alias, dev.UserID); err != nil {
		return nil, err
	}
	return empty, nil
}

// roomAliases serves GET /rooms/{roomId}/aliases: joined members only (the spec also
// allows world-readable rooms; that check is the roomserver's once it offers it).
func (rt *Routes) roomAliases(r *http.Request, dev *userapi.Device) (any, error) {
	roomID := mux.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	ctx := r.Context()
	membership, _, err := rt.rsAPI.QueryMembership(ctx, roomID, dev.UserID)
	if err != nil {
		return nil, err
	}
	if membership != "join" {
		return nil, httputil.Forbidden("You are not joined to this room")
	}
	aliases, err := rt.rsAPI.GetAliasesForRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if aliases == nil {
		aliases = []string{}
	}
	return map[string][]string{"aliases": aliases}, nil
}

// getVisibility serves GET /directory/list/room/{roomId}.
func (rt *Routes) getVisibility(r *http.Request, _ *userapi.Device) (any, error) {
	roomID := mux.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	v, err := rt.rsAPI.GetRoomVisibility(r.Context(), roomID)
	if err != nil {
		return nil, err
	}
	return map[string]string{"visibility": v}, nil
}

// putVisibility serves PUT /directory/list/room/{roomId}; the caller must be joined (the
// roomserver checks power levels).
func (rt *Routes) putVisibility(r *http.Request, dev *userapi.Device) (any, error) {
	roomID := mux.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
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
	ctx := r.Context()
	membership, _, err := rt.rsAPI.QueryMembership(ctx, roomID, dev.UserID)
	if err != nil {
		return nil, err
	}
	if membership != "join" {
		return nil, httputil.Forbidden("You are not joined to this room")
	}
	if err := rt.rsAPI.SetRoomVisibility(ctx, roomID, dev.UserID, vis); err != nil {
		return nil, err
	}
	return empty, nil
}

// maxPublicRoomsLimit caps one page of the directory.
const maxPublicRoomsLimit = 500

// queryPublicRooms asks the roomserver for a page of this server's directory or, with
// the name of another server, of that server's (arrow 4, then arrow 17 → 7 over
// federation: its Matrix errors passed on, an unreachable server 502 M_UNKNOWN). Asking
// another server needs an access token, so that anonymous clients cannot make this
// server contact others.
func (rt *Routes) queryPublicRooms(r *http.Request, server string, req *rsapi.PublicRoomsRequest) (any, error) {
	if server != "" && server != rt.cfg.ServerName {
		token, me := httputil.AccessToken(r)
		if me != nil {
			return nil, me
		}
		if _, err := rt.authenticate(r, token); err != nil {
			return nil, err
		}
		req.Server = server
		req.ListedRoomIDs, req.OnlyListed = nil, false // this server's application services' rooms
	}
	if req.Limit < 0 {
		return nil, httputil.InvalidParam("limit must not be negative")
	}
	if req.Limit > maxPublicRoomsLimit {
		req.Limit = maxPublicRoomsLimit
	}
	resp, err := rt.rsAPI.QueryPublicRooms(r.Context(), req)
	if err != nil {
		return nil, err
	}
	if resp.Chunk == nil {
		resp.Chunk = []rsapi.PublicRoom{}
	}
	return resp, nil
}

// publicRoomsGet serves GET /publicRooms (this server's directory, or ?server='s).
func (rt *Routes) publicRoomsGet(r *http.Request, _ *userapi.Device) (any, error) {
	q := r.URL.Query()
	req := &rsapi.PublicRoomsRequest{Since: q.Get("since")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			return nil, httputil.InvalidParam("limit must be an integer")
		}
		req.Limit = n
	}
	return rt.queryPublicRooms(r, q.Get("server"), req)
}

// publicRoomsPost serves POST /publicRooms (generic_search_term; ?server= as for GET).
func (rt *Routes) publicRoomsPost(r *http.Request, _ *userapi.Device) (any, error) {
	var body struct {
		Limit  int    `json:"limit"`
		Since  string `json:"since"`
		Filter *struct {
			GenericSearchTerm string    `json:"generic_search_term"`
			RoomTypes         []*string `json:"room_types"`
		} `json:"filter"`
		IncludeAllNetworks   bool   `json:"include_all_networks"`
		ThirdPartyInstanceID string `json:"third_party_instance_id"`
	}
	if err := readOptionalJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	// Application services' network rooms (appservice_directory.go), of this server only.
	server := r.URL.Query().Get("server")
	var listed []string
	if server == "" || server == rt.cfg.ServerName {
		var err error
		if listed, err = rt.listedRooms(r.Context(), body.ThirdPartyInstanceID, body.IncludeAllNetworks); err != nil {
			return nil, err
		}
	}
	req := &rsapi.PublicRoomsRequest{Limit: body.Limit, Since: body.Since, ListedRoomIDs: listed,
		OnlyListed: body.ThirdPartyInstanceID != "", IncludeAllNetworks: body.IncludeAllNetworks,
		ThirdPartyInstanceID: body.ThirdPartyInstanceID}
	if body.Filter != nil {
		req.Filter = body.Filter.GenericSearchTerm
		req.RoomTypes = body.Filter.RoomTypes
	}
	return rt.queryPublicRooms(r, server, req)
}
