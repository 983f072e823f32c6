// Command axon-client-api runs the clientapi on its own for the polylith
// (ARCHITECTURE.md §4): the public client-server endpoints other than sync's and media's,
// /.well-known/matrix/client and Synapse's shared-secret registration. It implements
// arrow 4 (clientapi → roomserver: creating rooms, sending events, membership, state,
// aliases, the directory) as calls to axon-roomserver at room_server.internal_api_url,
// and checks access tokens (the "every Tier 1 → userapi" arrow) and manages accounts,
// devices, profiles and account data through axon-user-api at user_api.internal_api_url,
// both over roomserver/inthttp and userapi/inthttp with global.internal_api_secret, and
// serves /keys/upload, /keys/query and /keys/claim through axon-key-server at
// key_server.internal_api_url (arrow 14, keyserver/inthttp), and typing, receipts, read
// markers and send-to-device through axon-edu-server at edu_server.internal_api_url
// (arrow 6, eduserver/inthttp). It authenticates application services by the as_tokens
// of the registration files in app_service.config_files (the same files axon-appservice
// reads) and forwards their pings to axon-appservice at app_service.internal_api_url
// (arrow 10, appservice/inthttp). It
// consumes topic 4 (roomserver → clientapi membership changes) under consumer group
// "clientapi", which every clientapi instance shares: they share the table it fills.
//
//	axon-client-api -config axon.yaml [-public-bind :8071]
//
// It serves /_matrix/client/…, /.well-known/matrix/…, /_synapse/admin/…, /health and
// /metrics on client_api.public_listen (or -public-bind). The clientapi has no internal
// API, so the binary has no internal listener. Errors from the roomserver and the userapi
// keep their Matrix errcode and status on the way to the client.
package main

import (
	"context"
	"os"

	"github.com/axon-matrix/axon/appservice"
	asinthttp "github.com/axon-matrix/axon/appservice/inthttp"
	"github.com/axon-matrix/axon/clientapi"
	eduinthttp "github.com/axon-matrix/axon/eduserver/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	ksinthttp "github.com/axon-matrix/axon/keyserver/inthttp"
	rsinthttp "github.com/axon-matrix/axon/roomserver/inthttp"
	userinthttp "github.com/axon-matrix/axon/userapi/inthttp"
)

func main() {
	os.Exit(polylith.MainPublic(polylith.Public{Name: "axon-client-api", Component: config.ComponentClientAPI, Wire: wire},
		os.Args[1:], os.Stderr))
}

// wire opens the clientapi's database, registers its public routes with the inthttp
// clients of the userapi, the roomserver (arrow 4), the keyserver (arrow 14) and the
// eduserver (arrow 6), and runs
// the topic 4 consumer.
func wire(p *polylith.Process) error {
	cfg := p.Cfg
	userAPI := userinthttp.NewClient(cfg.UserAPI.InternalAPIURL, cfg.Global.InternalAPISecret)
	rsAPI := rsinthttp.NewClient(cfg.RoomServer.InternalAPIURL, cfg.Global.InternalAPISecret)
	ksAPI := ksinthttp.NewClient(cfg.KeyServer.InternalAPIURL, cfg.Global.InternalAPISecret)
	eduAPI := eduinthttp.NewClient(cfg.EDUServer.InternalAPIURL, cfg.Global.InternalAPISecret)
	db, err := p.Base.OpenDatabase(config.ComponentClientAPI)
	if err != nil {
		return err
	}
	log, err := p.EventLog()
	if err != nil {
		return err
	}
	// The application services' registrations: the same files axon-appservice reads
	// (as_tokens, namespaces); the ping goes to it over arrow 10.
	asRegs, err := appservice.LoadRegistrations(cfg)
	if err != nil {
		return err
	}
	asAPI := asinthttp.NewClient(cfg.AppService.InternalAPIURL, cfg.Global.InternalAPISecret)
	client, err := clientapi.New(context.Background(), clientapi.ConfigFromFile(cfg, cfg.ClientAPI.PublicListen), db)
	if err != nil {
		return err
	}
	b := p.Base
	client.AddPublicRoutes(clientapi.Routers{Client: b.PublicClientAPIMux, WellKnown: b.PublicWellKnownAPIMux,
		SynapseAdmin: b.PublicSynapseAdminMux}, userAPI, rsAPI, ksAPI, clientapi.WithEDUServer(eduAPI),
		clientapi.WithAppServices(asRegs, asAPI))
	p.Go("clientapi membership consumer (topic 4)", func(ctx context.Context) error {
		return client.RunMembershipConsumer(ctx, log.Consumer(), cfg.TopicName(eventlog.TopicMembership))
	})
	return nil
}
