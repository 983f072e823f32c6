package routing

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/syncv3"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// maxSyncV3Body bounds a POST /sync body (the streams' parameters).
const maxSyncV3Body = 64 << 10

// knownStreams are the stream names a POST /sync body may hold (docs/sync-v3.md).
var knownStreams = map[string]bool{syncv3.StreamTyping: true, syncv3.StreamToDevice: true, syncv3.StreamRoomMembers: true,
	syncv3.StreamRoom: true, syncv3.StreamRoomList: true}

// syncV3Authed is authed for sync v3: the access token only as Authorization: Bearer (the
// seed's rule); `?access_token=` is refused with 401 M_MISSING_TOKEN.
func (h *Handlers) syncV3Authed(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("access_token") {
		httputil.WriteError(w, httputil.MissingToken("Sync v3 takes the access token only as an Authorization: Bearer header; ?access_token= is not supported"))
		return
	}
	if r.Header.Get("Authorization") == "" {
		httputil.WriteError(w, httputil.MissingToken("Missing access token (Authorization: Bearer)"))
		return
	}
	h.authed(h.syncV3)(w, r)
}

// syncV3 serves POST /sync: the sync v3 streams (internal/syncv3, docs/sync-v3.md). GET
// /sync stays the spec's.
func (h *Handlers) syncV3(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	q := r.URL.Query()
	ms, err := intParam(q, "timeout", 0)
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	raw, me := httputil.ReadBody(r, maxSyncV3Body)
	if me != nil {
		httputil.WriteError(w, me)
		return
	}
	body := &syncv3.Request{}
	if len(raw) > 0 {
		var streams map[string]json.RawMessage
		if me := httputil.DecodeJSONObject(raw, &streams); me != nil {
			httputil.WriteError(w, me)
			return
		}
		for name := range streams {
			if !knownStreams[name] {
				httputil.WriteError(w, httputil.InvalidParam("Unknown stream %q", name))
				return
			}
		}
		if me := httputil.DecodeJSONObject(raw, body); me != nil {
			httputil.WriteError(w, me)
			return
		}
	}
	resp, err := h.V3.Sync(r.Context(), syncv3.Caller{UserID: dev.UserID, DeviceID: dev.DeviceID}, q.Get("since"),
		time.Duration(ms)*time.Millisecond, body)
	respond(w, r, resp, err)
}
