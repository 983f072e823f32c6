// Package eventlog is the log that carries Axon's topics 1–6 between components
// (ARCHITECTURE.md §5). Two backends implement it: kafka (github.com/IBM/sarama) for the
// polylith, and embedded (a durable log kept in the server's own database) for the monolith.
//
// Guarantees both backends give, and the shared test suite proves: at-least-once delivery,
// order per Key (the room ID), durable consumer offsets committed only after the handler
// succeeded, and — through the Outbox — no message whose producing transaction committed is
// ever lost, even if the process dies between the commit and the publish.
package eventlog

import (
	"context"
	"database/sql"
)

// Message is one log record. Keep it small: big state goes by event ID, never inline
// (Dendrite's issue #1620, a 26 MB room event that Kafka refused).
type Message struct {
	// Topic is the full topic name (with the configured prefix).
	Topic string
	// Key orders messages: all messages with one key are delivered in the order published.
	// Room events use the room ID; per-user streams the user ID.
	Key string
	// Value is the payload, usually JSON.
	Value []byte
	// Headers are optional small string headers.
	Headers map[string]string
	// Offset is set on delivery: the backend's position of the message in its partition. It
	// is for logging and metrics only; it is never a sync position (those are assigned by
	// the producer and carried in Value, so they survive a recreated topic).
	Offset int64
	// Partition is set on delivery.
	Partition int32
}

// Handler processes one delivered message. Returning nil commits it; returning an error
// makes the consumer retry the same message (with backoff) before going on with that key.
// Handlers must be idempotent: after a crash a message may be delivered again.
type Handler func(ctx context.Context, msg Message) error

// BatchHandler processes a run of consecutive messages of one Key, in the order published,
// as one unit: returning nil commits them all; returning an error makes the consumer retry
// the whole run (with backoff) before going on with that key. A run holds only messages
// already waiting for the key when the call starts (the consumer never waits to fill one),
// so a lone message goes alone. Like a Handler it must be idempotent.
type BatchHandler func(ctx context.Context, msgs []Message) error

// Batch turns a Handler into a BatchHandler that handles a run's messages one by one and
// stops at the first error (the whole run is then retried, so h must be idempotent).
func Batch(h Handler) BatchHandler {
	return func(ctx context.Context, msgs []Message) error {
		for _, m := range msgs {
			if err := h(ctx, m); err != nil {
				return err
			}
		}
		return nil
	}
}

// Producer publishes messages. Publish returns once the log has stored them: consumers can
// read them and a crash of any process does not lose them. Unless the producer is also a
// Syncer, they survive power loss by then too.
type Producer interface {
	Publish(ctx context.Context, msgs ...Message) error
	Close() error
}

// Syncer is a Producer whose Publish may return before its messages would survive power
// loss (the embedded log on SQLite writes them without an fsync of their own). Sync returns
// once everything published before the call does. The outbox calls it before it deletes
// the rows it relayed, so a message leaves the producing component's database only when the
// log holds it durably (ARCHITECTURE.md §5): one fsync per deferred delete instead of one
// per publish.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Consumer delivers a topic's messages to a handler as a member of a consumer group.
type Consumer interface {
	// Consume runs until ctx is done (returning nil) or a fatal error. Messages of one Key
	// are handled in order, one at a time; different keys may be handled concurrently, so
	// one slow room never stalls the others. Offsets are committed after the handler returns.
	Consume(ctx context.Context, topic, group string, h Handler) error
	// ConsumeBatch is Consume handing each key's waiting messages to h in runs of up to
	// maxBatch (at least 1): under load a key's queued messages are handled in one call (one
	// transaction of the handler's instead of one per message); a message arriving alone is
	// handed over alone, at once. Offsets are committed after the call covering them
	// returned nil. Consume is ConsumeBatch with maxBatch 1.
	ConsumeBatch(ctx context.Context, topic, group string, maxBatch int, h BatchHandler) error
	Close() error
}

// Log is a backend: it makes producers and consumers and creates topics.
type Log interface {
	Producer() Producer
	Consumer() Consumer
	// EnsureTopics creates missing topics with the given partition count.
	EnsureTopics(ctx context.Context, partitions int, topics ...string) error
	Close() error
}

// Outbox gives a producer's database transaction and its publishes one fate (the
// transactional outbox). Stage writes the messages into the producer's own database inside
// tx; after the commit, a relay publishes staged rows in order and deletes them. A process
// killed between commit and publish publishes them when it starts again.
type Outbox interface {
	Stage(ctx context.Context, tx *sql.Tx, msgs ...Message) error
	// Kick wakes the relay after a commit so staged messages go out at once.
	Kick()
	// Run relays until ctx is done.
	Run(ctx context.Context) error
}
