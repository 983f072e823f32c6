package config

import (
	"bytes"
	"fmt"
	"strconv"
	"text/template"
	"time"
)

// MediaLimits are the media_api keys beyond base_path: upload limits, the asynchronous
// upload IDs of POST /_matrix/media/v1/create, the freeze of the legacy unauthenticated
// download paths, thumbnails and URL previews.
type MediaLimits struct {
	// MaxUploadSize is the largest upload accepted, in bytes (413 M_TOO_LARGE above it,
	// before more of the body than that is read). /_matrix/client/v1/media/config
	// advertises it as m.upload.size.
	MaxUploadSize int64 `yaml:"max_upload_size"`
	// MaxPendingUploads bounds the media IDs one user has created with /create and not yet
	// uploaded to (429 M_LIMIT_EXCEEDED beyond it).
	MaxPendingUploads int `yaml:"max_pending_uploads"`
	// UnusedExpiry is how long a media ID from /create waits for its upload.
	UnusedExpiry time.Duration `yaml:"unused_expiry"`
	// LegacyFrozenAfter, when set (RFC 3339, e.g. "2024-09-01T00:00:00Z"), stops the
	// unauthenticated /_matrix/media/v3/download paths serving media uploaded after it (as
	// the spec allows since v1.11): those answer 404 M_NOT_FOUND there, and are still
	// served on the authenticated /_matrix/client/v1/media paths. Empty: not frozen.
	LegacyFrozenAfter string `yaml:"legacy_frozen_after"`
	// ThumbnailSizes are the thumbnail sizes served: a request gets the smallest of its
	// method at least as large as asked (else the largest), rendered on its first request
	// and stored.
	ThumbnailSizes []ThumbnailSize `yaml:"thumbnail_sizes"`
	// MaxThumbnailPixels: an image whose header claims more pixels is not thumbnailed (400
	// M_UNKNOWN), without being decoded (decompression bombs). Decoding takes about 4 bytes
	// a pixel.
	MaxThumbnailPixels int64 `yaml:"max_thumbnail_pixels"`
	// URLPreview configures GET /_matrix/client/v1/media/preview_url.
	URLPreview URLPreview `yaml:"url_preview"`
	// MaxBytesPerUser bounds the bytes of the media one local user has uploaded (each
	// media ID counts its full size); an upload that would pass it is 403 M_FORBIDDEN.
	// 0: no quota.
	MaxBytesPerUser int64 `yaml:"max_bytes_per_user"`
	// RemoteCacheMaxBytes bounds the bytes of media of other servers kept here; the least
	// recently used is dropped first (fetched again when asked for). 0: unbounded.
	RemoteCacheMaxBytes int64 `yaml:"remote_cache_max_bytes"`
	// ThumbnailsOnUpload renders every thumbnail size of an uploaded image in the
	// background after the upload is answered, so its first thumbnail request is served
	// from the store; off, each is rendered on its first request.
	ThumbnailsOnUpload bool `yaml:"thumbnails_on_upload"`
}

// ThumbnailSize is one entry of media_api.thumbnail_sizes.
type ThumbnailSize struct {
	Width  int    `yaml:"width"`
	Height int    `yaml:"height"`
	Method string `yaml:"method"` // "scale" (fit inside) or "crop" (fill, cut centred)
}

// URLPreview is media_api.url_preview: off by default, since it makes the server fetch
// URLs its users name.
type URLPreview struct {
	// Enabled serves preview_url; off, it is 404 M_UNRECOGNIZED (as Synapse answers).
	Enabled bool `yaml:"enabled"`
	// AllowPrivateDestinations lets previews fetch loopback, private and link-local
	// addresses (checked after DNS, on every redirect); off by default (SSRF).
	AllowPrivateDestinations bool `yaml:"allow_private_destinations"`
	// MaxResponseSize bounds a fetched page or image, in bytes.
	MaxResponseSize int64 `yaml:"max_response_size"`
	// Timeout bounds one fetch, redirects and body included.
	Timeout time.Duration `yaml:"timeout"`
	// CacheDuration is how long a preview is served from the database before the URL is
	// fetched again.
	CacheDuration time.Duration `yaml:"cache_duration"`
}

