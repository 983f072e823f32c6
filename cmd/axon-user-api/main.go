// Command axon-user-api runs the userapi on its own for the polylith (ARCHITECTURE.md §4):
// accounts, devices and access tokens, profiles, account data and filters, served as an
// internal API (userapi/inthttp) that every Tier 1 binary calls to check access tokens
// (the unnumbered "every Tier 1 → userapi" arrow of §2). It produces topic 1 (account data
// → syncapi) through its transactional outbox, whose relay runs here.
//
//	axon-user-api -config axon.yaml
//
// It serves /api/userapi/…, /health and /metrics on user_api.internal_api_listen; other
// binaries reach it at user_api.internal_api_url.
package main

import (
	"os"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	"github.com/axon-matrix/axon/userapi"
	"github.com/axon-matrix/axon/userapi/inthttp"
)

func main() {
	os.Exit(polylith.Main("axon-user-api", config.ComponentUserAPI, os.Args[1:], os.Stderr, wire))
}

// wire opens the userapi's database and outbox (topic 1) and serves the userapi's
// internal API from the direct implementation.
func wire(p *polylith.Process) error {
	db, err := p.Base.OpenDatabase(config.ComponentUserAPI)
	if err != nil {
		return err
	}
	ob, err := p.Outbox(config.ComponentUserAPI)
	if err != nil {
		return err
	}
	a, err := userapi.NewInternalAPI(db, p.Cfg.Global.ServerName, ob, p.Cfg.TopicName(eventlog.TopicAccountData),
		userapi.WithBcryptCost(p.Cfg.UserAPI.BcryptCost))
	if err != nil {
		return err
	}
	inthttp.AddRoutes(p.Base.InternalAPIMux, a, p.Cfg.Global.InternalAPISecret)
	return nil
}
