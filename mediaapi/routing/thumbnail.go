package routing

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/mediaapi/storage"
	"github.com/axon-matrix/axon/mediaapi/thumbnail"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// maxThumbnailParam bounds the width and height a client may ask for (larger asks are
// served the largest configured size anyway).
const maxThumbnailParam = 1 << 16

// thumbnailAuthed is GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}.
func (h *Handlers) thumbnailAuthed(w http.ResponseWriter, r *http.Request, _ *userapi.Device) {
	h.thumbnail(w, r, false)
}

// thumbnailLegacy is the unauthenticated GET /_matrix/media/v3/thumbnail/… (deprecated),
// frozen like the legacy downloads (media_api.legacy_frozen_after).
func (h *Handlers) thumbnailLegacy(w http.ResponseWriter, r *http.Request) {
	h.thumbnail(w, r, true)
}

// thumbnail serves the thumbnail of a local media at the configured size that answers
// width, height and method (thumbnail.Select). A size is rendered on its first request and
// stored, content-addressed like uploads, with its metadata in mediaapi_thumbnails: later
// requests are a database read and a file. Rendering on request rather than at upload
// keeps uploads streamed and cheap (most uploads are never thumbnailed at every size, many
// are not images) and lets a change of media_api.thumbnail_sizes apply to old media.
// Content that is not an image of a supported format, does not decode, or claims more than
// media_api.max_thumbnail_pixels is 400 M_UNKNOWN, as Synapse answers when it has no
// thumbnail of a media. animated=true on an animated GIF gives an animated GIF (the spec
// prefers WebP, which no pure Go library encodes); otherwise animated images give their
// first frame.
func (h *Handlers) thumbnail(w http.ResponseWriter, r *http.Request, legacy bool) {
	size, animated, err := h.thumbnailSize(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	m, ok := h.localMedia(w, r, legacy)
	if !ok {
		return
	}
	t, err := h.storedThumbnail(r.Context(), m, size, animated)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f, err := h.files.Open(t.SHA256)
	if err != nil {
		writeError(w, r, err) // the metadata names a file that is gone: 500
		return
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("Content-Type", t.ContentType)
	hd.Set("Content-Disposition", contentDisposition(t.ContentType, "thumbnail"+extension(t.ContentType)))
	hd.Set("ETag", `"`+t.SHA256+`"`)
	if legacy {
		hd.Set("Cache-Control", "public, max-age=86400, immutable")
	} else {
		hd.Set("Cache-Control", "private, max-age=86400, immutable")
	}
	http.ServeContent(w, r, "", time.UnixMilli(t.CreatedTS), f)
}

// thumbnailSize reads width, height, method and animated of a thumbnail request (client
// or federation) and returns the configured size that answers them (thumbnail.Select) and
// whether an animated thumbnail is asked for.
func (h *Handlers) thumbnailSize(q url.Values) (thumbnail.Size, bool, error) {
	width, err := thumbnailParam(q.Get("width"), "width")
	if err != nil {
		return thumbnail.Size{}, false, err
	}
	height, err := thumbnailParam(q.Get("height"), "height")
	if err != nil {
		return thumbnail.Size{}, false, err
	}
	method := q.Get("method")
	switch method {
	case "":
		method = thumbnail.Scale
	case thumbnail.Scale, thumbnail.Crop:
	default:
		return thumbnail.Size{}, false, httputil.InvalidParam("method must be scale or crop")
	}
	animated := q.Get("animated")
	if animated != "" && animated != "true" && animated != "false" {
		return thumbnail.Size{}, false, httputil.InvalidParam("animated must be true or false")
	}
	return thumbnail.Select(h.thumbSizes, width, height, method), animated == "true", nil
}

// thumbnailParam parses a required width or height: a positive integer.
func thumbnailParam(v, name string) (int, error) {
	if v == "" {
		return 0, httputil.MissingParam("%s is required", name)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxThumbnailParam {
		return 0, httputil.InvalidParam("%s must be an integer between 1 and %d", name, maxThumbnailParam)
	}
	return n, nil
}

func extension(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	}
	return ".png"
}

// animatedMethod is the method an animated thumbnail is stored under in
// mediaapi_thumbnails, beside the still one of the same size.
func animatedMethod(method string) string { return method + "+animated" }

// animatable says whether an animated thumbnail of m may exist: a GIF (declared so at
// upload; thumbnail.GenerateAnimated gives a still image of a GIF of one frame). Any other
// media asked for animated=true is served as for animated=false, as the spec asks.
func animatable(m *storage.Media) bool {
	return mediaType(m.ContentType) == "image/gif"
}

// storedThumbnail returns the stored thumbnail of m at size, rendering and storing it first
// when there is none; animated (for a GIF: animatable) asks for an animated one, stored
// apart. Requests for the same thumbnail wait for one rendering (keyed lock), and at most
// thumbnailWorkers renderings run at once, each holding a decoded image.
func (h *Handlers) storedThumbnail(ctx context.Context, m *storage.Media, size thumbnail.Size, animated bool) (*storage.Thumbnail, error) {
	method := size.Method
	if animated = animated && animatable(m); animated {
		method = animatedMethod(method)
	}
	t, err := h.db.GetThumbnail(ctx, m.Origin, m.MediaID, size.Width, size.Height, method)
	if err != nil || t != nil {
		return t, err
	}
	key := m.Origin + "/" + m.MediaID + "/" + strconv.Itoa(size.Width) + "x" + strconv.Itoa(size.Height) + "/" + method
	unlock := h.thumbLocks.lock(key)
	defer unlock()
	// Another request may have stored it while this one waited.
	if t, err := h.db.GetThumbnail(ctx, m.Origin, m.MediaID, size.Width, size.Height, method); err != nil || t != nil {
		return t, err
	}
	select {
	case h.thumbWorkers <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.thumbWorkers }()
	// The other configured sizes that are not stored yet are rendered from the same decode
	// (most of the cost) and stored too: one cold request pays for every size.
	sizes := []thumbnail.Size{size}
	if !animated {
		for _, s := range h.thumbSizes {
			if s == size {
				continue
			}
			if o, err := h.db.GetThumbnail(ctx, m.Origin, m.MediaID, s.Width, s.Height, s.Method); err == nil && o == nil {
				sizes = append(sizes, s)
			}
		}
	}
	res, err := h.renderThumbnails(m, sizes, animated)
	if err != nil {
		return nil, err
	}
	var asked *storage.Thumbnail
	for i, r := range res {
		hash, n, err := h.files.Write(bytes.NewReader(r.Data), int64(len(r.Data)))
		if err != nil {
			return nil, err
		}
		mt := sizes[i].Method
		if animated {
			mt = method
		}
		t := &storage.Thumbnail{Origin: m.Origin, MediaID: m.MediaID, Width: sizes[i].Width, Height: sizes[i].Height, Method: mt,
			ContentType: r.ContentType, Size: n, SHA256: hash, ActualWidth: r.Width, ActualHeight: r.Height,
			CreatedTS: h.now().UnixMilli()}
		if err := h.db.InsertThumbnail(ctx, t); err != nil {
			return nil, err
		}
		if i == 0 {
			asked = t
		}
	}
	// Another instance may have stored the asked size first: its row is the one served.
	if t, err := h.db.GetThumbnail(ctx, m.Origin, m.MediaID, size.Width, size.Height, method); err != nil || t != nil {
		return t, err
	}
	return asked, nil
}

// renderThumbnails renders m's content at sizes (an animated one: one size); content that
// cannot be thumbnailed is 400 M_UNKNOWN.
func (h *Handlers) renderThumbnails(m *storage.Media, sizes []thumbnail.Size, animated bool) ([]*thumbnail.Result, error) {
	f, err := h.files.Open(m.SHA256)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var res []*thumbnail.Result
	if animated {
		var r *thumbnail.Result
		if r, err = thumbnail.GenerateAnimated(f, sizes[0], h.maxThumbPixels); err == nil {
			res = []*thumbnail.Result{r}
		}
	} else {
		res, err = thumbnail.GenerateAll(f, sizes, h.maxThumbPixels)
	}
	switch {
	case errors.Is(err, thumbnail.ErrTooManyPixels):
		return nil, httputil.Unknown("The image is too large to thumbnail (over %d pixels)", h.maxThumbPixels)
	case errors.Is(err, thumbnail.ErrNotImage):
		return nil, httputil.Unknown("Cannot make a thumbnail of this media: not a JPEG, PNG, GIF or WebP image, or a damaged one")
	}
	return res, err
}

// keyedLocks serialises work by key; a key's entry lives while someone holds or waits for
// it.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	refs int
}

// lock takes key's lock and returns its release.
func (k *keyedLocks) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyedLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
