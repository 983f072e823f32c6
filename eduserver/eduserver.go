// Package eduserver wires the eduserver component (Tier 2): typing notifications, read
// receipts and send-to-device messages. The clientapi calls it over arrow 6 (clientapi →
// eduserver; the federationapi will over arrow 5), and it produces topic 3 (eduserver →
// syncapi) through its transactional outbox. Presence and topic 5 (to other servers) are
// not built yet. Numbers as docs/wiring.md.
package eduserver

import (
	"context"

	"github.com/axon-matrix/axon/eduserver/internal"
	"github.com/axon-matrix/axon/eduserver/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

// EDUServer is the direct implementation of eduserver/api.EDUServerAPI, with its
// background task.
type EDUServer = internal.EDUServer

// NewInternalAPI migrates the eduserver's tables in db and returns the direct (monolith)
// implementation for serverName's users. Its topic 3 records are staged on outbox, which
// must keep its rows in db, under topicEDU, the full (prefixed) name of topic 3; the caller
// runs the outbox relay and RunPruner.
func NewInternalAPI(ctx context.Context, db *sqlutil.DB, serverName string, outbox eventlog.Outbox, topicEDU string) (*EDUServer, error) {
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	return internal.New(sdb, serverName, outbox, topicEDU), nil
}
