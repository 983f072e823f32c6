package config

import (
	"bytes"
	"strconv"
	"text/template"
	"time"
)

// MediaLimits are the media_api keys beyond base_path: upload limits, the asynchronous
// upload IDs of POST /_matrix/media/v1/create, and the freeze of the legacy unauthenticated
// download paths.
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
}

// Defaults of the media keys (Synapse's: 50 MiB uploads, 5 pending IDs a user, 24 hours).
const (
	DefaultMaxUploadSize     = 50 << 20
	DefaultMaxPendingUploads = 5
	DefaultUnusedExpiry      = 24 * time.Hour
	// maxUploadSizeLimit keeps max_upload_size a sane number (1 TiB).
	maxUploadSizeLimit = 1 << 40
)

func (c *Config) mediaDefaults() {
	m := &c.MediaAPI.MediaLimits
	m.MaxUploadSize = DefaultMaxUploadSize
	m.MaxPendingUploads = DefaultMaxPendingUploads
	m.UnusedExpiry = DefaultUnusedExpiry
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
  legacy_frozen_after: {{q .MediaAPI.LegacyFrozenAfter}}`))
