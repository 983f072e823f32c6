// Package routing holds the mediaapi's HTTP handlers: uploads (upload.go: POST upload,
// POST create, PUT upload to a created ID), downloads (download.go) and thumbnails
// (thumbnail.go) with the safe-serving headers (headers.go), URL previews (preview.go,
// registered only when media_api.url_preview.enabled), the media config, the federation
// media routes (federation.go, with SetFederation) and the fetch of other servers' media
// (remote.go).
package routing

import (
	"context"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/ratelimit"
	"github.com/axon-matrix/axon/mediaapi/preview"
	"github.com/axon-matrix/axon/mediaapi/storage"
	"github.com/axon-matrix/axon/mediaapi/thumbnail"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Config is what the handlers need (mediaapi.ConfigFromFile fills it from the file).
type Config struct {
	// ServerName is global.server_name: the origin of media uploaded here.
	ServerName string
	// MaxUploadSize is media_api.max_upload_size (bytes).
	MaxUploadSize int64
	// MaxPendingUploads and UnusedExpiry bound the IDs of POST /create.
	MaxPendingUploads int
	UnusedExpiry      time.Duration
	// LegacyFrozenAfter, when not zero, keeps media uploaded after it off the
	// unauthenticated /_matrix/media/v3/download paths.
	LegacyFrozenAfter time.Time
	// RateLimits is global.rate_limits (media_upload is the mediaapi's).
	RateLimits config.RateLimits
	// TrustedProxies are global.trusted_proxies (whose X-Forwarded-For names the client).
	TrustedProxies []netip.Prefix
	// ThumbnailSizes are media_api.thumbnail_sizes (thumbnail.DefaultSizes when empty).
	ThumbnailSizes []thumbnail.Size
	// MaxThumbnailPixels is media_api.max_thumbnail_pixels (32 M when 0).
	MaxThumbnailPixels int64
	// URLPreview is media_api.url_preview.
	URLPreview PreviewConfig
	// MaxBytesPerUser is media_api.max_bytes_per_user (0: no quota; quota.go).
	MaxBytesPerUser int64
	// RemoteCacheMax is media_api.remote_cache_max_bytes (0: unbounded; evict.go).
	RemoteCacheMax int64
	// ThumbnailsOnUpload is media_api.thumbnails_on_upload (pregenerate.go).
	ThumbnailsOnUpload bool
}

// PreviewConfig is media_api.url_preview.
type PreviewConfig struct {
	Enabled      bool
	AllowPrivate bool // allow_private_destinations
	MaxBytes     int64
	Timeout      time.Duration
	CacheFor     time.Duration
}

// Defaults of the download wait for a pending asynchronous upload (timeout_ms).
const (
	defaultDownloadWait = 20 * time.Second
	maxDownloadWait     = 60 * time.Second
	pendingPoll         = 100 * time.Millisecond
)

// Handlers serves the mediaapi's routes.
type Handlers struct {
	cfg     Config
	db      *storage.Database
	files   *storage.Files
	userAPI userapi.UserAPI
	limits  *ratelimit.Set
	upload  *ratelimit.Limiter // media_upload
	now     func() time.Time

	thumbSizes     []thumbnail.Size
	maxThumbPixels int64
	thumbLocks     keyedLocks    // one rendering per thumbnail (thumbnail.go)
	thumbWorkers   chan struct{} // bounds renderings at once
	pregen         chan struct{} // bounds thumbnails rendered after uploads (pregenerate.go)
	background     sync.WaitGroup
	preview        *preview.Fetcher

	fed            Federation   // federation.go
	remoteClient   *http.Client // signed federation requests for remote media (remote.go)
	locationClient *http.Client // Location redirects of remote media (remote.go)
	remoteLocks    keyedLocks   // one fetch per remote media
	evictMu        sync.Mutex   // one eviction of the remote cache at a time (evict.go)
}

// New returns the handlers over db and files, checking tokens with userAPI (arrow U).
func New(cfg Config, db *storage.Database, files *storage.Files, userAPI userapi.UserAPI) *Handlers {
	s := ratelimit.NewSet(cfg.RateLimits)
	h := &Handlers{cfg: cfg, db: db, files: files, userAPI: userAPI, limits: s,
		upload: s.Get(ratelimit.MediaUpload), now: time.Now,
		thumbSizes: cfg.ThumbnailSizes, maxThumbPixels: cfg.MaxThumbnailPixels,
		thumbWorkers: make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		pregen:       make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
	if len(h.thumbSizes) == 0 {
		h.thumbSizes = thumbnail.DefaultSizes
	}
	if h.maxThumbPixels <= 0 {
		h.maxThumbPixels = defaultMaxThumbnailPixels
	}
	if p := cfg.URLPreview; p.Enabled {
		h.preview = preview.NewFetcher(p.AllowPrivate, p.MaxBytes, p.Timeout)
	}
	return h
}

// defaultMaxThumbnailPixels is the default of media_api.max_thumbnail_pixels.
const defaultMaxThumbnailPixels = 32_000_000

// Setup registers the routes, by their full paths, on client (for /_matrix/client) and
// media (for /_matrix/media): routers such as setup.FullPathRouter gives.
func (h *Handlers) Setup(client, media *mux.Router) {
	const get, head, post, put = http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut
	// Authenticated media (client-server API v1.11).
	client.Handle("/_matrix/client/v1/media/config", h.authed(false, h.config)).Methods(get)
	client.Handle("/_matrix/client/v1/media/download/{serverName}/{mediaId}", safe(h.authed(false, h.downloadAuthed))).Methods(get, head)
	client.Handle("/_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}", safe(h.authed(false, h.downloadAuthed))).Methods(get, head)
	client.Handle("/_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}", safe(h.authed(false, h.thumbnailAuthed))).Methods(get, head)
	// URL previews only when media_api.url_preview.enabled: otherwise 404 M_UNRECOGNIZED
	// from the base router, as Synapse answers.
	if h.preview != nil {
		client.Handle("/_matrix/client/v1/media/preview_url", h.authed(false, h.previewURL)).Methods(get)
	}

	media.Handle("/_matrix/media/v1/create", h.authed(true, h.perUser(h.create))).Methods(post)
	media.Handle("/_matrix/media/v3/upload/{serverName}/{mediaId}", h.authed(true, h.uploadTo)).Methods(put)
	// r0 is what clients from before v1.1 ask for; the same endpoints.
	for _, v := range []string{"v3", "r0"} {
		p := "/_matrix/media/" + v
		media.Handle(p+"/upload", h.authed(true, h.perUser(h.uploadNew))).Methods(post)
		media.Handle(p+"/config", h.authed(false, h.config)).Methods(get)
		// Legacy unauthenticated downloads (deprecated since v1.11; legacy_frozen_after).
		media.Handle(p+"/download/{serverName}/{mediaId}", safe(http.HandlerFunc(h.downloadLegacy))).Methods(get, head)
		media.Handle(p+"/download/{serverName}/{mediaId}/{fileName}", safe(http.HandlerFunc(h.downloadLegacy))).Methods(get, head)
		media.Handle(p+"/thumbnail/{serverName}/{mediaId}", safe(http.HandlerFunc(h.thumbnailLegacy))).Methods(get, head)
		if h.preview != nil {
			media.Handle(p+"/preview_url", h.authed(false, h.previewURL)).Methods(get)
		}
	}
}

// safe sets the safe-serving headers (headers.go) on every answer of a download route,
// errors included, before next runs.
func safe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSafetyHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

type authedFunc func(w http.ResponseWriter, r *http.Request, dev *userapi.Device)

// authed checks the access token with the userapi (arrow U, with the client's IP for the
// device's last-seen record) and passes the device on. noGuests refuses guest accounts
// (403 M_GUEST_ACCESS_FORBIDDEN): guests may read media, not add it.
func (h *Handlers) authed(noGuests bool, next authedFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, me := httputil.AccessToken(r)
		if me != nil {
			httputil.WriteError(w, me)
			return
		}
		ctx := userapi.WithClientIP(r.Context(), ratelimit.ClientIP(r, h.cfg.TrustedProxies))
		dev, err := h.userAPI.QueryAccessToken(ctx, tok)
		if err != nil {
			httputil.WriteError(w, err)
			return
		}
		if noGuests && dev.AccountType == userapi.AccountTypeGuest {
			httputil.WriteError(w, &httputil.MatrixError{Status: http.StatusForbidden, ErrCode: "M_GUEST_ACCESS_FORBIDDEN",
				Err: "Guest accounts cannot upload media"})
			return
		}
		next(w, r, dev)
	})
}

// perUser takes a media_upload token for the user before next runs (rate limits; admin and
// application service accounts and global.rate_limits.exempt_user_ids are exempt).
func (h *Handlers) perUser(next authedFunc) authedFunc {
	if h.upload == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request, dev *userapi.Device) {
		t := dev.AccountType
		if !h.limits.Exempt(dev.UserID, t == userapi.AccountTypeAdmin || t == userapi.AccountTypeAppService) {
			if err := h.upload.Limit(dev.UserID); err != nil {
				httputil.WriteError(w, err)
				return
			}
		}
		next(w, r, dev)
	}
}

// config is GET /_matrix/client/v1/media/config (and the legacy /_matrix/media/v3/config).
func (h *Handlers) config(w http.ResponseWriter, _ *http.Request, _ *userapi.Device) {
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"m.upload.size": h.cfg.MaxUploadSize})
}

// writeError writes err unless the client has gone.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() == context.Canceled {
		return
	}
	httputil.WriteError(w, err)
}
