package routing

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// maxBackfillLimit caps the limit of one /backfill (the roomserver caps it too).
const maxBackfillLimit = 100

// eventAuth serves GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}: the auth
// chain of an event of a room the origin may read (arrow 3, QueryAuthChain).
func (h *eventHandlers) eventAuth(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vars := mux.Vars(r)
	if !h.mayRead(ctx, w, vars["roomId"], Origin(ctx)) {
		return
	}
	resp, err := h.rs.QueryAuthChain(ctx, &rsapi.AuthChainRequest{RoomID: vars["roomId"], EventID: vars["eventId"]})
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"auth_chain": nonNilRaw(resp.AuthChain)})
}

// backfill serves GET /_matrix/federation/v1/backfill/{roomId}?v=…&limit=…: the given
// events and those before them, newest first, as a transaction (arrow 3, QueryBackfill;
// events the origin's users could not see are redacted).
func (h *eventHandlers) backfill(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	roomID := mux.Vars(r)["roomId"]
	q := r.URL.Query()
	from := q["v"]
	if len(from) == 0 {
		httputil.WriteError(w, httputil.MissingParam("v is required"))
		return
	}
	if q.Get("limit") == "" {
		httputil.WriteError(w, httputil.MissingParam("limit is required"))
		return
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 {
		httputil.WriteError(w, httputil.InvalidParam("limit must be a positive integer"))
		return
	}
	if !h.mayRead(ctx, w, roomID, Origin(ctx)) {
		return
	}
	resp, err := h.rs.QueryBackfill(ctx, &rsapi.BackfillRequest{RoomID: roomID, EventIDs: from, Limit: min(limit, maxBackfillLimit), Server: Origin(ctx)})
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"origin": h.cfg.ServerName,
		"origin_server_ts": time.Now().UnixMilli(), "pdus": nonNilRaw(resp.Events)})
}

// timestampToEvent serves GET /_matrix/federation/v1/timestamp_to_event/{roomId}?ts=&dir=
// (arrow 3, QueryEventByTimestamp).
func (h *eventHandlers) timestampToEvent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	roomID := mux.Vars(r)["roomId"]
	req, me := parseTimestampQuery(r, roomID)
	if me != nil {
		httputil.WriteError(w, me)
		return
	}
	if !h.mayRead(ctx, w, roomID, Origin(ctx)) {
		return
	}
	resp, err := h.rs.QueryEventByTimestamp(ctx, req)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
}

// parseTimestampQuery reads ts (milliseconds) and dir (f or b) of a timestamp_to_event.
func parseTimestampQuery(r *http.Request, roomID string) (*rsapi.EventByTimestampRequest, *httputil.MatrixError) {
	q := r.URL.Query()
	if q.Get("ts") == "" || q.Get("dir") == "" {
		return nil, httputil.MissingParam("ts and dir are required")
	}
	ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
	if err != nil {
		return nil, httputil.InvalidParam("ts must be an integer")
	}
	dir := q.Get("dir")
	if dir != "f" && dir != "b" {
		return nil, httputil.InvalidParam("dir must be f or b")
	}
	return &rsapi.EventByTimestampRequest{RoomID: roomID, TS: ts, Dir: dir}, nil
}
