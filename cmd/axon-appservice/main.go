// Command axon-appservice runs the appservice component on its own for the polylith
// (ARCHITECTURE.md §4): it loads and checks the application services' registration files
// (app_service.config_files; a bad file stops the start with an error naming the file and
// field), consumes topics 2 (roomserver → syncapi), 3 (eduserver output: typing,
// receipts, presence, to-device) and 7 (key changes, for MSC3202 device lists) under its
// own consumer group "appservice" into a persisted queue per service (asking
// axon-roomserver at room_server.internal_api_url which rooms a user whose keys changed is
// in: arrow 23; and axon-key-server at key_server.internal_api_url for MSC3202 key counts:
// arrow 24), and pushes each queue to its service
// as transactions (PUT /_matrix/app/v1/transactions/{txnId}, Bearer hs_token), retrying
// with backoff. It serves arrow 10 (clientapi → appservice: the ping, and the user and
// alias queries to the services) as an internal API (appservice/inthttp).
//
//	axon-appservice -config axon.yaml
//
// It serves /api/appservice/…, /health and /metrics on app_service.internal_api_listen;
// the clientapi reaches it at app_service.internal_api_url (and reads the same
// registration files itself, for the as_token checks). Run one.
package main

import (
	"context"
	"os"

	"github.com/axon-matrix/axon/appservice"
	"github.com/axon-matrix/axon/appservice/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	ksinthttp "github.com/axon-matrix/axon/keyserver/inthttp"
	rsinthttp "github.com/axon-matrix/axon/roomserver/inthttp"
)

func main() {
	os.Exit(polylith.Main("axon-appservice", config.ComponentAppService, os.Args[1:], os.Stderr, wire))
}

// wire loads the registrations, opens the component's database, runs its topic 2
// consumer and senders in the background and serves its internal API.
func wire(p *polylith.Process) error {
	regs, err := appservice.LoadRegistrations(p.Cfg)
	if err != nil {
		return err
	}
	db, err := p.Base.OpenDatabase(config.ComponentAppService)
	if err != nil {
		return err
	}
	log, err := p.EventLog()
	if err != nil {
		return err
	}
	as, err := appservice.New(context.Background(), db, regs, appservice.Backoff{})
	if err != nil {
		return err
	}
	as.SetRoomServer(rsinthttp.NewClient(p.Cfg.RoomServer.InternalAPIURL, p.Cfg.Global.InternalAPISecret)) // arrow 23
	as.SetKeyServer(ksinthttp.NewClient(p.Cfg.KeyServer.InternalAPIURL, p.Cfg.Global.InternalAPISecret))   // arrow 24
	p.Go("appservice", func(ctx context.Context) error {
		return as.Run(ctx, log.Consumer(), p.Cfg.TopicName(eventlog.TopicRoomEvent))
	})
	p.Go("appservice ephemeral consumer", func(ctx context.Context) error {
		return as.RunEDUs(ctx, log.Consumer(), p.Cfg.TopicName(eventlog.TopicEDU)) // topic 3, group appservice
	})
	p.Go("appservice device-list consumer", func(ctx context.Context) error {
		return as.RunKeyChanges(ctx, log.Consumer(), p.Cfg.TopicName(eventlog.TopicKeyChange)) // topic 7, group appservice
	})
	// polylith.Start checks global.internal_api_secret in front of these routes (401).
	inthttp.AddRoutes(p.Base.InternalAPIMux, as.API())
	return nil
}
