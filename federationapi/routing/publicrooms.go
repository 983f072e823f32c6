package routing

import (
	"net/http"
	"strconv"

	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// maxPublicRoomsLimit caps one page of the directory asked for over federation.
const maxPublicRoomsLimit = 500

// publicRooms serves GET and POST /_matrix/federation/v1/publicRooms: this server's room
// directory, the one the clientapi publishes rooms in (arrow 3, QueryPublicRooms; a
// page is an offset token). Only rooms without a room type are listed when the filter's
// room_types asks for them (null); other types are filtered likewise.
type publicRoomsHandler struct {
	cfg Config
	rs  rsapi.RoomserverAPI
}

func (h *publicRoomsHandler) serve(w http.ResponseWriter, r *http.Request) {
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
	if r.Method == http.MethodPost {
		if me := httputil.ReadJSONObject(r, h.cfg.MaxBodyBytes, &body); me != nil {
			httputil.WriteError(w, me)
			return
		}
	} else {
		q := r.URL.Query()
		if l := q.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil {
				httputil.WriteError(w, httputil.InvalidParam("limit must be an integer"))
				return
			}
			body.Limit = n
		}
		body.Since = q.Get("since")
		body.ThirdPartyInstanceID = q.Get("third_party_instance_id")
	}
	if body.Limit < 0 {
		httputil.WriteError(w, httputil.InvalidParam("limit must not be negative"))
		return
	}
	if body.ThirdPartyInstanceID != "" {
		// No third-party networks (application service directories) here.
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"chunk": []any{}, "total_room_count_estimate": 0})
		return
	}
	req := &rsapi.PublicRoomsRequest{Limit: min(body.Limit, maxPublicRoomsLimit), Since: body.Since}
	if body.Limit == 0 {
		req.Limit = maxPublicRoomsLimit
	}
	var types []*string
	if body.Filter != nil {
		req.Filter = body.Filter.GenericSearchTerm
		types = body.Filter.RoomTypes
	}
	resp, err := h.rs.QueryPublicRooms(r.Context(), req)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	if len(types) > 0 {
		kept := resp.Chunk[:0]
		for _, room := range resp.Chunk {
			if roomTypeWanted(types, room.RoomType) {
				kept = append(kept, room)
			}
		}
		resp.Chunk = kept
	}
	if resp.Chunk == nil {
		resp.Chunk = []rsapi.PublicRoom{}
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
}

// roomTypeWanted says whether a room of type t ("" for none) is among types (nil for none).
func roomTypeWanted(types []*string, t string) bool {
	for _, want := range types {
		if (want == nil && t == "") || (want != nil && *want == t) {
			return true
		}
	}
	return false
}
