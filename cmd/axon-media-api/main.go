// Command axon-media-api runs the mediaapi on its own for the polylith (ARCHITECTURE.md
// §4): the content repository. Uploads (POST /_matrix/media/v3/upload, POST
// /_matrix/media/v1/create and PUT /_matrix/media/v3/upload/{serverName}/{mediaId}),
// downloads of local media (/_matrix/client/v1/media/download/…, authenticated, and the
// legacy /_matrix/media/v3/download/…) and the media config. Access tokens are checked by
// axon-user-api at user_api.internal_api_url (the "every Tier 1 → userapi" arrow U, over
// userapi/inthttp with global.internal_api_secret). Files go to media_api.base_path,
// metadata to the mediaapi's database; several instances may share both.
//
//	axon-media-api -config axon.yaml [-public-bind :8074]
//
// It serves /_matrix/media/…, /_matrix/client/v1/media/…, /health and /metrics (with
// -metrics-bind) on media_api.public_listen (or -public-bind). No other component calls
// the mediaapi, so the binary has no internal listener. Thumbnails are rendered and stored
// by the instance that first gets the request; URL previews (media_api.url_preview) make
// outbound requests from it. It also serves /_matrix/federation/v1/media/… (client-api-proxy
// routes that prefix here), checking X-Matrix with axon-server-key-api at
// server_key_api.internal_api_url (arrow 11), and fetches media of other servers on a first
// request, signing with global.private_key_path (through the destination guard of
// federation_api.allow_private_destinations).
package main

import (
	"context"
	"os"

	"github.com/axon-matrix/axon/appservice"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/fedclient"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	"github.com/axon-matrix/axon/mediaapi"
	skinthttp "github.com/axon-matrix/axon/serverkeyapi/inthttp"
	userinthttp "github.com/axon-matrix/axon/userapi/inthttp"
)

func main() {
	os.Exit(polylith.MainPublic(polylith.Public{Name: "axon-media-api", Component: config.ComponentMediaAPI, Wire: wire},
		os.Args[1:], os.Stderr))
}

// wire opens the mediaapi's database and file store and registers its public routes with
// the userapi's inthttp client (arrow U), the serverkeyapi's (arrow 11: X-Matrix checks of
// /_matrix/federation/v1/media) and a federation client signing with this server's key
// (remote media).
func wire(p *polylith.Process) error {
	cfg := p.Cfg
	// Application services' as_tokens are access tokens here too (app_service.config_files).
	userAPI, err := appservice.Tier1Auth(cfg, userinthttp.NewClient(cfg.UserAPI.InternalAPIURL, cfg.Global.InternalAPISecret),
		p.Base.PublicClientAPIMux, p.Base.PublicMediaAPIMux)
	if err != nil {
		return err
	}
	key, err := cfg.SigningKey()
	if err != nil {
		return err
	}
	keys := skinthttp.NewClient(cfg.ServerKeyAPI.InternalAPIURL, cfg.Global.InternalAPISecret)
	db, err := p.Base.OpenDatabase(config.ComponentMediaAPI)
	if err != nil {
		return err
	}
	return mediaapi.AddPublicRoutes(context.Background(),
		mediaapi.Routers{Client: p.Base.PublicClientAPIMux, Media: p.Base.PublicMediaAPIMux, Federation: p.Base.PublicFederationAPIMux},
		mediaapi.ConfigFromFile(cfg), db, userAPI,
		mediaapi.Federation{Keys: keys, Client: fedclient.New(cfg, key, fedclient.Options{})})
}
