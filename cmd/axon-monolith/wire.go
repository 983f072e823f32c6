package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"

	"github.com/axon-matrix/axon/appservice"
	asapi "github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/clientapi"
	"github.com/axon-matrix/axon/eduserver"
	"github.com/axon-matrix/axon/federationapi"
	"github.com/axon-matrix/axon/federationsender"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/fedclient"
	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/keyserver"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/mediaapi"
	"github.com/axon-matrix/axon/roomserver"
	"github.com/axon-matrix/axon/serverkeyapi"
	"github.com/axon-matrix/axon/syncapi"
	"github.com/axon-matrix/axon/userapi"
)

// wire builds the components: userapi and roomserver (direct implementations of their
// api interfaces, handed to the Tier 1 components as arrow 4, arrow 2 and the token checks
// need them), syncapi and clientapi with their public routes and consumers, the outbox
// relays that publish what the producers stage (topics 1, 2 and 4), the keyserver behind
// the clientapi's /keys endpoints and /sync's key counts (arrows 14 and 16), the eduserver
// behind the clientapi's typing, receipt and send-to-device endpoints (arrow 6, producer
// of topic 3), the mediaapi
// (arrow U), the serverkeyapi behind the federationapi's key and version routes (arrow 11),
// and the federationsender (topic 6, arrows 12 and 17).
func (m *monolith) wire(cfg *config.Config, keyID string, key ed25519.PrivateKey) error {
	base := m.base
	ctx := base.Context()
	log, err := base.OpenEventLog(context.Background())
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	background := func(name string, fn func(ctx context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
				base.Logger.WithError(err).WithField("task", name).Error("background task stopped")
			}
		}()
	}
	// Registered after the log's and the databases' hooks, so it runs before them.
	defer base.AddShutdownHook("background tasks", func(context.Context) error { wg.Wait(); return nil })

	newOutbox := func(component string) (*outbox.Outbox, error) {
		db, err := base.OpenDatabase(component)
		if err != nil {
			return nil, err
		}
		ob, err := outbox.NewOutbox(db, component, log.Producer())
		if err != nil {
			return nil, err
		}
		background(component+" outbox", ob.Run)
		return ob, nil
	}

	// userapi (producer of topic 1)
	udb, err := base.OpenDatabase(config.ComponentUserAPI)
	if err != nil {
		return err
	}
	uOut, err := newOutbox(config.ComponentUserAPI)
	if err != nil {
		return err
	}
	userAPI, err := userapi.NewInternalAPI(udb, cfg.Global.ServerName, uOut, cfg.TopicName(eventlog.TopicAccountData),
		userapi.WithBcryptCost(cfg.UserAPI.BcryptCost))
	if err != nil {
		return fmt.Errorf("userapi: %w", err)
	}

	// serverkeyapi (arrows 11 and 12): this server's keys and other servers'.
	kdb, err := base.OpenDatabase(config.ComponentServerKeyAPI)
	if err != nil {
		return err
	}
	skCfg, err := serverkeyapi.ConfigFromFile(cfg, signing.SigningKey{ID: signing.KeyID(keyID), Private: key})
	if err != nil {
		return fmt.Errorf("serverkeyapi: %w", err)
	}
	keyAPI, err := serverkeyapi.NewInternalAPI(context.Background(), kdb, skCfg)
	if err != nil {
		return fmt.Errorf("serverkeyapi: %w", err)
	}

	// federationsender: consumes topic 6 into its per-destination queues and sends them
	// (PUT /send); joins remote rooms for the roomserver (arrow 17), checking the answers
	// with the serverkeyapi (arrow 12).
	fsdb, err := base.OpenDatabase(config.ComponentFederationSender)
	if err != nil {
		return err
	}
	signingKey := signing.SigningKey{ID: signing.KeyID(keyID), Private: key}
	// One outbound federation client (connection pools, discovery cache) for the
	// federationsender and the federationapi's missing-event fetches.
	fedClient := fedclient.New(cfg, signingKey, fedclient.Options{})
	fs, err := federationsender.New(context.Background(), fsdb, federationsender.Config{ServerName: cfg.Global.ServerName,
		Key: signingKey, Client: fedClient, Keys: keyAPI})
	if err != nil {
		return fmt.Errorf("federationsender: %w", err)
	}

	// roomserver (producer of topics 2, 4 and 6)
	rdb, err := base.OpenDatabase(config.ComponentRoomServer)
	if err != nil {
		return err
	}
	rOut, err := newOutbox(config.ComponentRoomServer)
	if err != nil {
		return err
	}
	rsAPI, err := roomserver.NewInternalAPI(context.Background(), rdb, cfg.Global.ServerName, keyID, key, rOut,
		roomserver.Topics{RoomEvent: cfg.TopicName(eventlog.TopicRoomEvent), Membership: cfg.TopicName(eventlog.TopicMembership),
			Federation: cfg.TopicName(eventlog.TopicPDUFederation)}, roomserver.WithFederationSender(fs.API()))
	if err != nil {
		return fmt.Errorf("roomserver: %w", err)
	}

	// keyserver (arrows 14 and 16: called by the clientapi and the syncapi)
	ksdb, err := base.OpenDatabase(config.ComponentKeyServer)
	if err != nil {
		return err
	}
	ksOut, err := newOutbox(config.ComponentKeyServer) // topic 7 (device-list changes)
	if err != nil {
		return err
	}
	ksAPI, err := keyserver.NewInternalAPI(context.Background(), ksdb, cfg.Global.ServerName,
		keyserver.WithKeyChanges(ksOut, cfg.TopicName(eventlog.TopicKeyChange)),
		keyserver.WithRemoteKeys(fs.RemoteKeys()), // arrow 20: other servers' users' keys
		// arrow 22: cache the keys of remote users who share a room
		keyserver.WithSharedRooms(rsAPI))
	if err != nil {
		return fmt.Errorf("keyserver: %w", err)
	}

	// eduserver (arrow 6 from the clientapi; producer of topic 3)
	edb, err := base.OpenDatabase(config.ComponentEDUServer)
	if err != nil {
		return err
	}
	eOut, err := newOutbox(config.ComponentEDUServer)
	if err != nil {
		return err
	}
	eduAPI, err := eduserver.NewInternalAPI(context.Background(), edb, cfg.Global.ServerName, eOut, cfg.TopicName(eventlog.TopicEDU))
	if err != nil {
		return fmt.Errorf("eduserver: %w", err)
	}
	eduAPI.PresenceEnabled, eduAPI.PresenceIdle = cfg.EDUServer.PresenceEnabled, cfg.EDUServer.PresenceIdleTimeout
	// Topic 5 to the federationsender; arrow 19 to the roomserver; arrow U for devices.
	eduAPI.Fed = eduserver.Federation{FedTopic: cfg.TopicName(eventlog.TopicEDUFederation), RoomServer: rsAPI, Devices: userAPI}
	background("eduserver transaction pruner", eduAPI.RunPruner)
	background("eduserver presence idler", eduAPI.RunPresenceIdler)

	// Application services' registrations (app_service.config_files, checked here: a bad
	// file stops the start). Their as_tokens are access tokens for every Tier 1 component:
	// the syncapi and the mediaapi get a userapi that knows them, and the assertion
	// (?user_id=, ?device_id=) through the request's context.
	asRegs, err := appservice.LoadRegistrations(cfg)
	if err != nil {
		return err
	}
	tier1UserAPI := asapi.WithASTokens(userAPI, asRegs)
	base.PublicClientAPIMux.Use(asapi.Middleware)
	base.PublicMediaAPIMux.Use(asapi.Middleware)

	// syncapi (consumer of topics 1, 2 and 3)
	sdb, err := base.OpenDatabase(config.ComponentSyncAPI)
	if err != nil {
		return err
	}
	sync, err := syncapi.AddPublicRoutes(context.Background(), setup.FullPathRouter(base.PublicClientAPIMux), sdb, log.Consumer(),
		syncapi.Topics{RoomEvent: cfg.TopicName(eventlog.TopicRoomEvent), AccountData: cfg.TopicName(eventlog.TopicAccountData),
			EDU: cfg.TopicName(eventlog.TopicEDU), KeyChange: cfg.TopicName(eventlog.TopicKeyChange)},
		"syncapi", tier1UserAPI, rsAPI,
		syncapi.WithReadYourWritesTimeout(cfg.SyncAPI.ReadYourWritesTimeout), syncapi.WithRoomEventDelayFromEnv(),
		syncapi.WithUnreadCounts(cfg.SyncAPI.UnreadCounts),
		syncapi.WithSyncV3(cfg.SyncAPI.V3.SessionIdleTimeout, cfg.SyncAPI.V3.MaxSessionsPerDevice, cfg.SyncAPI.V3.MaxSessions),
		syncapi.WithKeyServer(ksAPI), syncapi.WithEDUServer(eduAPI))
	if err != nil {
		return fmt.Errorf("syncapi: %w", err)
	}
	sync.SetDraining(base.Draining()) // long-polls answer at once when shutdown begins
	base.AddShutdownHook("syncapi consumers", func(context.Context) error { return sync.Stop() })

	// mediaapi (arrow U for access tokens): uploads and downloads on /_matrix/media and
	// /_matrix/client/v1/media, registered before the clientapi's routes like the syncapi's;
	// /_matrix/federation/v1/media with X-Matrix checked by the serverkeyapi (arrow 11), and
	// remote media fetched through the shared federation client.
	mdb, err := base.OpenDatabase(config.ComponentMediaAPI)
	if err != nil {
		return err
	}
	if err := mediaapi.AddPublicRoutes(context.Background(),
		mediaapi.Routers{Client: base.PublicClientAPIMux, Media: base.PublicMediaAPIMux, Federation: base.PublicFederationAPIMux},
		mediaapi.ConfigFromFile(cfg), mdb, tier1UserAPI, mediaapi.Federation{Keys: keyAPI, Client: fedClient}); err != nil {
		return fmt.Errorf("mediaapi: %w", err)
	}

	// appservice: consumes topic 2 (group "appservice") into a queue per service and
	// pushes transactions; arrow 10 from the clientapi (the ping).
	asdb, err := base.OpenDatabase(config.ComponentAppService)
	if err != nil {
		return err
	}
	asvc, err := appservice.New(context.Background(), asdb, asRegs, appservice.Backoff{})
	if err != nil {
		return fmt.Errorf("appservice: %w", err)
	}
	asvc.SetRoomServer(rsAPI) // arrow 23: the rooms of a user whose device list changed
	asvc.SetKeyServer(ksAPI)  // arrow 24: MSC3202 key counts in transactions
	background("appservice", func(ctx context.Context) error {
		return asvc.Run(ctx, log.Consumer(), cfg.TopicName(eventlog.TopicRoomEvent))
	})
	background("appservice ephemeral consumer", func(ctx context.Context) error {
		return asvc.RunEDUs(ctx, log.Consumer(), cfg.TopicName(eventlog.TopicEDU)) // topic 3, group appservice
	})
	background("appservice device-list consumer", func(ctx context.Context) error {
		return asvc.RunKeyChanges(ctx, log.Consumer(), cfg.TopicName(eventlog.TopicKeyChange)) // topic 7, group appservice
	})

	// clientapi (arrow 4 to the roomserver; consumer of topic 4)
	cdb, err := base.OpenDatabase(config.ComponentClientAPI)
	if err != nil {
		return err
	}
	client, err := clientapi.New(context.Background(), clientapi.ConfigFromFile(cfg, cfg.Monolith.HTTPBind), cdb)
	if err != nil {
		return fmt.Errorf("clientapi: %w", err)
	}
	client.AddPublicRoutes(clientapi.Routers{Client: base.PublicClientAPIMux, WellKnown: base.PublicWellKnownAPIMux,
		SynapseAdmin: base.PublicSynapseAdminMux}, userAPI, rsAPI, ksAPI, clientapi.WithEDUServer(eduAPI),
		clientapi.WithAppServices(asRegs, asvc.API()))
	background("clientapi membership consumer", func(ctx context.Context) error {
		return client.RunMembershipConsumer(ctx, log.Consumer(), cfg.TopicName(eventlog.TopicMembership))
	})

	// federationapi (arrow 11 to the serverkeyapi built above, arrow 3 to the roomserver):
	// /_matrix/key and
	// /_matrix/federation on the public listeners (monolith.http_bind and, over TLS,
	// monolith.https_bind).
	federationapi.AddPublicRoutes(federationapi.Routers{Federation: base.PublicFederationAPIMux, Key: base.PublicKeyAPIMux},
		federationapi.Config{ServerName: cfg.Global.ServerName, RoomServer: rsAPI, Fetcher: fedClient, EDUServer: eduAPI,
			// Arrow 15: federation's /user/devices, /user/keys/query, /user/keys/claim;
			// the userapi answers /query/profile.
			KeyServer: ksAPI, UserAPI: userAPI,
			// Arrow 8: a server that contacted us is sent what waits for it at once.
			FederationSender: fs.Contacts(),
			// Arrow 9: unknown users and aliases of the queries asked of the services.
			AppServices: asRegs, AppService: asvc.API()}, keyAPI)

	// federationsender (topic 6 → PUT /send to every destination; built above)
	background("federationsender", func(ctx context.Context) error {
		return fs.Run(ctx, log.Consumer(), cfg.TopicName(eventlog.TopicPDUFederation))
	})
	background("federationsender topic 5", func(ctx context.Context) error {
		return fs.RunEDUs(ctx, log.Consumer(), cfg.TopicName(eventlog.TopicEDUFederation))
	})
	background("federationsender topic 7", func(ctx context.Context) error {
		// m.device_list_update to the servers sharing a room (arrow 21: asks the roomserver)
		return fs.RunDeviceLists(ctx, log.Consumer(), cfg.TopicName(eventlog.TopicKeyChange), rsAPI)
	})
	return nil
}
