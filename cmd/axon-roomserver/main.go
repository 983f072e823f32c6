// Command axon-roomserver runs the roomserver on its own for the polylith
// (ARCHITECTURE.md §4): the room DAG, event auth, state and the canonical room history,
// served as an internal API (roomserver/inthttp) for arrows 2, 3 and 4 of §2. It produces
// topics 2 (roomserver → syncapi), 4 (roomserver → clientapi) and 6 (roomserver →
// federationsender) through its transactional outbox, whose relay runs here; joins of rooms
// held only by other servers go to axon-federation-sender at
// federation_sender.internal_api_url (arrow 17). The polylith runs exactly one roomserver.
//
//	axon-roomserver -config axon.yaml
//
// It serves /api/roomserver/…, /health and /metrics on room_server.internal_api_listen;
// other binaries reach it at room_server.internal_api_url. It signs local events with the
// key at global.private_key_path, which must exist (axon-generate-keys writes it).
package main

import (
	"context"
	"fmt"
	"os"

	fsinthttp "github.com/axon-matrix/axon/federationsender/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	"github.com/axon-matrix/axon/roomserver"
	"github.com/axon-matrix/axon/roomserver/inthttp"
)

func main() {
	os.Exit(polylith.Main("axon-roomserver", config.ComponentRoomServer, os.Args[1:], os.Stderr, wire))
}

// wire loads the signing key, opens the roomserver's database and outbox (topics 2 and 4)
// and serves the roomserver's internal API from the direct implementation.
func wire(p *polylith.Process) error {
	// Every binary reads the one key file; none of them makes up its own.
	key, err := p.Cfg.SigningKey()
	if err != nil {
		return fmt.Errorf("%w (create it with axon-generate-keys)", err)
	}
	db, err := p.Base.OpenDatabase(config.ComponentRoomServer)
	if err != nil {
		return err
	}
	ob, err := p.Outbox(config.ComponentRoomServer)
	if err != nil {
		return err
	}
	var opts []roomserver.Option
	if url := p.Cfg.FederationSender.InternalAPIURL; url != "" {
		// Arrow 17: joins of rooms this server does not hold go through axon-federation-sender.
		opts = append(opts, roomserver.WithFederationSender(fsinthttp.NewClient(url, p.Cfg.Global.InternalAPISecret)))
	}
	a, err := roomserver.NewInternalAPI(context.Background(), db, p.Cfg.Global.ServerName, string(key.ID), key.Private, ob,
		roomserver.Topics{RoomEvent: p.Cfg.TopicName(eventlog.TopicRoomEvent), Membership: p.Cfg.TopicName(eventlog.TopicMembership),
			Federation: p.Cfg.TopicName(eventlog.TopicPDUFederation)}, opts...)
	if err != nil {
		return err
	}
	// polylith.Start checks global.internal_api_secret in front of these routes (401).
	inthttp.AddRoutes(p.Base.InternalAPIMux, a)
	return nil
}
