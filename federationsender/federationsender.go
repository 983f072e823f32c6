// Package federationsender wires the federationsender component (Tier 2): everything this
// server sends to other servers on its own initiative. It consumes topic 6 (roomserver →
// federationsender: events of local senders and the servers to send them to) into a
// persisted queue per destination and sends it as transactions (PUT /send); it joins
// remote rooms for the roomserver (arrow 17, make_join/send_join) and checks the answers'
// signatures with the serverkeyapi (arrow 12). Numbers as docs/wiring.md.
package federationsender

import (
	"context"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/federationsender/internal"
	"github.com/axon-matrix/axon/federationsender/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// Backoff is the retry schedule of a destination that failed.
type Backoff = internal.Backoff

// DefaultBackoff is 2s doubling up to 10 minutes, with jitter.
var DefaultBackoff = internal.DefaultBackoff

// Config is what the federationsender needs.
type Config struct {
	// ServerName and Key: this server's name and signing key (global.private_key_path),
	// which signs join events and every federation request.
	ServerName string
	Key        signing.SigningKey
	// Client makes the outbound requests (internal/fedclient.New).
	Client *federation.Client
	// Keys is the serverkeyapi (arrow 12).
	Keys skapi.ServerKeyAPI
	// Backoff: zero for DefaultBackoff.
	Backoff Backoff
}

// FederationSender is a built federationsender: its API (arrow 17) and its topic 6
// consumer and senders.
type FederationSender struct {
	api      *internal.API
	queues   *internal.Queues
	consumer *internal.Consumer
	edus     *internal.EDUConsumer // topic 5
	// db and serverName for the topic 7 consumer (RunDeviceLists)
	db         *storage.Database
	serverName string
}

// New migrates the federationsender's tables in db and builds it. Nothing runs until Run.
func New(ctx context.Context, db *sqlutil.DB, c Config) (*FederationSender, error) {
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	if c.Backoff == (Backoff{}) {
		c.Backoff = DefaultBackoff
	}
	q := internal.NewQueues(sdb, c.Client, c.ServerName, c.Backoff)
	return &FederationSender{
		api:        &internal.API{ServerName: c.ServerName, Key: c.Key, Client: c.Client, Keys: c.Keys, Queues: q},
		queues:     q,
		consumer:   internal.NewConsumer(sdb, q, c.ServerName),
		edus:       internal.NewEDUConsumer(sdb, q, c.ServerName),
		db:         sdb,
		serverName: c.ServerName,
	}, nil
}

// API is the direct (monolith) implementation of api.FederationSenderAPI.
func (f *FederationSender) API() api.FederationSenderAPI { return f.api }

// RemoteKeys is the direct implementation of arrow 20 (keyserver → federationsender:
// other servers' users' keys).
func (f *FederationSender) RemoteKeys() api.RemoteKeysAPI { return f.api }

// Contacts is the direct implementation of arrow 8 (federationapi → federationsender: a
// server contacted us, its backoff ends).
func (f *FederationSender) Contacts() api.ContactAPI { return f.api }

// Run resumes every destination with queued PDUs, then consumes topic (the full name of
// topic 6) until ctx ends, and waits for the senders to stop.
func (f *FederationSender) Run(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	if err := f.queues.Start(ctx); err != nil {
		return err
	}
	defer f.queues.Wait()
	return f.consumer.Run(ctx, consumer, topic)
}

// RunEDUs consumes topic (the full name of topic 5: EDUs of this server's users from the
// eduserver) into the same per-destination queues until ctx ends; run it beside Run.
func (f *FederationSender) RunEDUs(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return f.edus.Run(ctx, consumer, topic)
}

// DeviceListRooms is what RunDeviceLists asks the roomserver (arrow 21: a user's joined
// rooms and their members); roomserver/api.RoomserverAPI implements it.
type DeviceListRooms = internal.DeviceListRooms

// RunDeviceLists consumes topic (the full name of topic 7: device-list changes of this
// server's users from the keyserver) into m.device_list_update EDUs for every server
// sharing a room with the user, asked of rooms, in the same per-destination queues, until
// ctx ends; run it beside Run.
func (f *FederationSender) RunDeviceLists(ctx context.Context, consumer eventlog.Consumer, topic string, rooms DeviceListRooms) error {
	return internal.NewDeviceListConsumer(f.db, f.queues, f.serverName, rooms).Run(ctx, consumer, topic)
}

// ResetBackoff makes the sender of destination retry at once if it waits after a failure
// (for arrow 8: the destination contacted us).
func (f *FederationSender) ResetBackoff(destination string) { f.queues.ResetBackoff(destination) }
