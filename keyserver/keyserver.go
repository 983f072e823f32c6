// Package keyserver wires the keyserver component (Tier 2): the end-to-end encryption
// keys of this server's devices — device keys (signed by the device), one-time keys and
// fallback keys —, its users' cross-signing keys and signatures, and their key backups.
// Its api is called by the clientapi (arrow 14: /keys/upload, /keys/query, /keys/claim,
// /keys/device_signing/upload, /keys/signatures/upload, /room_keys/…, device deletion)
// and the syncapi (arrow 16: the key counts of /sync); numbers as docs/wiring.md, "Arrows
// from 14 on". It produces topic 7 (keyserver → syncapi: device-list changes) when given
// WithKeyChanges, and serves federation's key endpoints through the same api (arrow 15).
package keyserver

import (
	"context"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/internal"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// Option changes a setting of NewInternalAPI.
type Option func(*internal.KeyServer)

// WithKeyChanges makes the keyserver produce topic 7 (keyserver → syncapi: device-list
// and cross-signing changes) on outbox, which must keep its rows in the keyserver's db,
// under topicKeyChange, the full (prefixed) name of topic 7; the caller runs the outbox
// relay. Without it no change is announced (tests of other components).
func WithKeyChanges(outbox eventlog.Outbox, topicKeyChange string) Option {
	return func(k *internal.KeyServer) { k.SetKeyChanges(outbox, topicKeyChange) }
}

// WithRemoteKeys makes /keys/query and /keys/claim ask other servers for their users'
// keys through the federationsender (arrow 20, keyserver → federationsender). Without it
// other servers' users are failures (503).
func WithRemoteKeys(remote fsapi.RemoteKeysAPI) Option {
	return func(k *internal.KeyServer) { k.SetRemoteKeys(remote) }
}

// WithSharedRooms turns on the cache of other servers' users' keys (arrow 22, keyserver
// → roomserver: whether a remote user shares a room with this server, so their server
// keeps the cache fresh with m.device_list_update). It needs WithRemoteKeys too; without
// either every /keys/query for a remote user asks their server.
func WithSharedRooms(rooms internal.SharedRoomsAPI) Option {
	return func(k *internal.KeyServer) { k.SetSharedRooms(rooms) }
}

// NewInternalAPI migrates the keyserver's tables in db and returns the direct (monolith)
// implementation of api.KeyServerAPI for serverName's users.
func NewInternalAPI(ctx context.Context, db *sqlutil.DB, serverName string, opts ...Option) (api.KeyServerAPI, error) {
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	k := internal.New(sdb, serverName)
	for _, o := range opts {
		o(k)
	}
	return k, nil
}