// Defaults of the media keys (Synapse's: 50 MiB uploads, 5 pending IDs a user, 24 hours).
const (
	DefaultMaxUploadSize     = 50 << 20
	DefaultMaxPendingUploads = 5
	DefaultUnusedExpiry      = 24 * time.Hour
	// maxUploadSizeLimit keeps max_upload_size a sane number (1 TiB).
	maxUploadSizeLimit = 1 << 40
	// DefaultMaxThumbnailPixels: 32 megapixels (about 128 MiB decoded).
	DefaultMaxThumbnailPixels = 32_000_000
	// Defaults of url_preview (Synapse's spider size: 10 MiB).
	DefaultURLPreviewMaxResponseSize = 10 << 20
	DefaultURLPreviewTimeout         = 10 * time.Second
	DefaultURLPreviewCacheDuration   = time.Hour
	// maxThumbnailSide bounds a configured thumbnail's width and height.
	maxThumbnailSide = 4096
)

// DefaultThumbnailSizes returns Synapse's default thumbnail sizes.
func DefaultThumbnailSizes() []ThumbnailSize {
	return []ThumbnailSize{{32, 32, "crop"}, {96, 96, "crop"}, {320, 240, "scale"}, {640, 480, "scale"}, {800, 600, "scale"}}
}

func (c *Config) mediaDefaults() {
	m := &c.MediaAPI.MediaLimits
	m.MaxUploadSize = DefaultMaxUploadSize
	m.MaxPendingUploads = DefaultMaxPendingUploads
	m.UnusedExpiry = DefaultUnusedExpiry
	m.ThumbnailSizes = DefaultThumbnailSizes()
	m.MaxThumbnailPixels = DefaultMaxThumbnailPixels
	m.ThumbnailsOnUpload = true
	m.URLPreview = URLPreview{MaxResponseSize: DefaultURLPreviewMaxResponseSize, Timeout: DefaultURLPreviewTimeout,
		CacheDuration: DefaultURLPreviewCacheDuration}
}

// LegacyFrozenAfterTime parses media_api.legacy_frozen_after; the zero time when it is
// empty (not frozen). Validate rejects a value that does not parse.
func (m MediaLimits) LegacyFrozenAfterTime() time.Time {
	if m.LegacyFrozenAfter == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, m.LegacyFrozenAfter)
	if err != nil {
		return time.Time{}
	}
	return t
}

// validateMedia checks the media_api keys beyond base_path.
func (c *Config) validateMedia(bad func(path, format string, a ...any)) {
	m := c.MediaAPI.MediaLimits
	if m.MaxUploadSize < 1 || m.MaxUploadSize > maxUploadSizeLimit {
		bad("media_api.max_upload_size", "must be between 1 and %d bytes, got %d", int64(maxUploadSizeLimit), m.MaxUploadSize)
	}
	if m.MaxPendingUploads < 1 {
		bad("media_api.max_pending_uploads", "must be at least 1, got %d", m.MaxPendingUploads)
	}
	if m.UnusedExpiry < time.Minute {
		bad("media_api.unused_expiry", "must be at least 1m, got %s", m.UnusedExpiry)
	}
	if m.LegacyFrozenAfter != "" {
		if _, err := time.Parse(time.RFC3339, m.LegacyFrozenAfter); err != nil {
			bad("media_api.legacy_frozen_after", "must be empty or an RFC 3339 time such as \"2024-09-01T00:00:00Z\", got %q", m.LegacyFrozenAfter)
		}
	}
	if len(m.ThumbnailSizes) == 0 {
		bad("media_api.thumbnail_sizes", "must list at least one size")
	}
	for i, s := range m.ThumbnailSizes {
		if s.Width < 1 || s.Height < 1 || s.Width > maxThumbnailSide || s.Height > maxThumbnailSide {
			bad(fmt.Sprintf("media_api.thumbnail_sizes[%d]", i), "width and height must be between 1 and %d, got %dx%d",
				maxThumbnailSide, s.Width, s.Height)
		}
		if s.Method != "scale" && s.Method != "crop" {
			bad(fmt.Sprintf("media_api.thumbnail_sizes[%d].method", i), "must be scale or crop, got %q", s.Method)
		}
	}
	if m.MaxThumbnailPixels < 1 {
		bad("media_api.max_thumbnail_pixels", "must be at least 1, got %d", m.MaxThumbnailPixels)
	}
	if m.MaxBytesPerUser < 0 {
		bad("media_api.max_bytes_per_user", "must be 0 (no quota) or more, got %d", m.MaxBytesPerUser)
	}
	if m.RemoteCacheMaxBytes < 0 {
		bad("media_api.remote_cache_max_bytes", "must be 0 (unbounded) or more, got %d", m.RemoteCacheMaxBytes)
	}
	p := m.URLPreview
	if p.MaxResponseSize < 1024 {
		bad("media_api.url_preview.max_response_size", "must be at least 1024 bytes, got %d", p.MaxResponseSize)
	}
	if p.Timeout < time.Second {
		bad("media_api.url_preview.timeout", "must be at least 1s, got %s", p.Timeout)
	}
	if p.CacheDuration < 0 {
		bad("media_api.url_preview.cache_duration", "must not be negative, got %s", p.CacheDuration)
	}
}

