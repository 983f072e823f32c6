package routing

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/mediaapi/storage"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// downloadAuthed is GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}].
func (h *Handlers) downloadAuthed(w http.ResponseWriter, r *http.Request, _ *userapi.Device) {
	h.download(w, r, false)
}

// downloadLegacy is the unauthenticated GET /_matrix/media/v3/download/… (deprecated):
// media uploaded after media_api.legacy_frozen_after is not served there.
func (h *Handlers) downloadLegacy(w http.ResponseWriter, r *http.Request) {
	h.download(w, r, true)
}

// download serves a local media's file with http.ServeContent (ranges, conditional
// requests with the content's SHA-256 as ETag and its upload time as Last-Modified) and
// Content-Disposition; the routes set the other safe-serving headers (safe).
func (h *Handlers) download(w http.ResponseWriter, r *http.Request, legacy bool) {
	m, ok := h.localMedia(w, r, legacy)
	if !ok {
		return
	}
	vars := mux.Vars(r)
	f, err := h.files.Open(m.SHA256)
	if err != nil {
		writeError(w, r, err) // the metadata names a file that is gone: 500
		return
	}
	defer f.Close()
	name := m.FileName
	if n, ok := vars["fileName"]; ok {
		name = n
	}
	ct := m.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	hd := w.Header()
	hd.Set("Content-Type", ct)
	hd.Set("Content-Disposition", contentDisposition(ct, name))
	hd.Set("ETag", `"`+m.SHA256+`"`)
	if legacy {
		hd.Set("Cache-Control", "public, max-age=86400, immutable")
	} else {
		hd.Set("Cache-Control", "private, max-age=86400, immutable")
	}
	http.ServeContent(w, r, "", time.UnixMilli(m.UploadedTS), f)
}

// localMedia reads the {serverName}/{mediaId} of a download or thumbnail request and returns
// the media's metadata, waiting (timeout_ms) for a pending asynchronous upload; on the
// legacy paths (legacy) it checks allow_remote and keeps media uploaded after
// media_api.legacy_frozen_after off them. Otherwise it writes the error and returns false.
// Media of other servers is fetched over federation on its first request and cached
// (remote.go); with allow_remote=false on the legacy paths only a cached copy is served.
func (h *Handlers) localMedia(w http.ResponseWriter, r *http.Request, legacy bool) (*storage.Media, bool) {
	vars := mux.Vars(r)
	origin, id := vars["serverName"], vars["mediaId"]
	q := r.URL.Query()
	wait, err := downloadWait(q)
	if err != nil {
		writeError(w, r, err)
		return nil, false
	}
	if legacy {
		if v := q.Get("allow_remote"); v != "" && v != "true" && v != "false" {
			writeError(w, r, httputil.InvalidParam("allow_remote must be true or false"))
			return nil, false
		}
	}
	if !validMediaID(id) {
		writeError(w, r, httputil.NotFound("Unknown media"))
		return nil, false
	}
	var m *storage.Media
	switch {
	case origin == h.cfg.ServerName:
		m, err = h.waitForContent(r.Context(), origin, id, wait)
	case legacy && q.Get("allow_remote") == "false":
		// Only what is cached here: never a fetch (the spec's allow_remote).
		if m, err = h.db.GetMedia(r.Context(), origin, id); err == nil && (m == nil || m.Pending()) {
			err = httputil.NotFound("Remote media is not cached here and allow_remote is false")
		}
	default:
		m, err = h.remoteMedia(r.Context(), origin, id, wait)
	}
	if err != nil {
		writeError(w, r, err)
		return nil, false
	}
	h.touchRemote(r.Context(), m) // the remote cache's least-recently-used order (evict.go)
	if legacy && !h.cfg.LegacyFrozenAfter.IsZero() && m.UploadedTS > h.cfg.LegacyFrozenAfter.UnixMilli() {
		writeError(w, r, httputil.NotFound("Media uploaded after the freeze of the unauthenticated media endpoints: "+
			"use /_matrix/client/v1/media"))
		return nil, false
	}
	return m, true
}

// downloadWait reads timeout_ms (how long a download waits for a pending upload):
// defaultDownloadWait when absent, at most maxDownloadWait.
func downloadWait(q url.Values) (time.Duration, error) {
	v := q.Get("timeout_ms")
	if v == "" {
		return defaultDownloadWait, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0, httputil.InvalidParam("timeout_ms must be a non-negative integer")
	}
	return min(time.Duration(min(ms, maxDownloadWait.Milliseconds()))*time.Millisecond, maxDownloadWait), nil
}

// waitForContent returns the metadata of a local media with content, waiting up to wait
// for the upload of a media ID created for an asynchronous upload: 504 M_NOT_YET_UPLOADED
// when it has not come by then, 404 M_NOT_FOUND for an unknown or expired ID. The
// database is polled, so an upload through any mediaapi instance ends the wait.
func (h *Handlers) waitForContent(ctx context.Context, origin, id string, wait time.Duration) (*storage.Media, error) {
	deadline := time.Now().Add(wait)
	for {
		m, err := h.db.GetMedia(ctx, origin, id)
		if err != nil {
			return nil, err
		}
		if m == nil || (m.Pending() && m.ExpiresTS <= h.now().UnixMilli()) {
			return nil, httputil.NotFound("Unknown media")
		}
		if !m.Pending() {
			return m, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, &httputil.MatrixError{Status: http.StatusGatewayTimeout, ErrCode: "M_NOT_YET_UPLOADED",
				Err: "The content of this media ID has not been uploaded yet"}
		}
		t := time.NewTimer(min(left, pendingPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
