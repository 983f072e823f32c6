// Command axon-server-key-api runs the serverkeyapi on its own for the polylith
// (ARCHITECTURE.md §4): this server's signing keys (the current one from
// global.private_key_path, replaced ones as old_verify_keys), the notary, and other
// servers' keys fetched directly or through server_key_api.notaries and cached by
// validity — served as an internal API (serverkeyapi/inthttp) for arrow 11
// (federationapi → serverkeyapi), and later 12 and 13.
//
//	axon-server-key-api -config axon.yaml
//
// It serves /api/serverkeyapi/…, /health and /metrics on server_key_api.internal_api_listen;
// other binaries reach it at server_key_api.internal_api_url. Its key fetches refuse
// private, loopback and link-local destinations unless
// federation_api.allow_private_destinations is set.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	"github.com/axon-matrix/axon/serverkeyapi"
	"github.com/axon-matrix/axon/serverkeyapi/inthttp"
)

func main() {
	os.Exit(polylith.Main("axon-server-key-api", config.ComponentServerKeyAPI, os.Args[1:], os.Stderr, wire))
}

// wire loads the signing key, opens the serverkeyapi's database and serves its internal
// API from the direct implementation.
func wire(p *polylith.Process) error {
	key, err := p.Cfg.SigningKey()
	if err != nil {
		return fmt.Errorf("%w (create it with axon-generate-keys)", err)
	}
	db, err := p.Base.OpenDatabase(config.ComponentServerKeyAPI)
	if err != nil {
		return err
	}
	c, err := serverkeyapi.ConfigFromFile(p.Cfg, key)
	if err != nil {
		return err
	}
	a, err := serverkeyapi.NewInternalAPI(context.Background(), db, c)
	if err != nil {
		return err
	}
	// polylith.Start checks global.internal_api_secret in front of these routes (401).
	inthttp.AddRoutes(p.Base.InternalAPIMux, a)
	return nil
}
