package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/mediaapi/preview"
	"github.com/axon-matrix/axon/mediaapi/storage"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// previewURL is GET /_matrix/client/v1/media/preview_url (and the legacy
// /_matrix/media/v3/preview_url), registered only when media_api.url_preview.enabled. The
// preview of a URL is served from the database while it is fresh
// (media_api.url_preview.cache_duration, for every user); otherwise the URL is fetched
// (preview.Fetcher: public addresses only unless allowed, size and time limits) and:
// an HTML page gives its OpenGraph data, its og:image fetched and stored as media of this
// server (og:image becomes its mxc:// URI, with og:image:type, og:image:width/height and
// matrix:image:size); an image gives that image the same way; anything else an empty
// object. ts is accepted and not used (the cached preview is always the newest). A fetch
// that fails or is refused is 502 M_UNKNOWN, as Synapse answers.
func (h *Handlers) previewURL(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
	q := r.URL.Query()
	raw := q.Get("url")
	if raw == "" {
		writeError(w, r, httputil.MissingParam("url is required"))
		return
	}
	if ts := q.Get("ts"); ts != "" {
		if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
			writeError(w, r, httputil.InvalidParam("ts must be an integer"))
			return
		}
	}
	u, err := preview.ParseURL(raw)
	if err != nil {
		writeError(w, r, httputil.InvalidParam("url must be an absolute http or https URL"))
		return
	}
	key := u.String()
	ctx := r.Context()
	now := h.now().UnixMilli()
	cached, err := h.db.GetURLPreview(ctx, key, now)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if cached != nil {
		httputil.WriteJSON(w, http.StatusOK, json.RawMessage(cached))
		return
	}
	og, err := h.makePreview(ctx, u, dev)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, err := json.Marshal(og)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if d := h.cfg.URLPreview.CacheFor; d > 0 {
		if err := h.db.StoreURLPreview(ctx, key, body, now, now+d.Milliseconds()); err != nil {
			writeError(w, r, err)
			return
		}
	}
	httputil.WriteJSON(w, http.StatusOK, json.RawMessage(body))
}

// makePreview fetches u and makes its preview.
func (h *Handlers) makePreview(ctx context.Context, u *url.URL, dev *userapi.Device) (map[string]any, error) {
	resp, err := h.preview.Fetch(ctx, u)
	if err != nil {
		return nil, fetchError(err)
	}
	og := map[string]any{}
	mt := mediaType(resp.ContentType)
	switch {
	case strings.HasPrefix(mt, "image/"):
		if err := h.storePreviewImage(ctx, og, resp, dev); err != nil {
			return nil, err
		}
	case mt == "text/html" || mt == "application/xhtml+xml":
		page := preview.ParseHTML(resp.Body, resp.URL)
		imgURL := page["og:image"]
		delete(page, "og:image")
		for k, v := range page {
			og[k] = v
		}
		if imgURL == "" {
			break
		}
		// The page's image is optional: when it cannot be had, the preview goes without.
		iu, err := url.Parse(imgURL)
		if err != nil {
			break
		}
		img, err := h.preview.Fetch(ctx, iu)
		if err != nil || !strings.HasPrefix(mediaType(img.ContentType), "image/") {
			break
		}
		if err := h.storePreviewImage(ctx, og, img, dev); err != nil {
			return nil, err
		}
	}
	return og, nil
}

// storePreviewImage stores a fetched image as media of this server, uploaded by the user
// who asked for the preview, and sets og:image (its mxc:// URI), og:image:type,
// matrix:image:size and, when its header reads, og:image:width and og:image:height.
func (h *Handlers) storePreviewImage(ctx context.Context, og map[string]any, resp *preview.Response, dev *userapi.Device) error {
	ct := mediaType(resp.ContentType)
	hash, n, err := h.files.Write(bytes.NewReader(resp.Body), int64(len(resp.Body)))
	if err != nil {
		return err
	}
	now := h.now().UnixMilli()
	m := &storage.Media{Origin: h.cfg.ServerName, MediaID: newMediaID(), ContentType: ct, Size: n, SHA256: hash,
		Uploader: dev.UserID, CreatedTS: now, UploadedTS: now}
	if err := h.db.InsertMedia(ctx, m); err != nil {
		return err
	}
	og["og:image"] = "mxc://" + m.Origin + "/" + m.MediaID
	og["og:image:type"] = ct
	og["matrix:image:size"] = n
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(resp.Body)); err == nil {
		og["og:image:width"], og["og:image:height"] = cfg.Width, cfg.Height
	}
	return nil
}

// mediaType is the lower-case media type of a Content-Type header ("" when it does not
// parse).
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// fetchError is the answer to a failed fetch: 502 M_UNKNOWN, saying why without the
// network's details.
func fetchError(err error) error {
	msg := "Could not fetch the URL"
	switch {
	case errors.Is(err, preview.ErrPrivate):
		msg = "The URL leads to an address that is not public: not previewed"
	case errors.Is(err, preview.ErrTooLarge):
		msg = "The URL's content is over the size limit of previews"
	case errors.Is(err, preview.ErrStatus):
		msg = "The URL's server did not answer 200"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		msg = "The URL's server took too long"
	}
	return &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN", Err: msg}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
