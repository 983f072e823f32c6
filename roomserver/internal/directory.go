package internal

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// SetRoomVisibility publishes a room in (or removes it from) the local directory. As in
// Synapse, the user must be joined with the power to send m.room.canonical_alias.
func (a *RoomserverInternalAPI) SetRoomVisibility(ctx context.Context, roomID, userID, visibility string) error {
	if visibility != "public" && visibility != "private" {
		return httputil.InvalidParam("visibility must be \"public\" or \"private\"")
	}
	s := a.db.Reader()
	ok, err := a.canSendState(ctx, s, roomID, userID, "m.room.canonical_alias")
	if err != nil {
		return err
	}
	if !ok {
		return httputil.Forbidden("You may not change the directory visibility of %s", roomID)
	}
	return s.SetVisibility(ctx, roomID, visibility)
}

// GetRoomVisibility returns "public" or "private".
func (a *RoomserverInternalAPI) GetRoomVisibility(ctx context.Context, roomID string) (string, error) {
	room, err := a.knownRoom(ctx, a.db.Reader(), roomID)
	if err != nil {
		return "", err
	}
	return room.Visibility, nil
}

// QueryPublicRooms pages through the local directory, filtered by generic_search_term
// (case-insensitive, in name, topic and canonical alias), busiest rooms first. Since is an
// offset token.
func (a *RoomserverInternalAPI) QueryPublicRooms(ctx context.Context, req *api.PublicRoomsRequest) (*api.PublicRoomsResponse, error) {
	if req.Server != "" && req.Server != a.serverName { // another server's (publicrooms_remote.go)
		return a.queryRemotePublicRooms(ctx, req)
	}
	offset := 0
	if req.Since != "" {
		n, err := strconv.Atoi(req.Since)
		if err != nil || n < 0 {
			return nil, httputil.InvalidParam("Invalid since token %q", req.Since)
		}
		offset = n
	}
	var rooms []*storage.PublicRoomState
	var err error
	if !req.OnlyListed {
		if rooms, err = a.db.Reader().PublicRoomsState(ctx, directoryTypes); err != nil {
			return nil, err
		}
	}
	if len(req.ListedRoomIDs) > 0 { // an application service's third-party network rooms
		listed, err := a.db.Reader().RoomsStateByID(ctx, directoryTypes, req.ListedRoomIDs)
		if err != nil {
			return nil, err
		}
		for _, l := range listed {
			if !slices.ContainsFunc(rooms, func(r *storage.PublicRoomState) bool { return r.RoomID == l.RoomID }) {
				rooms = append(rooms, l)
			}
		}
	}
	term := strings.ToLower(strings.TrimSpace(req.Filter))
	var all []api.PublicRoom
	for _, rs := range rooms {
		r := publicRoom(rs)
		if term != "" && !strings.Contains(strings.ToLower(r.Name+"\x00"+r.Topic+"\x00"+r.CanonicalAlias), term) {
			continue
		}
		all = append(all, r)
	}
	// Busiest rooms first, as in Synapse; ties keep the publication order.
	sort.SliceStable(all, func(i, j int) bool { return all[i].NumJoinedMembers > all[j].NumJoinedMembers })
	resp := &api.PublicRoomsResponse{Total: len(all), Chunk: []api.PublicRoom{}}
	if offset > len(all) {
		offset = len(all)
	}
	end := len(all)
	if req.Limit > 0 && offset+req.Limit < end {
		end = offset + req.Limit
		resp.NextBatch = strconv.Itoa(end)
	}
	resp.Chunk = append(resp.Chunk, all[offset:end]...)
	if offset > 0 {
		prev := 0
		if req.Limit > 0 {
			prev = max(0, offset-req.Limit)
		}
		resp.PrevBatch = strconv.Itoa(prev)
	}
	return resp, nil
}

// directoryTypes are the state event types a directory entry is made of.
var directoryTypes = []string{"m.room.name", "m.room.topic", "m.room.canonical_alias", "m.room.avatar",
	"m.room.join_rules", "m.room.history_visibility", "m.room.guest_access", "m.room.create"}

// publicRoom builds a directory entry from the room's current state.
func publicRoom(rs *storage.PublicRoomState) api.PublicRoom {
	r := api.PublicRoom{RoomID: rs.RoomID, NumJoinedMembers: rs.Joined}
	for typ, raw := range rs.State {
		var e struct {
			Content struct {
				Name     string `json:"name"`
				Topic    string `json:"topic"`
				Alias    string `json:"alias"`
				URL      string `json:"url"`
				JoinRule string `json:"join_rule"`
				HV       string `json:"history_visibility"`
				Guest    string `json:"guest_access"`
				Type     string `json:"type"`
			} `json:"content"`
		}
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		switch typ {
		case "m.room.name":
			r.Name = e.Content.Name
		case "m.room.topic":
			r.Topic = e.Content.Topic
		case "m.room.canonical_alias":
			r.CanonicalAlias = e.Content.Alias
		case "m.room.avatar":
			r.AvatarURL = e.Content.URL
		case "m.room.join_rules":
			r.JoinRule = e.Content.JoinRule
		case "m.room.history_visibility":
			r.WorldReadable = e.Content.HV == "world_readable"
		case "m.room.guest_access":
			r.GuestCanJoin = e.Content.Guest == "can_join"
		case "m.room.create":
			r.RoomType = e.Content.Type
		}
	}
	return r
}
