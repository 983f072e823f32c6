package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/kafka"
	"github.com/axon-matrix/axon/internal/setup"
)

// configFileName is the config file the monolith writes into the data directory on its
// first start when no -config is given.
const configFileName = "axon.yaml"

// monolith is a started process: its base and the address it serves on.
type monolith struct {
	base *setup.Base
	addr net.Addr
}

// loadConfig finds the configuration: -config, or DATA_DIR/axon.yaml (written with the
// defaults on first start), with -http-bind applied on top.
func loadConfig(o *options) (*config.Config, error) {
	var cfg *config.Config
	var err error
	if o.configPath != "" {
		cfg, err = config.Load(o.configPath)
	} else {
		dataDir := o.dataDir
		if dataDir == "" {
			dataDir = config.DefaultDataDir
		}
		cfg, _, err = config.LoadOrGenerateFile(filepath.Join(dataDir, configFileName), "", dataDir)
	}
	if err != nil {
		return nil, err
	}
	if o.httpBind != "" {
		cfg.Monolith.HTTPBind = o.httpBind
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// openLog opens the configured event log backend (ARCHITECTURE.md §5) and creates the
// six topics.
func openLog(ctx context.Context, base *setup.Base, cfg *config.Config) (eventlog.Log, error) {
	el := cfg.Global.EventLog
	reset, err := eventlog.ParseOffsetReset(el.Kafka.OffsetResetPolicy)
	if err != nil {
		return nil, err
	}
	var log eventlog.Log
	switch el.Backend {
	case config.EventLogKafka:
		log, err = kafka.New(kafka.Config{Brokers: el.Kafka.Brokers, Reset: reset,
			ReplicationFactor: int16(el.Kafka.ReplicationFactor)})
	default:
		db, derr := base.OpenDatabase(config.ComponentEventLog)
		if derr != nil {
			return nil, derr
		}
		log, err = embedded.New(ctx, db, embedded.Config{Reset: reset})
	}
	if err != nil {
		return nil, err
	}
	base.AddShutdownHook("eventlog", func(context.Context) error { return log.Close() })
	var topics []string
	for _, t := range []string{eventlog.TopicAccountData, eventlog.TopicRoomEvent, eventlog.TopicEDU,
		eventlog.TopicMembership, eventlog.TopicEDUFederation, eventlog.TopicPDUFederation} {
		topics = append(topics, cfg.TopicName(t))
	}
	if err := log.EnsureTopics(ctx, el.Kafka.Partitions, topics...); err != nil {
		return nil, fmt.Errorf("creating topics: %w", err)
	}
	return log, nil
}

// start wires every built component in one process and starts serving. Background loops
// (outbox relays, log consumers) run until the base's context ends at shutdown; a hook
// waits for them before the event log and the databases close.
func start(o *options) (*monolith, error) {
	cfg, err := loadConfig(o)
	if err != nil {
		return nil, err
	}
	key, _, err := cfg.LoadOrCreateSigningKey()
	if err != nil {
		return nil, err
	}
	base, err := setup.NewBase(cfg, config.ComponentMonolith)
	if err != nil {
		return nil, err
	}
	m := &monolith{base: base}
	if err := m.wire(cfg, string(key.ID), key.Private); err != nil {
		_ = base.Shutdown(context.Background())
		return nil, err
	}
	m.addr, err = base.ServePublic(cfg.Monolith.HTTPBind)
	if err != nil {
		_ = base.Shutdown(context.Background())
		return nil, err
	}
	if o.pprofBind != "" {
		paddr, err := servePprof(base, o.pprofBind)
		if err != nil {
			_ = base.Shutdown(context.Background())
			return nil, err
		}
		base.Logger.WithField("addr", paddr.String()).Info("pprof profiles served")
	}
	base.Logger.WithField("addr", m.addr.String()).WithField("server_name", cfg.Global.ServerName).Info("axon-monolith started")
	return m, nil
}
