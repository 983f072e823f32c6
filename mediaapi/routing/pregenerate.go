package routing

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/mediaapi/storage"
)

// pregenerateTimeout bounds the background rendering of one upload's thumbnails.
const pregenerateTimeout = 2 * time.Minute

// thumbnailTypes are the uploaded types whose thumbnails are rendered after the upload.
var thumbnailTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// pregenerate renders every configured thumbnail size of a new upload from one decode and
// stores them, in the background after the upload is answered
// (media_api.thumbnails_on_upload): the first thumbnail request is then a database read
// and a file, not a decode of the whole image. At most cap(h.pregen) uploads wait or
// render at once (renderings share thumbWorkers with requests); beyond that an upload's
// thumbnails are left to their first request. Content that is no image of a thumbnailed
// type (by its declared type, then by its bytes) is skipped without a log.
func (h *Handlers) pregenerate(m *storage.Media) {
	if !h.cfg.ThumbnailsOnUpload || !thumbnailTypes[mediaType(m.ContentType)] || len(h.thumbSizes) == 0 {
		return
	}
	select {
	case h.pregen <- struct{}{}:
	default:
		return
	}
	h.background.Add(1)
	go func() {
		defer h.background.Done()
		defer func() { <-h.pregen }()
		ctx, cancel := context.WithTimeout(context.Background(), pregenerateTimeout)
		defer cancel()
		_, err := h.storedThumbnail(ctx, m, h.thumbSizes[0], false)
		var me *httputil.MatrixError
		if err != nil && !(errors.As(err, &me) && me.Status == http.StatusBadRequest) {
			logrus.WithError(err).WithField("media", m.Origin+"/"+m.MediaID).Warn("mediaapi: rendering thumbnails after upload")
		}
	}()
}
