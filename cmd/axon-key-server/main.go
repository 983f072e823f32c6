// Command axon-key-server runs the keyserver on its own for the polylith (ARCHITECTURE.md
// §4): the end-to-end encryption keys of this server's devices — device keys, one-time keys
// and fallback keys — served as an internal API (keyserver/inthttp) for arrow 14
// (clientapi → keyserver: /keys/upload, /keys/query, /keys/claim, device deletion) and
// arrow 16 (syncapi → keyserver: the key counts of /sync).
//
//	axon-key-server -config axon.yaml
//
// It serves /api/keyserver/…, /health and /metrics on key_server.internal_api_listen;
// other binaries reach it at key_server.internal_api_url.
package main

import (
	"context"
	"os"

	fsinthttp "github.com/axon-matrix/axon/federationsender/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	"github.com/axon-matrix/axon/keyserver"
	"github.com/axon-matrix/axon/keyserver/inthttp"
	rsinthttp "github.com/axon-matrix/axon/roomserver/inthttp"
)

func main() {
	os.Exit(polylith.Main("axon-key-server", config.ComponentKeyServer, os.Args[1:], os.Stderr, wire))
}

// wire opens the keyserver's database and serves its internal API from the direct
// implementation.
func wire(p *polylith.Process) error {
	db, err := p.Base.OpenDatabase(config.ComponentKeyServer)
	if err != nil {
		return err
	}
	ob, err := p.Outbox(config.ComponentKeyServer)
	if err != nil {
		return err
	}
	// Topic 7 (keyserver → syncapi: device-list changes) through the keyserver's outbox.
	opts := []keyserver.Option{keyserver.WithKeyChanges(ob, p.Cfg.TopicName(eventlog.TopicKeyChange))}
	if url := p.Cfg.FederationSender.InternalAPIURL; url != "" {
		// Arrow 20: other servers' users' keys through axon-federation-sender.
		opts = append(opts, keyserver.WithRemoteKeys(fsinthttp.NewClient(url, p.Cfg.Global.InternalAPISecret)))
		if rsURL := p.Cfg.RoomServer.InternalAPIURL; rsURL != "" {
			// Arrow 22: the cache of remote users' keys asks axon-roomserver who shares a room.
			opts = append(opts, keyserver.WithSharedRooms(rsinthttp.NewClient(rsURL, p.Cfg.Global.InternalAPISecret)))
		}
	}
	a, err := keyserver.NewInternalAPI(context.Background(), db, p.Cfg.Global.ServerName, opts...)
	if err != nil {
		return err
	}
	// polylith.Start checks global.internal_api_secret in front of these routes (401).
	inthttp.AddRoutes(p.Base.InternalAPIMux, a)
	return nil
}
