package setup

import (
	"context"
	"fmt"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/kafka"
)

// AllTopics are topics 1–6 of ARCHITECTURE.md §2 and topic 7 (keyserver → syncapi,
// docs/wiring.md), without prefix.
var AllTopics = []string{eventlog.TopicAccountData, eventlog.TopicRoomEvent, eventlog.TopicEDU,
	eventlog.TopicMembership, eventlog.TopicEDUFederation, eventlog.TopicPDUFederation, eventlog.TopicKeyChange}

// OpenEventLog opens the event log backend the config names (ARCHITECTURE.md §5): Kafka
// (global.event_log.kafka, with its offset reset policy and replication factor), or the
// embedded log in the event log's database. It registers the log's closing as a shutdown
// hook and creates topics 1–6 with the configured prefix and partition count. The monolith
// and every polylith binary open their log through it.
func (b *Base) OpenEventLog(ctx context.Context) (eventlog.Log, error) {
	el := b.Cfg.Global.EventLog
	reset, err := eventlog.ParseOffsetReset(el.Kafka.OffsetResetPolicy)
	if err != nil {
		return nil, err
	}
	var log eventlog.Log
	switch el.Backend {
	case config.EventLogKafka:
		log, err = kafka.New(kafka.Config{Brokers: el.Kafka.Brokers, Reset: reset, ClientID: "axon-" + b.Component,
			ReplicationFactor: int16(el.Kafka.ReplicationFactor)})
	default:
		db, derr := b.OpenDatabase(config.ComponentEventLog)
		if derr != nil {
			return nil, derr
		}
		log, err = embedded.New(ctx, db, embedded.Config{Reset: reset})
	}
	if err != nil {
		return nil, fmt.Errorf("event log: %w", err)
	}
	b.AddShutdownHook("eventlog", func(context.Context) error { return log.Close() })
	topics := make([]string, 0, len(AllTopics))
	for _, t := range AllTopics {
		topics = append(topics, b.Cfg.TopicName(t))
	}
	if err := log.EnsureTopics(ctx, el.Kafka.Partitions, topics...); err != nil {
		return nil, fmt.Errorf("event log: creating topics: %w", err)
	}
	return log, nil
}
