// Package roomserver wires the roomserver component (ARCHITECTURE.md §1, tier 2): the room
// DAG, event auth, room state and state resolution. Its api is used by the clientapi
// (arrow 4), the syncapi (arrow 2) and the federationapi (arrow 3); it produces topic 2
// (→ syncapi), topic 4 (→ clientapi) and topic 6 (→ federationsender) through a
// transactional outbox, and calls the federationsender for remote joins (arrow 17).
package roomserver

import (
	"context"
	"crypto/ed25519"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/internal"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// Topics are the full topic names (with the configured prefix) the roomserver produces.
type Topics = internal.Topics

// Option configures the roomserver (WithFederationSender).
type Option = internal.Option

// WithFederationSender lets local users join rooms held only by other servers, through
// the federationsender (arrow 17); without it such joins are M_NOT_FOUND.
func WithFederationSender(fs fsapi.FederationSenderAPI) Option {
	return internal.WithFederationSender(fs)
}

// NewInternalAPI migrates the roomserver's tables in db and returns the direct (monolith)
// implementation of api.RoomserverAPI. It signs local events as serverName with the key
// keyID ("ed25519:…"), and stages its outputs on outbox, which must store them in the
// same database db (the caller runs outbox.Run). The polylith runs exactly one roomserver:
// writes to a room are serialised in this process.
func NewInternalAPI(ctx context.Context, db *sqlutil.DB, serverName, keyID string, key ed25519.PrivateKey,
	outbox eventlog.Outbox, topics Topics, opts ...Option) (api.RoomserverAPI, error) {
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	return internal.New(sdb, serverName, keyID, key, outbox, topics, opts...), nil
}
