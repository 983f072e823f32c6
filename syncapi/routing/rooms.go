package routing

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/types"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

func paginationParam(q url.Values, name string) (*types.PaginationToken, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	t, err := types.ParsePaginationToken(v)
	if err != nil {
		return nil, httputil.InvalidParam("Invalid %s token: %v", name, err)
	}
	return &t, nil
}

// limitParam is the limit parameter of /messages and /context: default 10, capped at 1000.
func limitParam(q url.Values) (int, error) {
	n, err := intParam(q, "limit", internal.DefaultPaginationLimit)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		n = internal.DefaultPaginationLimit
	}
	if n > internal.MaxPaginationLimit {
		n = internal.MaxPaginationLimit
	}
	return n, nil
}

// roomParamError answers a room endpoint's bad parameter perr, but only after the room
// access check: a user who may not read the room gets 403 whatever the parameters, so the
// order of the checks tells nothing about the room.
func (h *Handlers) roomParamError(w http.ResponseWriter, r *http.Request, dev *userapi.Device, roomID string, perr error) {
	if err := h.Syncer.CheckRoomAccess(r.Context(), roomID, dev.UserID); err != nil {
		respond(w, r, nil, err)
		return
	}
	httputil.WriteError(w, perr)
}

// messages serves GET /rooms/{roomId}/messages (spec: message_pagination.yaml).
func (h *Handlers) messages(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	q := r.URL.Query()
	req := &internal.MessagesRequest{UserID: dev.UserID, DeviceID: dev.DeviceID, RoomID: mux.Vars(r)["roomId"], FromText: q.Get("from")}
	switch q.Get("dir") {
	case "b":
		req.Backwards = true
	case "f":
	case "":
		h.roomParamError(w, r, dev, req.RoomID, httputil.MissingParam("dir is required"))
		return
	default:
		h.roomParamError(w, r, dev, req.RoomID, httputil.InvalidParam("dir must be b or f"))
		return
	}
	var err error
	if req.From, err = paginationParam(q, "from"); err != nil {
		h.roomParamError(w, r, dev, req.RoomID, err)
		return
	}
	if req.To, err = paginationParam(q, "to"); err != nil {
		h.roomParamError(w, r, dev, req.RoomID, err)
		return
	}
	if req.Limit, err = limitParam(q); err != nil {
		h.roomParamError(w, r, dev, req.RoomID, err)
		return
	}
	if req.Filter, err = internal.ParseRoomEventFilter(q.Get("filter")); err != nil {
		h.roomParamError(w, r, dev, req.RoomID, err)
		return
	}
	resp, err := h.Syncer.Messages(r.Context(), req)
	respond(w, r, resp, err)
}

// context serves GET /rooms/{roomId}/context/{eventId} (spec: event_context.yaml).
func (h *Handlers) context(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	q := r.URL.Query()
	roomID := mux.Vars(r)["roomId"]
	limit, err := limitParam(q)
	if err != nil {
		h.roomParamError(w, r, dev, roomID, err)
		return
	}
	f, err := internal.ParseRoomEventFilter(q.Get("filter"))
	if err != nil {
		h.roomParamError(w, r, dev, roomID, err)
		return
	}
	resp, err := h.Syncer.Context(r.Context(), dev.UserID, dev.DeviceID, roomID, mux.Vars(r)["eventId"], limit, f)
	respond(w, r, resp, err)
}

var memberships = map[string]bool{"join": true, "invite": true, "knock": true, "leave": true, "ban": true}

// members serves GET /rooms/{roomId}/members (spec: rooms.yaml).
func (h *Handlers) members(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	q := r.URL.Query()
	roomID := mux.Vars(r)["roomId"]
	at, err := paginationParam(q, "at")
	if err != nil {
		h.roomParamError(w, r, dev, roomID, err)
		return
	}
	m, notM := q.Get("membership"), q.Get("not_membership")
	if (m != "" && !memberships[m]) || (notM != "" && !memberships[notM]) {
		h.roomParamError(w, r, dev, roomID, httputil.InvalidParam("membership and not_membership must be join, invite, knock, leave or ban"))
		return
	}
	chunk, err := h.Syncer.Members(r.Context(), dev.UserID, roomID, at, m, notM)
	if err != nil {
		respond(w, r, nil, err)
		return
	}
	if chunk == nil {
		chunk = []json.RawMessage{}
	}
	respond(w, r, map[string]any{"chunk": chunk}, nil)
}

// joinedMembers serves GET /rooms/{roomId}/joined_members (spec: rooms.yaml).
func (h *Handlers) joinedMembers(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	joined, err := h.Syncer.JoinedMembers(r.Context(), dev.UserID, mux.Vars(r)["roomId"])
	if err != nil {
		respond(w, r, nil, err)
		return
	}
	respond(w, r, map[string]any{"joined": joined}, nil)
}

// event serves GET /rooms/{roomId}/event/{eventId} (spec: rooms.yaml).
func (h *Handlers) event(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	v := mux.Vars(r)
	ev, err := h.Syncer.Event(r.Context(), dev.UserID, dev.DeviceID, v["roomId"], v["eventId"])
	respond(w, r, ev, err)
}
