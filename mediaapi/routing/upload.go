package routing

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/mediaapi/storage"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Bounds of what an upload may say about itself.
const (
	maxFileNameBytes    = 255
	maxContentTypeBytes = 255
	defaultContentType  = "application/octet-stream"
)

// uploadNew is POST /_matrix/media/v3/upload: the body is the content; the answer its
// new mxc:// URI.
func (h *Handlers) uploadNew(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	m, err := h.receive(r, dev)
	if err != nil {
		writeError(w, r, err)
		return
	}
	m.Origin, m.MediaID = h.cfg.ServerName, newMediaID()
	m.CreatedTS = m.UploadedTS
	if err := h.db.InsertMedia(r.Context(), m); err != nil {
		writeError(w, r, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"content_uri": "mxc://" + m.Origin + "/" + m.MediaID})
	h.pregenerate(m)
}

// create is POST /_matrix/media/v1/create: a media ID whose content comes later (uploadTo).
func (h *Handlers) create(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	now := h.now()
	expires := now.Add(h.cfg.UnusedExpiry).UnixMilli()
	id := newMediaID()
	err := h.db.CreatePending(r.Context(), h.cfg.ServerName, id, dev.UserID, now.UnixMilli(), expires, h.cfg.MaxPendingUploads)
	if errors.Is(err, storage.ErrTooManyPending) {
		e := httputil.LimitExceeded(h.cfg.UnusedExpiry.Milliseconds())
		e.Err = "Too many media IDs waiting for their upload"
		writeError(w, r, e)
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"content_uri": "mxc://" + h.cfg.ServerName + "/" + id, "unused_expires_at": expires})
}

// uploadTo is PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: the content of a media
// ID the same user created. Everything about the ID is checked before the body is read.
func (h *Handlers) uploadTo(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	vars := mux.Vars(r)
	origin, id := vars["serverName"], vars["mediaId"]
	var existing *storage.Media
	if origin == h.cfg.ServerName && validMediaID(id) {
		var err error
		if existing, err = h.db.GetMedia(r.Context(), origin, id); err != nil {
			writeError(w, r, err)
			return
		}
	}
	switch {
	case existing == nil:
		writeError(w, r, httputil.NotFound("Unknown media ID"))
		return
	case existing.Uploader != dev.UserID:
		writeError(w, r, httputil.Forbidden("This media ID was created by another user"))
		return
	case !existing.Pending():
		writeError(w, r, cannotOverwrite())
		return
	case existing.ExpiresTS <= h.now().UnixMilli():
		writeError(w, r, httputil.Forbidden("This media ID has expired"))
		return
	}
	m, err := h.receive(r, dev)
	if err != nil {
		writeError(w, r, err)
		return
	}
	m.Origin, m.MediaID = origin, id
	if err := h.db.CompleteUpload(r.Context(), m); errors.Is(err, storage.ErrNotPending) {
		writeError(w, r, cannotOverwrite()) // another PUT was quicker (or the ID expired meanwhile)
		return
	} else if err != nil {
		writeError(w, r, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{})
	h.pregenerate(m)
}

func cannotOverwrite() *httputil.MatrixError {
	return &httputil.MatrixError{Status: http.StatusConflict, ErrCode: "M_CANNOT_OVERWRITE_MEDIA", Err: "Media already uploaded"}
}

// receive checks an upload's headers and file name and streams its body into the file
// store: 413 M_TOO_LARGE at once for a Content-Length over media_api.max_upload_size, or as
// soon as more than that has arrived (nothing more is read). It returns the metadata of
// the stored content (Origin, MediaID and CreatedTS are the caller's).
func (h *Handlers) receive(r *http.Request, dev *userapi.Device) (*storage.Media, error) {
	max := h.cfg.MaxUploadSize
	if r.ContentLength > max {
		return nil, tooLarge(max)
	}
	ct, err := uploadContentType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	name := r.URL.Query().Get("filename")
	if err := checkFileName(name); err != nil {
		return nil, err
	}
	// The per-user quota (media_api.max_bytes_per_user): a Content-Length over what is
	// left is refused before the body is read; otherwise the body is read up to what is
	// left (Write keeps nothing of a longer one).
	limit, quota := max, false
	if q := h.cfg.MaxBytesPerUser; q > 0 {
		used, err := h.db.UploadedBytes(r.Context(), h.cfg.ServerName, dev.UserID)
		if err != nil {
			return nil, err
		}
		left := q - min(used, q)
		if r.ContentLength > left {
			return nil, overQuota(q)
		}
		if left < limit {
			limit, quota = left, true
		}
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	hash, size, err := h.files.Write(r.Body, limit)
	if errors.Is(err, storage.ErrTooLarge) {
		if quota {
			return nil, overQuota(h.cfg.MaxBytesPerUser)
		}
		return nil, tooLarge(max)
	}
	if err != nil {
		if r.Context().Err() != nil {
			return nil, r.Context().Err()
		}
		return nil, httputil.Unknown("Could not receive the upload")
	}
	return &storage.Media{ContentType: ct, FileName: name, Size: size, SHA256: hash, Uploader: dev.UserID,
		UploadedTS: h.now().UnixMilli()}, nil
}

// overQuota is the answer to an upload that would take its user's media past
// media_api.max_bytes_per_user: 403 M_FORBIDDEN, the spec's answer when "the user has
// reached a quota for uploaded content" (POST /_matrix/media/v3/upload).
func overQuota(quota int64) *httputil.MatrixError {
	return httputil.Forbidden("Upload quota reached: your media may take at most %d bytes", quota)
}

func tooLarge(max int64) *httputil.MatrixError {
	return httputil.TooLarge("Upload is larger than the maximum of %d bytes", max)
}

// uploadContentType is the type stored for an upload's Content-Type header: the header
// as sent when it is a valid media type, application/octet-stream when there is none.
func uploadContentType(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return defaultContentType, nil
	}
	if len(h) > maxContentTypeBytes {
		return "", httputil.InvalidParam("Content-Type is longer than %d bytes", maxContentTypeBytes)
	}
	if _, _, err := mime.ParseMediaType(h); err != nil {
		return "", httputil.InvalidParam("Content-Type is not a media type")
	}
	return h, nil
}

// checkFileName refuses file names that are not UTF-8, too long, or hold control
// characters or path separators (they end up in Content-Disposition headers).
func checkFileName(name string) error {
	if len(name) > maxFileNameBytes {
		return httputil.InvalidParam("filename is longer than %d bytes", maxFileNameBytes)
	}
	if !utf8.ValidString(name) {
		return httputil.InvalidParam("filename is not UTF-8")
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return httputil.InvalidParam("filename holds a control character or a path separator")
		}
	}
	return nil
}

// newMediaID is a random media ID: 24 characters of [A-Za-z0-9_-] (144 bits).
func newMediaID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validMediaID says whether id can be a media ID (the spec's opaque ID grammar:
// [A-Za-z0-9_-], at most 255 characters).
func validMediaID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
