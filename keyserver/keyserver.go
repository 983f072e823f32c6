// Package keyserver wires the keyserver component (Tier 2): the end-to-end encryption
// keys of this server's devices — device keys (signed by the device), one-time keys and
// fallback keys —, its users' cross-signing keys and signatures, and their key backups.
// Its api is called by the clientapi (arrow 14: /keys/upload, /keys/query, /keys/claim,
// /keys/device_signing/upload, /keys/signatures/upload, /room_keys/…, device deletion)
// and the syncapi (arrow 16: the key counts of /sync); numbers as docs/wiring.md, "Arrows
// from 14 on". Other servers' users (federation) and device-list changes are not built
// yet.
package keyserver

import (
	"context"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/internal"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// NewInternalAPI migrates the keyserver's tables in db and returns the direct (monolith)
// implementation of api.KeyServerAPI for serverName's users.
func NewInternalAPI(ctx context.Context, db *sqlutil.DB, serverName string) (api.KeyServerAPI, error) {
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	return internal.New(sdb, serverName), nil
}
