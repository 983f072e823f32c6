// Package kafka is the event log on Apache Kafka through github.com/IBM/sarama, for the
// polylith (ARCHITECTURE.md §5). It carries topics 1–6.
//
// Producing: an idempotent SyncProducer with acks=all, partitioning by a hash of the Key
// (the room ID), so each room's messages stay in one partition and in order; Publish
// returns once the broker has acknowledged them.
//
// Consuming: a sarama ConsumerGroup. Behind each partition claim the messages are
// dispatched per Key to their own goroutines, so one slow room never stalls the rooms that
// share its partition; the offset marked for commit never passes the lowest unfinished
// message of the partition; failing handlers are retried with backoff; a rebalance stops
// the claim, waits for running handlers and leaves the rest to the partition's next owner.
//
// Offset reset: when a group has no committed offset for a partition, or the committed one
// is out of range (retention deleted the messages, or the topic was deleted and recreated:
// Dendrite's issue #1673), the group starts at Config.Reset: earliest (default) or latest.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/internal/dispatch"
)

// Config configures the Kafka backend.
type Config struct {
	// Brokers are the bootstrap broker addresses (host:port). Required.
	Brokers []string
	// ClientID names this client in the broker's logs and quotas (default "axon").
	ClientID string
	// Version is the Kafka protocol version to speak (default "3.0.0"; at least 0.11 for
	// the idempotent producer).
	Version string
	// Reset says where a group without a usable committed offset starts (default earliest).
	Reset eventlog.OffsetReset
	// ReplicationFactor of topics EnsureTopics creates (default -1: the broker's
	// default.replication.factor).
	ReplicationFactor int16
	// MaxActiveKeys caps concurrent handler calls per partition claim (default 16).
	MaxActiveKeys int
	// MaxPending caps delivered but unfinished messages per partition claim (default 1024).
	MaxPending int
	// Backoff is the wait between retries of a failing handler.
	Backoff dispatch.Backoff
	// SessionTimeout and HeartbeatInterval of group members (defaults 10s and 3s).
	SessionTimeout, HeartbeatInterval time.Duration
	// CommitInterval is how often marked offsets are sent to the broker (default 1s); they
	// are also sent when a claim ends.
	CommitInterval time.Duration
}

// Log is the Kafka backend. It implements eventlog.Log.
type Log struct {
	cfg      Config
	sarama   *sarama.Config
	producer sarama.SyncProducer
	log      *logrus.Entry

	// mu guards closed and producer; Publish holds it for reading across a send so
	// neither Close nor a producer replacement closes the producer under a send (sarama
	// panics on a send to a closed producer). producer is nil after a failed send until
	// the next Publish makes a new one (producer.go).
	mu     sync.RWMutex
	closed bool
}

// ErrClosed is returned by Publish after the log was closed.
var ErrClosed = errors.New("kafka eventlog: closed")

var _ eventlog.Log = (*Log)(nil)

// New connects to the brokers and starts the producer.
func New(cfg Config) (*Log, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka eventlog: no brokers configured")
	}
	sc, err := saramaConfig(&cfg)
	if err != nil {
		return nil, err
	}
	p, err := sarama.NewSyncProducer(cfg.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("kafka eventlog: starting producer: %w", err)
	}
	return &Log{cfg: cfg, sarama: sc, producer: p, log: logrus.WithField("eventlog", "kafka")}, nil
}

