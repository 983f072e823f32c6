// Package appservice wires the appservice component (Tier 2): application services
// (bridges, bots that manage many users). It loads and checks their registration files
// (app_service.config_files), consumes topic 2 (roomserver → syncapi, with its own
// consumer group "appservice") into a persisted queue per service and pushes the queue
// as transactions (PUT /_matrix/app/v1/transactions/{txnId}); it serves arrow 10
// (clientapi → appservice: the ping, user and alias queries). Numbers as docs/wiring.md.
package appservice

import (
	"context"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/internal"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
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
}

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
	return &AppService{
		api:      &internal.API{Regs: regs, Bridge: bridge},
		queues:   q,
		consumer: internal.NewConsumer(sdb, q, regs),
	}, nil
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
