package routing

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/types"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// MaxSyncTimeout caps a /sync long-poll.
const MaxSyncTimeout = 10 * time.Minute

// sync serves GET /sync (spec: client-server sync.yaml).
func (h *Handlers) sync(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	q := r.URL.Query()
	req := &internal.SyncRequest{UserID: dev.UserID, DeviceID: dev.DeviceID, AccountDataPos: dev.AccountDataPos}
	if s := q.Get("since"); s != "" {
		tok, err := types.ParseStreamToken(s)
		if err != nil {
			httputil.WriteError(w, httputil.InvalidParam("Invalid since token: %v", err))
			return
		}
		req.Since = &tok
	}
	ms, err := intParam(q, "timeout", 0)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	req.Timeout = time.Duration(ms) * time.Millisecond
	if req.Timeout > MaxSyncTimeout {
		req.Timeout = MaxSyncTimeout
	}
	if req.FullState, err = boolParam(q, "full_state"); err != nil {
		httputil.WriteError(w, err)
		return
	}
	switch q.Get("set_presence") {
	case "", "online", "offline", "unavailable":
		// Passed to the eduserver (arrow 18) by the Syncer.
		req.SetPresence = q.Get("set_presence")
	default:
		httputil.WriteError(w, httputil.InvalidParam("set_presence must be online, offline or unavailable"))
		return
	}
	if req.Filter, err = h.loadFilter(r, dev.UserID, q.Get("filter")); err != nil {
		httputil.WriteError(w, err)
		return
	}
	resp, err := h.Syncer.Sync(r.Context(), req)
	respond(w, r, resp, err)
}

// loadFilter reads the filter parameter: inline JSON (starting with "{") or the ID of a
// filter the user stored (POST /user/{userId}/filter) in the userapi (every Tier 1 →
// userapi). Parsed filters are kept (filtercache.go): a stored filter never changes once
// created, and an inline filter is its own key. The returned Filter is shared between
// requests and must not be modified.
func (h *Handlers) loadFilter(r *http.Request, userID, param string) (*internal.Filter, error) {
	if param == "" {
		return &internal.Filter{}, nil
	}
	if strings.HasPrefix(strings.TrimSpace(param), "{") {
		return h.filters.get(filterKey{text: param}, func() (*internal.Filter, error) {
			return internal.ParseFilter([]byte(param))
		})
	}
	return h.filters.get(filterKey{user: userID, id: param}, func() (*internal.Filter, error) {
		stored, err := h.UserAPI.GetFilter(r.Context(), userID, param)
		if err != nil {
			var me *httputil.MatrixError
			if errors.As(err, &me) && me.ErrCode == "M_NOT_FOUND" {
				return nil, httputil.InvalidParam("Unknown filter %q", param)
			}
			return nil, err
		}
		return internal.ParseFilter(stored)
	})
}