// generateMedia is the extra part of the media_api section (component "mediaapi") in the
// generated file.
func generateMedia(c *Config, component string) string {
	if component != ComponentMediaAPI {
		return ""
	}
	var buf bytes.Buffer
	if err := mediaAPITmpl.Execute(&buf, c); err != nil {
		panic("config: media template: " + err.Error()) // fixed template: a bug, not input
	}
	return buf.String()
}

var mediaAPITmpl = template.Must(template.New("media_api").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(`
  # Largest upload accepted, in bytes (413 M_TOO_LARGE above it); clients learn it
  # from /_matrix/client/v1/media/config.
  max_upload_size: {{.MediaAPI.MaxUploadSize}}
  # Media IDs one user may hold from POST /_matrix/media/v1/create without having
  # uploaded to them yet, and how long such an ID waits for its upload.
  max_pending_uploads: {{.MediaAPI.MaxPendingUploads}}
  unused_expiry: {{.MediaAPI.UnusedExpiry}}
  # RFC 3339 time (e.g. "2024-09-01T00:00:00Z"): media uploaded after it is not served on
  # the unauthenticated /_matrix/media/v3/download paths, only on the authenticated
  # /_matrix/client/v1/media ones. Empty: every local media on both.
  legacy_frozen_after: {{q .MediaAPI.LegacyFrozenAfter}}
  # Thumbnail sizes served (method scale: fit inside; crop: fill, cut centred). A request
  # gets the smallest of its method at least as large as asked, else the largest; each is
  # rendered on its first request and stored.
  thumbnail_sizes:
{{- range .MediaAPI.ThumbnailSizes}}
    - {width: {{.Width}}, height: {{.Height}}, method: {{.Method}}}
{{- end}}
  # Per-user quota: bytes of media one local user may have uploaded in all (each media
  # ID counts its size); more is 403 M_FORBIDDEN. 0: no quota.
  max_bytes_per_user: {{.MediaAPI.MaxBytesPerUser}}
  # Bytes of other servers' media cached here; the least recently used goes first.
  # 0: unbounded.
  remote_cache_max_bytes: {{.MediaAPI.RemoteCacheMaxBytes}}
  # Render every thumbnail size of an uploaded image in the background after the upload
  # (its first thumbnail request is then served from the store); false: on first request.
  thumbnails_on_upload: {{.MediaAPI.ThumbnailsOnUpload}}
  # Images whose header claims more pixels are not thumbnailed (never decoded).
  max_thumbnail_pixels: {{.MediaAPI.MaxThumbnailPixels}}
  # GET /_matrix/client/v1/media/preview_url: the server fetches URLs its users name.
  url_preview:
    enabled: {{.MediaAPI.URLPreview.Enabled}}
    # Let previews reach loopback, private and link-local addresses (SSRF: keep false).
    allow_private_destinations: {{.MediaAPI.URLPreview.AllowPrivateDestinations}}
    max_response_size: {{.MediaAPI.URLPreview.MaxResponseSize}}
    timeout: {{.MediaAPI.URLPreview.Timeout}}
    cache_duration: {{.MediaAPI.URLPreview.CacheDuration}}`))
