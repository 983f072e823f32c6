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

// monolith is a started process: its base, the address it serves on and, when metrics
// have a listener of their own (monolith.metrics_bind), that one's address.
type monolith struct {
	base        *setup.Base
	addr        net.Addr
	metricsAddr net.Addr
	// httpsAddr is the TLS listener's address (monolith.https_bind), nil without one.
	httpsAddr net.Addr
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
	if o.metricsBind != "" {
		cfg.Monolith.MetricsBind = o.metricsBind
	}
	if o.httpsBind != "" {
		cfg.Monolith.HTTPSBind = o.httpsBind
	}
	if o.tlsCert != "" {
		cfg.Monolith.TLSCert = o.tlsCert
	}
	if o.tlsKey != "" {
		cfg.Monolith.TLSKey = o.tlsKey
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
	key, keyCreated, err := cfg.LoadOrCreateSigningKey()
	if err != nil {
		return nil, err
	}
	base, err := setup.NewBase(cfg, config.ComponentMonolith)
	if err != nil {
		return nil, err
	}
	if o.logOutput != nil {
		base.Logger.Logger.SetOutput(o.logOutput)
	}
	// The data directory remembers the server name (and every database does, in
	// OpenDatabase): another server name is refused before anything is opened, and the
	// directory records it once the databases accepted it.
	recordIdentity, err := base.CheckDataDir()
	if err != nil {
		_ = base.Shutdown(context.Background())
		return nil, err
	}
	m := &monolith{base: base}
	if err := m.wire(cfg, string(key.ID), key.Private); err != nil {
		_ = base.Shutdown(context.Background())
		return nil, err
	}
	if err := recordIdentity(); err != nil {
		_ = base.Shutdown(context.Background())
		return nil, err
	}
	m.addr, err = base.ServePublic(cfg.Monolith.HTTPBind)
	if err != nil {
		_ = base.Shutdown(context.Background())
		return nil, err
	}
	if cfg.Monolith.HTTPSBind != "" {
		// Federation (/_matrix/federation, /_matrix/key) and the client API over TLS, for
		// other servers: the same routes as the plain listener.
		m.httpsAddr, err = base.ServeTLS(cfg.Monolith.HTTPSBind, cfg.Monolith.TLSCert, cfg.Monolith.TLSKey, base.PublicHandler())
		if err != nil {
			_ = base.Shutdown(context.Background())
			return nil, err
		}
	}
	if o.pprofBind != "" {
		paddr, err := servePprof(base, o.pprofBind)
		if err != nil {
			_ = base.Shutdown(context.Background())
			return nil, err
		}
		base.Logger.WithField("addr", paddr.String()).Info("pprof profiles served")
	}
	if cfg.Global.Metrics.Enabled && cfg.Monolith.MetricsBind != "" {
		if m.metricsAddr, err = base.ServeMetrics(cfg.Monolith.MetricsBind); err != nil {
			_ = base.Shutdown(context.Background())
			return nil, err
		}
	}
	base.LogStartup(startupLines(cfg, m, configPathOf(o), keyCreated))
	return m, nil
}
