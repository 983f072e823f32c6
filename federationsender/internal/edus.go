package internal

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/federationsender/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/federation"
)

// Topic 5 (eduserver → federationsender): this server's users' typing, receipts, presence
// and to-device messages for other servers. Each record is queued as one row per
// destination (storage/edus.go) and leaves in the destination's next transaction, up to
// federation.MaxTransactionEDUs EDUs beside its PDUs (queue.go). Receipts and to-device
// messages wait for as long as the destination is down; typing and presence (ephemeral)
// older than ephemeralEDUMaxAge are dropped instead of sent, so a destination that was
// backing off gets no stale typing.

// EDUConsumerGroup is the federationsender's consumer group on topic 5.
const EDUConsumerGroup = "federationsender-edus"

// ephemeralEDUMaxAge is how long typing and presence EDUs may wait for their destination.
const ephemeralEDUMaxAge = time.Minute

// EDUConsumer turns topic 5 records into queue rows. A run of records is queued in one
// database transaction before the log commits their offsets; a redelivery queues nothing
// twice (the record's ID is unique per destination).
type EDUConsumer struct {
	db     *storage.Database
	queues *Queues
	origin string
	// Now is the clock (the rows' queued_ts); tests replace it.
	Now func() time.Time
	log *logrus.Entry
}

// NewEDUConsumer returns the topic 5 consumer of origin feeding queues.
func NewEDUConsumer(db *storage.Database, queues *Queues, origin string) *EDUConsumer {
	return &EDUConsumer{db: db, queues: queues, origin: origin, Now: time.Now, log: logrus.WithField("component", "federationsender.edus")}
}

// Run consumes topic (the full, prefixed name of topic 5) until ctx is done.
func (c *EDUConsumer) Run(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return consumer.ConsumeBatch(ctx, topic, EDUConsumerGroup, federation.MaxTransactionEDUs, c.Handle)
}

// Handle queues a run of topic 5 records; an undecodable record is logged and skipped.
func (c *EDUConsumer) Handle(ctx context.Context, msgs []eventlog.Message) error {
	var rows []storage.QueuedEDU
	var dests []string
	now := c.Now().UnixMilli()
	for _, m := range msgs {
		var out eduapi.OutputFederationEDU
		if err := json.Unmarshal(m.Value, &out); err != nil || out.ID <= 0 || out.EDU.Type == "" || len(out.EDU.Content) == 0 {
			c.log.WithError(err).WithField("offset", m.Offset).Error("skipping malformed topic 5 record")
			continue
		}
		for _, d := range out.Destinations {
			if d == c.origin || matrix.ValidateServerName(d) != nil {
				continue
			}
			rows = append(rows, storage.QueuedEDU{Destination: d, EDUID: out.ID, Type: out.EDU.Type, JSON: out.EDU.Content,
				Ephemeral: eduapi.Ephemeral(out.EDU.Type), QueuedTS: now})
			if !slices.Contains(dests, d) {
				dests = append(dests, d)
			}
		}
	}
	if err := c.db.QueueEDUs(ctx, rows); err != nil {
		return err
	}
	for _, d := range dests {
		c.queues.Notify(d)
	}
	return nil
}

// peekEDUs returns up to limit of destination's oldest queued EDUs for the next
// transaction, after dropping its stale ephemeral ones. The drop (a write) runs only when
// the rows read hold a stale one, so a busy destination's cycle does not take the
// database's writer for it; a stale row further back is dropped once it comes up.
func (q *Queues) peekEDUs(ctx context.Context, destination string, limit int) ([]storage.EDURow, error) {
	cutoff := time.Now().Add(-ephemeralEDUMaxAge).UnixMilli()
	rows, err := q.db.PeekEDUs(ctx, destination, limit)
	if err != nil || !slices.ContainsFunc(rows, func(r storage.EDURow) bool { return r.Ephemeral && r.QueuedTS < cutoff }) {
		return rows, err
	}
	if n, err := q.db.DropStaleEDUs(ctx, destination, cutoff); err != nil {
		return nil, err
	} else if n > 0 {
		q.log.WithField("destination", destination).WithField("count", n).Debug("dropped stale typing and presence EDUs")
	}
	return q.db.PeekEDUs(ctx, destination, limit)
}

// deleteEDUs removes the EDUs a transaction delivered (or the destination refused).
func (q *Queues) deleteEDUs(ctx context.Context, destination string, edus []storage.EDURow) error {
	ids := make([]int64, len(edus))
	for i, e := range edus {
		ids[i] = e.ID
	}
	return q.db.DeleteEDUs(ctx, destination, ids)
}
