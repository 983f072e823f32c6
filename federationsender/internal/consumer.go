package internal

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/federationsender/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/matrix"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// ConsumerGroup is the federationsender's consumer group on topic 6.
const ConsumerGroup = "federationsender"

// consumeBatch is the most topic 6 records of one room queued in one database transaction.
const consumeBatch = 50

// Consumer turns topic 6 records (roomserver → federationsender: events of local senders
// for other servers) into queue rows, one per event and destination. A run of records is
// queued in one database transaction, and the log commits their offsets only after it
// (eventlog.BatchHandler), so a crash between the two queues them again, which the queue's
// uniqueness makes harmless. Only then are the destinations' senders woken.
type Consumer struct {
	db     *storage.Database
	queues *Queues
	origin string
	log    *logrus.Entry
}

// NewConsumer returns the topic 6 consumer of origin feeding queues.
func NewConsumer(db *storage.Database, queues *Queues, origin string) *Consumer {
	return &Consumer{db: db, queues: queues, origin: origin, log: logrus.WithField("component", "federationsender.consumer")}
}

// Run consumes topic (the full, prefixed name of topic 6) until ctx is done.
func (c *Consumer) Run(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return consumer.ConsumeBatch(ctx, topic, ConsumerGroup, consumeBatch, c.Handle)
}

// Handle queues a run of topic 6 records. A record that cannot be decoded is logged and
// skipped (retrying it can never succeed); a database error is returned, so the log
// delivers the run again.
func (c *Consumer) Handle(ctx context.Context, msgs []eventlog.Message) error {
	var rows []storage.QueuedPDU
	var dests []string
	var staged []time.Time // the records' commit times on the roomserver (topic6Delay)
	received := time.Now()
	for _, m := range msgs {
		var out rsapi.OutputFederationEvent
		if err := json.Unmarshal(m.Value, &out); err != nil || out.EventID == "" || len(out.Event) == 0 || out.Event[0] != '{' {
			c.log.WithError(err).WithField("offset", m.Offset).Error("skipping malformed topic 6 record")
			continue
		}
		if t, ok := eventlog.StagedAt(m); ok {
			staged = append(staged, t)
			topic6Delay.WithLabelValues("received").Observe(received.Sub(t).Seconds())
		}
		seen := map[string]bool{}
		for _, d := range out.Destinations {
			if d == c.origin || seen[d] {
				continue
			}
			seen[d] = true
			if err := matrix.ValidateServerName(d); err != nil {
				c.log.WithField("destination", d).WithField("event_id", out.EventID).Warn("skipping a destination that is no server name")
				continue
			}
			rows = append(rows, storage.QueuedPDU{Destination: d, RoomID: out.RoomID, EventID: out.EventID, JSON: out.Event})
			if !slices.Contains(dests, d) {
				dests = append(dests, d)
			}
		}
	}
	if err := c.db.QueuePDUs(ctx, rows); err != nil {
		return err
	}
	pdusQueued.Add(float64(len(rows)))
	now := time.Now()
	c.queues.times.note(rows, now)
	for _, t := range staged {
		topic6Delay.WithLabelValues("queued").Observe(now.Sub(t).Seconds())
	}
	for _, d := range dests {
		c.queues.Notify(d)
	}
	return nil
}
