// Package appservice wires the appservice component (Tier 2): application services
// (bridges, bots that manage many users). It loads and checks their registration files
// (app_service.config_files), consumes topic 2 (roomserver → syncapi, with its own
// consumer group "appservice") into a persisted queue per service and pushes the queue
// as transactions (PUT /_matrix/app/v1/transactions/{txnId}); it serves arrow 10
// (clientapi → appservice: the ping, user and alias queries). Numbers as docs/wiring.md.
package appservice

import (
	"context"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/internal"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Backoff is the retry schedule of a service that failed.
type Backoff = internal.Backoff

// DefaultBackoff is 1s doubling up to 5 minutes, with jitter.
var DefaultBackoff = internal.DefaultBackoff

// ConsumerGroup is the component's group on topic 2.
const ConsumerGroup = internal.ConsumerGroup

// LoadRegistrations loads and checks the registration files of cfg
// (app_service.config_files). Every component that needs them loads the same files.
func LoadRegistrations(cfg *config.Config) (*api.Registrations, error) {
	return api.LoadRegistrations(cfg.AppService.ConfigFiles, cfg.Global.ServerName)
}

// AppService is a built appservice component: its API (arrow 10) and its topic 2
// consumer and senders.
type AppService struct {
	api      *internal.API
	queues   *internal.Queues
	consumer *internal.Consumer
	edus     *internal.EDUConsumer
	keys     *internal.KeyChangeConsumer
}

// RoomServer is what the component asks the roomserver (arrow 23, for MSC3202 device
// lists): the rooms a user is joined to, and a room's current state;
// roomserver/api.RoomserverAPI and its inthttp client implement it.
type RoomServer = internal.RoomServer

// KeyCounts is the keyserver as the senders ask it (arrow 24: the devices with keys of a
// service's users, and their one-time key counts and unused fallback key types, for
// MSC3202 transactions); keyserver/api.KeyServerAPI and its inthttp client implement it.
type KeyCounts = internal.KeyCounts

// New migrates the component's tables in db and builds it for regs. backoff zero means
// DefaultBackoff. Nothing runs until Run.
func New(ctx context.Context, db *sqlutil.DB, regs *api.Registrations, backoff Backoff) (*AppService, error) {
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	if backoff == (Backoff{}) {
		backoff = DefaultBackoff
	}
	bridge := internal.NewBridge()
	q := internal.NewQueues(sdb, bridge, regs, backoff)
	c := internal.NewConsumer(sdb, q, regs)
	return &AppService{
		api:      &internal.API{Regs: regs, Bridge: bridge, DB: sdb},
		queues:   q,
		consumer: c,
		edus:     internal.NewEDUConsumer(sdb, q, regs, c),
		keys:     internal.NewKeyChangeConsumer(sdb, q, regs, c, nil),
	}, nil
}

// SetRoomServer gives the consumers the roomserver (arrow 23): the device-list consumer
// asks which rooms a user whose keys changed is joined to (without it only the services'
// own users' changes are sent), the topic 2 consumer whether a user who left a room still
// shares one with a service (device_lists.left; without it left stays empty). Call it
// before Run and RunKeyChanges.
func (a *AppService) SetRoomServer(rooms RoomServer) {
	a.keys.SetRooms(rooms)
	a.consumer.SetRooms(rooms)
}

// SetKeyServer gives the senders the keyserver (arrow 24): transactions to services with
// org.matrix.msc3202 then carry the key counts of their sender's and named users' devices
// whose counts changed. Call it before Run.
func (a *AppService) SetKeyServer(keys KeyCounts) { a.queues.SetKeyCounts(keys) }

// RunKeyChanges consumes topic (the full name of topic 7, the keyserver's key changes)
// under the group "appservice" until ctx ends: device-list changes for the services with
// org.matrix.msc3202 (MSC3202), queued with the events. Run it beside Run.
func (a *AppService) RunKeyChanges(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return a.keys.Run(ctx, consumer, topic)
}

// RunEDUs consumes topic (the full name of topic 3, the eduserver's output) under the
// group "appservice" until ctx ends: typing, receipts and presence for the services with
// receive_ephemeral, to-device messages for those with org.matrix.msc3202 or
// push_to_device (MSC2409/MSC3202), queued with the events. Run it beside Run.
func (a *AppService) RunEDUs(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return a.edus.Run(ctx, consumer, topic)
}

// API is the direct (monolith) implementation of api.AppServiceAPI.
func (a *AppService) API() api.AppServiceAPI { return a.api }

// Run resumes every service with queued events, then consumes topic (the full name of
// topic 2) until ctx ends, and waits for the senders to stop.
func (a *AppService) Run(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	if err := a.queues.Start(ctx); err != nil {
		return err
	}
	defer a.queues.Wait()
	return a.consumer.Run(ctx, consumer, topic)
}

// Tier1Auth is how a Tier 1 process other than the clientapi (the syncapi's, the
// mediaapi's) accepts the services' as_tokens: it loads cfg's registrations, returns
// users wrapped so that QueryAccessToken knows them (api.WithASTokens) and puts each
// request's ?user_id= / ?device_id= in its context on routers (api.Middleware).
func Tier1Auth(cfg *config.Config, users userapi.UserAPI, routers ...*mux.Router) (userapi.UserAPI, error) {
	regs, err := LoadRegistrations(cfg)
	if err != nil {
		return nil, err
	}
	for _, r := range routers {
		r.Use(api.Middleware)
	}
	return api.WithASTokens(users, regs), nil
}
