package polylith

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/setup"
)

// Public describes a Tier 1 binary (ARCHITECTURE.md §1: clientapi, syncapi, …) that faces
// the network: it serves the component's public routes, /health and /metrics on the
// section's public_listen, and no internal API (none of the Tier 1 components has one yet;
// its arrows all go out, to the Tier 2 binaries).
type Public struct {
	// Name is the binary's name, for flags and messages ("axon-sync-api").
	Name string
	// Component is the config.Component* name the binary runs.
	Component string
	// Flags, when set, registers the binary's own flags on fs before parsing (besides the
	// shared -config and -public-bind).
	Flags func(fs *flag.FlagSet)
	// Configure, when set, adjusts the loaded configuration once the flags are parsed,
	// before it is validated (e.g. a per-instance database).
	Configure func(cfg *config.Config) error
	// Wire builds the component on the process: it registers its public routes on the
	// base's public routers and starts its consumers (p.Go).
	Wire Wire
}

// PublicProcess is a started Tier 1 binary.
type PublicProcess struct {
	*Process
	// PublicAddr is where the public routes are served.
	PublicAddr net.Addr
}

// MainPublic is a Tier 1 binary's main: it reads -config (required) and -public-bind (an
// address that overrides <section>.public_listen, so several instances can run from one
// config file) plus the binary's own flags, starts the component with StartPublic and runs
// until SIGINT/SIGTERM, then shuts down gracefully. It returns the exit status: 2 for bad
// flags, 1 for a failure.
func MainPublic(b Public, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(b.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the config file every Axon binary shares (required)")
	publicBind := fs.String("public-bind", "", "address to serve the public routes on (overrides the section's public_listen)")
	metricsBind := fs.String("metrics-bind", "", "address to serve /metrics and /health on, apart from the public routes (default: none)")
	if b.Flags != nil {
		b.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments: %v\n", b.Name, fs.Args())
		return 2
	}
	if *configPath == "" {
		fmt.Fprintf(stderr, "%s: -config is required\n", b.Name)
		fs.Usage()
		return 2
	}
	cfg, err := loadPublicConfig(*configPath, b.Component, *publicBind, b.Configure)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", b.Name, err)
		return 1
	}
	p, err := StartPublic(cfg, b.Component, b.Wire)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", b.Name, err)
		return 1
	}
	if *metricsBind != "" && cfg.Global.Metrics.Enabled {
		addr, err := p.Base.ServeMetrics(*metricsBind)
		if err != nil {
			_ = p.Base.Shutdown(context.Background())
			fmt.Fprintf(stderr, "%s: %v\n", b.Name, err)
			return 1
		}
		p.Base.Logger.WithField("addr", addr.String()).Info("metrics served")
	}
	p.Base.Logger.WithField("public", p.PublicAddr.String()).Info(b.Name + " started")
	p.Base.LogStartup(StartupLines(cfg, b.Component))
	if err := p.Base.RunUntilSignal(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", b.Name, err)
		return 1
	}
	return 0
}

// loadPublicConfig reads the file, applies -public-bind and configure, and validates.
func loadPublicConfig(path, component, publicBind string, configure func(*config.Config) error) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if publicBind != "" {
		pl := PublicListen(cfg, component)
		if pl == nil {
			return nil, fmt.Errorf("-public-bind: component %q has no public listener", component)
		}
		*pl = publicBind
	}
	if configure != nil {
		if err := configure(cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// PublicListen returns the public_listen setting of a Tier 1 component, or nil for a
// component without public routes.
func PublicListen(cfg *config.Config, component string) *string {
	switch component {
	case config.ComponentClientAPI:
		return &cfg.ClientAPI.PublicListen
	case config.ComponentSyncAPI:
		return &cfg.SyncAPI.PublicListen
	case config.ComponentFederationAPI:
		return &cfg.FederationAPI.PublicListen
	case config.ComponentMediaAPI:
		return &cfg.MediaAPI.PublicListen
	}
	return nil
}

// StartPublic builds the process base for a Tier 1 component, wires it and serves its
// public routes (with /health and /metrics; never /api) on the section's public_listen.
// On an error everything opened so far is shut down again.
func StartPublic(cfg *config.Config, component string, wire Wire) (*PublicProcess, error) {
	pl := PublicListen(cfg, component)
	if pl == nil {
		return nil, fmt.Errorf("component %q has no public listener", component)
	}
	base, err := setup.NewBase(cfg, component)
	if err != nil {
		return nil, err
	}
	p := &PublicProcess{Process: &Process{Base: base, Cfg: cfg, Component: component}}
	fail := func(err error) (*PublicProcess, error) {
		_ = base.Shutdown(context.Background())
		return nil, err
	}
	if err := wire(p.Process); err != nil {
		p.waitHook()
		return fail(fmt.Errorf("%s: %w", component, err))
	}
	// Registered after every database and the event log, so it runs before they close.
	p.waitHook()
	p.PublicAddr, err = base.ServePublic(*pl)
	if err != nil {
		return fail(err)
	}
	return p, nil
}
