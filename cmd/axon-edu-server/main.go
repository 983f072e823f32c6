// Command axon-edu-server runs the eduserver on its own for the polylith (ARCHITECTURE.md
// §4): typing notifications, read receipts and send-to-device messages, served as an
// internal API (eduserver/inthttp) for arrow 6 (clientapi → eduserver; arrow 5 from the
// federationapi later), producing topic 3 (eduserver → syncapi) through its outbox.
//
//	axon-edu-server -config axon.yaml
//
// It serves /api/eduserver/…, /health and /metrics on edu_server.internal_api_listen;
// other binaries reach it at edu_server.internal_api_url.
package main

import (
	"context"
	"os"

	"github.com/axon-matrix/axon/eduserver"
	"github.com/axon-matrix/axon/eduserver/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	rsinthttp "github.com/axon-matrix/axon/roomserver/inthttp"
	userinthttp "github.com/axon-matrix/axon/userapi/inthttp"
)

func main() {
	os.Exit(polylith.Main("axon-edu-server", config.ComponentEDUServer, os.Args[1:], os.Stderr, wire))
}

// wire opens the eduserver's database and outbox (topic 3) and serves its internal API
// from the direct implementation.
func wire(p *polylith.Process) error {
	db, err := p.Base.OpenDatabase(config.ComponentEDUServer)
	if err != nil {
		return err
	}
	ob, err := p.Outbox(config.ComponentEDUServer)
	if err != nil {
		return err
	}
	a, err := eduserver.NewInternalAPI(context.Background(), db, p.Cfg.Global.ServerName, ob, p.Cfg.TopicName(eventlog.TopicEDU))
	if err != nil {
		return err
	}
	a.PresenceEnabled, a.PresenceIdle = p.Cfg.EDUServer.PresenceEnabled, p.Cfg.EDUServer.PresenceIdleTimeout
	// Topic 5 to the federationsender; arrow 19 to the roomserver; arrow U for devices.
	secret := p.Cfg.Global.InternalAPISecret
	a.Fed = eduserver.Federation{FedTopic: p.Cfg.TopicName(eventlog.TopicEDUFederation),
		RoomServer: rsinthttp.NewClient(p.Cfg.RoomServer.InternalAPIURL, secret),
		Devices:    userinthttp.NewClient(p.Cfg.UserAPI.InternalAPIURL, secret)}
	p.Go("eduserver transaction pruner", a.RunPruner)
	p.Go("eduserver presence idler", a.RunPresenceIdler)
	// polylith.Start checks global.internal_api_secret in front of these routes (401).
	inthttp.AddRoutes(p.Base.InternalAPIMux, a)
	return nil
}
