// Command axon-federation-api runs the federationapi on its own for the polylith
// (ARCHITECTURE.md §4): the public server-server API. Built so far: this server's keys and
// the notary (/_matrix/key/v2/server, /_matrix/key/v2/query), /_matrix/federation/v1/version
// and the X-Matrix authentication of federation requests, with keys from axon-server-key-api
// at server_key_api.internal_api_url (arrow 11, serverkeyapi/inthttp with
// global.internal_api_secret); /send, /event, /state, /state_ids, /get_missing_events,
// make_join, send_join, make_leave, send_leave, invite, make_knock and send_knock,
// answered by axon-roomserver at room_server.internal_api_url
// (arrow 3); /user/devices, /user/keys/query and /user/keys/claim, answered by
// axon-key-server at key_server.internal_api_url (arrow 15); /query/profile, answered by
// axon-user-api at user_api.internal_api_url, and /query/directory (axon-roomserver).
// Other federation paths answer 404 M_UNRECOGNIZED.
//
//	axon-federation-api -config axon.yaml [-public-bind :8073]
//
// It serves /_matrix/federation/…, /_matrix/key/…, /health and /metrics (with
// -metrics-bind) on federation_api.public_listen (or -public-bind); it has no internal
// listener yet.
package main

import (
	"fmt"
	"os"

	"github.com/axon-matrix/axon/appservice"
	asapi "github.com/axon-matrix/axon/appservice/api"
	asinthttp "github.com/axon-matrix/axon/appservice/inthttp"
	eduinthttp "github.com/axon-matrix/axon/eduserver/inthttp"
	"github.com/axon-matrix/axon/federationapi"
	fsapi "github.com/axon-matrix/axon/federationsender/api"
	fsinthttp "github.com/axon-matrix/axon/federationsender/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/fedclient"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	ksinthttp "github.com/axon-matrix/axon/keyserver/inthttp"
	rsinthttp "github.com/axon-matrix/axon/roomserver/inthttp"
	skinthttp "github.com/axon-matrix/axon/serverkeyapi/inthttp"
	userinthttp "github.com/axon-matrix/axon/userapi/inthttp"
)

func main() {
	os.Exit(polylith.MainPublic(polylith.Public{Name: "axon-federation-api", Component: config.ComponentFederationAPI, Wire: wire},
		os.Args[1:], os.Stderr))
}

// wire registers the federationapi's public routes with the serverkeyapi's inthttp client
// (arrow 11).
func wire(p *polylith.Process) error {
	cfg := p.Cfg
	key, err := cfg.SigningKey()
	if err != nil {
		return fmt.Errorf("%w (create it with axon-generate-keys)", err)
	}
	keys := skinthttp.NewClient(cfg.ServerKeyAPI.InternalAPIURL, cfg.Global.InternalAPISecret)
	// Arrow 3: the room endpoints answer from axon-roomserver; the gaps in what other
	// servers send are fetched from them (get_missing_events) with the shared client.
	rs := rsinthttp.NewClient(cfg.RoomServer.InternalAPIURL, cfg.Global.InternalAPISecret)
	// The application services' registrations (app_service.config_files, the files
	// axon-appservice reads): their namespaces say which unknown users and aliases of
	// /query/profile and /query/directory to ask axon-appservice about (arrow 9).
	asRegs, err := appservice.LoadRegistrations(cfg)
	if err != nil {
		return err
	}
	var asAPI asapi.AppServiceAPI
	if len(asRegs.All()) > 0 {
		asAPI = asinthttp.NewClient(cfg.AppService.InternalAPIURL, cfg.Global.InternalAPISecret)
	}
	var contacts fsapi.ContactAPI
	if url := cfg.FederationSender.InternalAPIURL; url != "" {
		// Arrow 8: a server that contacted us is sent what waits for it in axon-federation-sender at once.
		contacts = fsinthttp.NewClient(url, cfg.Global.InternalAPISecret)
	}
	federationapi.AddPublicRoutes(federationapi.Routers{Federation: p.Base.PublicFederationAPIMux, Key: p.Base.PublicKeyAPIMux},
		federationapi.Config{ServerName: cfg.Global.ServerName, RoomServer: rs, Fetcher: fedclient.New(cfg, key, fedclient.Options{}),
			FederationSender: contacts,
			// Arrow 5: the EDUs of /send go to axon-edu-server.
			EDUServer: eduinthttp.NewClient(cfg.EDUServer.InternalAPIURL, cfg.Global.InternalAPISecret),
			// Arrow 15: /user/devices, /user/keys/query and /user/keys/claim from axon-key-server.
			KeyServer: ksinthttp.NewClient(cfg.KeyServer.InternalAPIURL, cfg.Global.InternalAPISecret),
			// /query/profile from axon-user-api (/query/directory from axon-roomserver).
			UserAPI: userinthttp.NewClient(cfg.UserAPI.InternalAPIURL, cfg.Global.InternalAPISecret),
			// Arrow 9: unknown users and aliases of the queries asked of axon-appservice.
			AppServices: asRegs, AppService: asAPI}, keys)
	return nil
}
