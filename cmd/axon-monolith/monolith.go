package main

import (
	"context"
	"net"
	"path/filepath"

	"github.com/axon-matrix/axon/internal/config"
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
