// Package eduserver wires the eduserver component (Tier 2): typing notifications, read
// receipts, presence and send-to-device messages. The clientapi calls it over arrow 6,
// the federationapi over arrow 5 (other servers' EDUs), the syncapi over arrow 18
// (set_presence, read-your-writes); it asks the roomserver over arrow 19 and produces
// topic 3 (eduserver → syncapi) and topic 5 (eduserver → federationsender) through its
// transactional outbox. Numbers as docs/wiring.md.
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

// Federation is the eduserver's federation side (topic 5, arrows 19 and U): set
// EDUServer.Fed before the first call.
type Federation = internal.Federation

// NewInternalAPI migrates the eduserver's tables in db and returns the direct (monolith)
// implementation for serverName's users. Its topic 3 records are staged on outbox, which
// must keep its rows in db, under topicEDU, the full (prefixed) name of topic 3; the caller
// runs the outbox relay and RunPruner.
func NewInternalAPI(ctx context.Context, db *sqlutil.DB, serverName string, outbox eventlog.Outbox, topicEDU string) (*EDUServer, error) {
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	e := internal.New(sdb, serverName, outbox, topicEDU)
	// Read your writes (arrow 18): writes from before this start are covered by a floor.
	pos, err := sdb.Position(ctx)
	if err != nil {
		return nil, err
	}
	e.SetWritesFloor(pos)
	return e, nil
}
