// Command axon-federation-sender runs the federationsender on its own for the polylith
// (ARCHITECTURE.md §4): it consumes topic 6 (roomserver → federationsender) into a
// persisted queue per destination and sends the queued events to the other servers as
// transactions (PUT /_matrix/federation/v1/send), retrying with backoff; it serves arrow
// 17 (roomserver → federationsender: joins of remote rooms) as an internal API
// (federationsender/inthttp) and checks the answers through the serverkeyapi (arrow 12,
// server_key_api.internal_api_url).
//
//	axon-federation-sender -config axon.yaml
//
// It serves /api/federationsender/…, /health and /metrics on
// federation_sender.internal_api_listen; other binaries reach it at
// federation_sender.internal_api_url. It signs requests and join events with the key at
// global.private_key_path, which must exist (axon-generate-keys writes it). Run one.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/axon-matrix/axon/federationsender"
	"github.com/axon-matrix/axon/federationsender/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/fedclient"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	rsinthttp "github.com/axon-matrix/axon/roomserver/inthttp"
	skinthttp "github.com/axon-matrix/axon/serverkeyapi/inthttp"
)

func main() {
	os.Exit(polylith.Main("axon-federation-sender", config.ComponentFederationSender, os.Args[1:], os.Stderr, wire))
}

// wire loads the signing key, opens the federationsender's database, runs its topic 6
// consumer and senders in the background and serves its internal API.
func wire(p *polylith.Process) error {
	key, err := p.Cfg.SigningKey()
	if err != nil {
		return fmt.Errorf("%w (create it with axon-generate-keys)", err)
	}
	db, err := p.Base.OpenDatabase(config.ComponentFederationSender)
	if err != nil {
		return err
	}
	log, err := p.EventLog()
	if err != nil {
		return err
	}
	keys := skinthttp.NewClient(p.Cfg.ServerKeyAPI.InternalAPIURL, p.Cfg.Global.InternalAPISecret)
	fs, err := federationsender.New(context.Background(), db, federationsender.Config{ServerName: p.Cfg.Global.ServerName,
		Key: key, Client: fedclient.New(p.Cfg, key, fedclient.Options{}), Keys: keys})
	if err != nil {
		return err
	}
	p.Go("federationsender", func(ctx context.Context) error {
		return fs.Run(ctx, log.Consumer(), p.Cfg.TopicName(eventlog.TopicPDUFederation))
	})
	p.Go("federationsender topic 5", func(ctx context.Context) error {
		return fs.RunEDUs(ctx, log.Consumer(), p.Cfg.TopicName(eventlog.TopicEDUFederation))
	})
	rooms := rsinthttp.NewClient(p.Cfg.RoomServer.InternalAPIURL, p.Cfg.Global.InternalAPISecret)
	p.Go("federationsender topic 7", func(ctx context.Context) error {
		// m.device_list_update to the servers sharing a room (arrow 21: asks the roomserver)
		return fs.RunDeviceLists(ctx, log.Consumer(), p.Cfg.TopicName(eventlog.TopicKeyChange), rooms)
	})
	// polylith.Start checks global.internal_api_secret in front of these routes (401).
	inthttp.AddRoutes(p.Base.InternalAPIMux, fs.API())
	inthttp.AddRemoteKeysRoutes(p.Base.InternalAPIMux, fs.RemoteKeys()) // arrow 20 (keyserver → federationsender)
	return nil
}
