// Command axon-sync-api runs one instance of the syncapi for the polylith
// (ARCHITECTURE.md §4, §7): GET /sync (v3 and r0), /messages, /context, /members,
// /joined_members and /event. It builds its view only from the log: it consumes topic 1
// (account data → syncapi), topic 2 (roomserver → syncapi) and topic 3 (eduserver →
// syncapi: typing, receipts, to-device messages) itself, and it calls
// axon-roomserver over arrow 2 (syncapi → roomserver, state events it lacks) at
// room_server.internal_api_url and axon-user-api for access tokens and filters at
// user_api.internal_api_url, through roomserver/inthttp and userapi/inthttp with
// global.internal_api_secret. Each /sync asks axon-key-server (key_server.internal_api_url,
// keyserver/inthttp) for the device's one-time key counts (arrow 16).
//
//	axon-sync-api -config axon.yaml [-instance NAME | -instance-from-hostname] [-public-bind ADDR]
//
// It serves the sync routes, /health and /metrics on sync_api.public_listen, or on
// -public-bind so several instances can run from one config file. The syncapi has no
// internal API, so the binary has no internal listener.
//
// Several instances run side by side behind client-api-proxy, and any of them serves any
// since token: positions are the producers' (syncapi/README.md). Each instance (-instance,
// default "0") has its own consumer group "syncapi-<instance>" and its own tables: on
// SQLite its own file, on Postgres its own schema "syncapi_<instance>" (instance.go). On
// Postgres a second process started with a running instance's name refuses to start.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/axon-matrix/axon/appservice"
	eduinthttp "github.com/axon-matrix/axon/eduserver/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/inthttp/polylith"
	"github.com/axon-matrix/axon/internal/setup"
	ksinthttp "github.com/axon-matrix/axon/keyserver/inthttp"
	rsinthttp "github.com/axon-matrix/axon/roomserver/inthttp"
	"github.com/axon-matrix/axon/syncapi"
	userinthttp "github.com/axon-matrix/axon/userapi/inthttp"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	instance := "0"
	fromHostname := false
	return polylith.MainPublic(polylith.Public{
		Name:      "axon-sync-api",
		Component: config.ComponentSyncAPI,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&instance, "instance", instance,
				"this sync instance's name (a-z, 0-9, _): its consumer group is syncapi-NAME, its tables its own (SQLite file, Postgres schema)")
			fs.BoolVar(&fromHostname, "instance-from-hostname", false,
				"take the instance name from the host name instead of -instance (replicas of a scaled container service each get their own)")
		},
		Configure: func(cfg *config.Config) error {
			if fromHostname {
				h, err := os.Hostname()
				if err != nil {
					return fmt.Errorf("-instance-from-hostname: %w", err)
				}
				instance = instanceFromHostname(h)
			}
			return configureInstance(cfg, instance)
		},
		Wire: func(p *polylith.Process) error { return wire(p, instance) },
	}, args, os.Stderr)
}

// wire opens the instance's own tables, registers the sync routes with the inthttp clients
// of the userapi and the roomserver (arrow 2) and consumes topics 1 and 2 under the
// instance's consumer group (and topic 3).
func wire(p *polylith.Process, instance string) error {
	cfg := p.Cfg
	// Application services' as_tokens are access tokens here too (app_service.config_files).
	userAPI, err := appservice.Tier1Auth(cfg, userinthttp.NewClient(cfg.UserAPI.InternalAPIURL, cfg.Global.InternalAPISecret),
		p.Base.PublicClientAPIMux)
	if err != nil {
		return err
	}
	rsAPI := rsinthttp.NewClient(cfg.RoomServer.InternalAPIURL, cfg.Global.InternalAPISecret)
	db, err := p.Base.OpenDatabase(config.ComponentSyncAPI)
	if err != nil {
		return err
	}
	if err := ensureSchema(context.Background(), db, instance); err != nil {
		return err
	}
	release, err := lockInstance(context.Background(), db, instance)
	if err != nil {
		return err
	}
	// Registered after the database, so the lock is let go before the pool closes.
	p.Base.AddShutdownHook("sync instance lock", func(context.Context) error { return release() })
	log, err := p.EventLog()
	if err != nil {
		return err
	}
	s, err := syncapi.AddPublicRoutes(context.Background(), setup.FullPathRouter(p.Base.PublicClientAPIMux), db, log.Consumer(),
		syncapi.Topics{RoomEvent: cfg.TopicName(eventlog.TopicRoomEvent), AccountData: cfg.TopicName(eventlog.TopicAccountData),
			EDU: cfg.TopicName(eventlog.TopicEDU), KeyChange: cfg.TopicName(eventlog.TopicKeyChange)},
		consumerGroup(instance), userAPI, rsAPI,
		syncapi.WithReadYourWritesTimeout(cfg.SyncAPI.ReadYourWritesTimeout), syncapi.WithRoomEventDelayFromEnv(),
		syncapi.WithUnreadCounts(cfg.SyncAPI.UnreadCounts),
		syncapi.WithSyncV3(cfg.SyncAPI.V3.SessionIdleTimeout, cfg.SyncAPI.V3.MaxSessionsPerDevice, cfg.SyncAPI.V3.MaxSessions),
		syncapi.WithKeyServer(ksinthttp.NewClient(cfg.KeyServer.InternalAPIURL, cfg.Global.InternalAPISecret)),
		syncapi.WithEDUServer(eduinthttp.NewClient(cfg.EDUServer.InternalAPIURL, cfg.Global.InternalAPISecret)))
	if err != nil {
		return err
	}
	s.SetDraining(p.Base.Draining()) // long-polls answer at once when shutdown begins
	// Registered after the database and the event log, so the consumers stop before they close.
	p.Base.AddShutdownHook("syncapi consumers (topics 1, 2, 3)", func(context.Context) error { return s.Stop() })
	p.Base.Logger.WithField("instance", instance).WithField("consumer_group", consumerGroup(instance)).Info("sync instance")
	return nil
}