// saramaConfig fills cfg's defaults and builds the sarama configuration.
func saramaConfig(cfg *Config) (*sarama.Config, error) {
	if cfg.ClientID == "" {
		cfg.ClientID = "axon"
	}
	if cfg.Version == "" {
		cfg.Version = "3.0.0"
	}
	if cfg.Reset == "" {
		cfg.Reset = eventlog.ResetEarliest
	}
	if cfg.ReplicationFactor == 0 {
		cfg.ReplicationFactor = -1
	}
	if cfg.Backoff.Min <= 0 {
		cfg.Backoff = dispatch.DefaultBackoff
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	reset, err := eventlog.ParseOffsetReset(string(cfg.Reset))
	if err != nil {
		return nil, err
	}
	version, err := sarama.ParseKafkaVersion(cfg.Version)
	if err != nil {
		return nil, fmt.Errorf("kafka eventlog: %w", err)
	}

	sc := sarama.NewConfig()
	sc.ClientID = cfg.ClientID
	sc.Version = version
	sc.Metadata.AllowAutoTopicCreation = false

	// Producer: idempotent, acks from all in-sync replicas, one request in flight so
	// retries cannot reorder, the key's hash picks the partition.
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Net.MaxOpenRequests = 1
	// Bounded blocking (docs/eventlog.md, "Broker outage"): while no broker answers a send
	// fails after Retry.Max rounds of Retry.Backoff plus one metadata refresh each (a few
	// seconds), and the caller (the outbox relay) retries with its own backoff on a fresh
	// producer. Enough retries to ride out a leader election.
	sc.Producer.Retry.Max = 5
	sc.Producer.Retry.Backoff = 200 * time.Millisecond
	sc.Metadata.Retry.Max = 1
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	sc.Net.DialTimeout = 5 * time.Second
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Partitioner = sarama.NewHashPartitioner

	// Consumer group. After a broker outage a partition consumer retries its fetch every
	// Consumer.Retry.Backoff and a failed join every Rebalance.Retry.Backoff (sarama's
	// defaults are 2 s each); Consume's own rejoin wait is capped at maxRejoinDelay.
	sc.Consumer.Retry.Backoff = 500 * time.Millisecond
	sc.Consumer.Group.Rebalance.Retry.Backoff = 500 * time.Millisecond
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	if reset == eventlog.ResetLatest {
		sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	sc.Consumer.Group.ResetInvalidOffsets = true
	sc.Consumer.Offsets.AutoCommit.Enable = true
	sc.Consumer.Offsets.AutoCommit.Interval = cfg.CommitInterval
	if cfg.SessionTimeout > 0 {
		sc.Consumer.Group.Session.Timeout = cfg.SessionTimeout
	}
	if cfg.HeartbeatInterval > 0 {
		sc.Consumer.Group.Heartbeat.Interval = cfg.HeartbeatInterval
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("kafka eventlog: %w", err)
	}
	return sc, nil
}

// Producer returns the log's producer (one idempotent producer, safe for concurrent use).
func (l *Log) Producer() eventlog.Producer { return &producer{log: l} }

// Consumer returns a consumer; each Consume call is its own group member.
func (l *Log) Consumer() eventlog.Consumer { return &consumer{log: l} }

// EnsureTopics creates the missing topics with the given partition count and waits until
// every partition has a leader. Existing topics are left as they are.
func (l *Log) EnsureTopics(ctx context.Context, partitions int, topics ...string) error {
	if partitions <= 0 {
		return fmt.Errorf("kafka eventlog: partition count must be positive, got %d", partitions)
	}
	admin, err := sarama.NewClusterAdmin(l.cfg.Brokers, l.sarama)
	if err != nil {
		return fmt.Errorf("kafka eventlog: admin client: %w", err)
	}
	defer admin.Close()
	existing, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("kafka eventlog: listing topics: %w", err)
	}
	for _, t := range topics {
		if _, ok := existing[t]; ok {
			continue
		}
		err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: l.cfg.ReplicationFactor}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("kafka eventlog: creating topic %s: %w", t, err)
		}
	}
	return l.waitForLeaders(ctx, topics)
}

// waitForLeaders polls metadata until every partition of topics has a leader, so the first
// publish after EnsureTopics does not race the topic's creation.
func (l *Log) waitForLeaders(ctx context.Context, topics []string) error {
	client, err := sarama.NewClient(l.cfg.Brokers, l.sarama)
	if err != nil {
		return err
	}
	defer client.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready := true
		if err := client.RefreshMetadata(topics...); err != nil {
			ready = false
		} else {
			for _, t := range topics {
				parts, err := client.Partitions(t)
				if err != nil || len(parts) == 0 {
					ready = false
					break
				}
				for _, p := range parts {
					if _, err := client.Leader(t, p); err != nil {
						ready = false
						break
					}
				}
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kafka eventlog: topics %v have no leaders after 30s", topics)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close closes the producer. Consumers end when their contexts do.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.producer == nil {
		return nil
	}
	return l.producer.Close()
}
