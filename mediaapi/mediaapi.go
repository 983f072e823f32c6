// Package mediaapi wires the mediaapi component (ARCHITECTURE.md §1, Tier 1): the content
// repository clients upload files to and download them from. Built so far: uploads
// (POST /_matrix/media/v3/upload, the asynchronous POST /_matrix/media/v1/create with
// PUT /_matrix/media/v3/upload/{serverName}/{mediaId}), downloads and thumbnails of local
// media on the authenticated /_matrix/client/v1/media paths and the legacy unauthenticated
// /_matrix/media/v3 ones, URL previews (when media_api.url_preview.enabled), and the media
// config. Files are stored once per content under media_api.base_path, their metadata in
// the component's database. Access tokens are checked by the userapi (arrow U); no other
// component calls the mediaapi, so it has no internal API. Over federation it serves its
// media to other servers (/_matrix/federation/v1/media, X-Matrix checked with the
// serverkeyapi's keys, arrow 11) and fetches theirs on a first request, then caches it.
package mediaapi

import (
	"context"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/mediaapi/routing"
	"github.com/axon-matrix/axon/mediaapi/storage"
	"github.com/axon-matrix/axon/mediaapi/thumbnail"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Routers are the public routers the mediaapi registers on: Client serves /_matrix/client
// (the authenticated /_matrix/client/v1/media paths), Media serves /_matrix/media
// (setup.Base's PublicClientAPIMux and PublicMediaAPIMux).
type Routers struct {
	Client *mux.Router
	Media  *mux.Router
	// Federation serves /_matrix/federation (PublicFederationAPIMux): the federation media
	// routes; none are registered when it or Federation.Keys is nil.
	Federation *mux.Router
}

// Federation is what the mediaapi's federation media needs; a nil field turns its part off.
type Federation struct {
	// Keys checks the X-Matrix signatures of /_matrix/federation/v1/media requests (arrow
	// 11): the serverkeyapi (its inthttp client in the polylith).
	Keys skapi.ServerKeyAPI
	// Client fetches media of other servers: internal/fedclient's client, whose dial guard
	// applies federation_api.allow_private_destinations.
	Client *federation.Client
}

// Config is what the mediaapi needs.
type Config struct {
	routing.Config
	// BasePath is media_api.base_path: the directory of the files.
	BasePath string
	// AllowPrivateDestinations is federation_api.allow_private_destinations (for the
	// Location redirects of remote media; federation requests get it from the client).
	AllowPrivateDestinations bool
	// DisableTLSValidation is federation_api.disable_tls_validation, likewise.
	DisableTLSValidation bool
}

// ConfigFromFile takes the mediaapi's settings from the config file.
func ConfigFromFile(cfg *config.Config) Config {
	m := cfg.MediaAPI
	return Config{BasePath: m.BasePath, AllowPrivateDestinations: cfg.FederationAPI.AllowPrivateDestinations,
		DisableTLSValidation: cfg.FederationAPI.DisableTLSValidation, Config: routing.Config{
			ServerName:         cfg.Global.ServerName,
			MaxUploadSize:      m.MaxUploadSize,
			MaxPendingUploads:  m.MaxPendingUploads,
			UnusedExpiry:       m.UnusedExpiry,
			LegacyFrozenAfter:  m.LegacyFrozenAfterTime(),
			RateLimits:         cfg.Global.RateLimits,
			TrustedProxies:     cfg.Global.TrustedProxyPrefixes(),
			ThumbnailSizes:     thumbnailSizes(m.ThumbnailSizes),
			MaxThumbnailPixels: m.MaxThumbnailPixels,
			MaxBytesPerUser:    m.MaxBytesPerUser,
			RemoteCacheMax:     m.RemoteCacheMaxBytes,
			ThumbnailsOnUpload: m.ThumbnailsOnUpload,
			URLPreview: routing.PreviewConfig{Enabled: m.URLPreview.Enabled, AllowPrivate: m.URLPreview.AllowPrivateDestinations,
				MaxBytes: m.URLPreview.MaxResponseSize, Timeout: m.URLPreview.Timeout, CacheFor: m.URLPreview.CacheDuration},
		}}
}

func thumbnailSizes(in []config.ThumbnailSize) []thumbnail.Size {
	out := make([]thumbnail.Size, len(in))
	for i, s := range in {
		out[i] = thumbnail.Size{Width: s.Width, Height: s.Height, Method: s.Method}
	}
	return out
}

// AddPublicRoutes opens the mediaapi's storage (migrating db, creating the file
// directories) and registers its public routes; userAPI checks access tokens (arrow U:
// the direct implementation in the monolith, userapi/inthttp.Client in the polylith); fed
// gives the federation media its keys and client.
func AddPublicRoutes(ctx context.Context, r Routers, cfg Config, db *sqlutil.DB, userAPI userapi.UserAPI, fed Federation) error {
	mdb, err := storage.Open(ctx, db)
	if err != nil {
		return err
	}
	files, err := storage.NewFiles(cfg.BasePath)
	if err != nil {
		return err
	}
	h := routing.New(cfg.Config, mdb, files, userAPI)
	var rf routing.Federation
	if fed.Keys != nil {
		rf.Keys = skapi.RequestKeyLookup(fed.Keys)
	}
	if fed.Client != nil {
		rf.Transport, rf.AllowPrivate, rf.InsecureTLS = fed.Client.Transport(), cfg.AllowPrivateDestinations, cfg.DisableTLSValidation
	}
	h.SetFederation(rf)
	h.Setup(setup.FullPathRouter(r.Client), setup.FullPathRouter(r.Media))
	if r.Federation != nil {
		h.SetupFederation(setup.FullPathRouter(r.Federation))
	}
	return nil
}
