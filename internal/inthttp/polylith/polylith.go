// Package polylith is what the per-component binaries of the polylith (ARCHITECTURE.md §4:
// axon-user-api, axon-roomserver, …) share around internal/setup: the -config flag, the
// event log that carries topics 1–6 (ARCHITECTURE.md §5) opened from the config, the
// background tasks (outbox relays, consumers) that shutdown waits for, and the internal
// API listener — the transport of arrows 2–13 — guarded by global.internal_api_secret
// (internal/inthttp). A binary's main is then:
//
//	func main() {
//		os.Exit(polylith.Main("axon-user-api", config.ComponentUserAPI, os.Args[1:], os.Stderr, wire))
//	}
package polylith

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/internal/setup"
)

// Process is one started polylith binary running one component.
type Process struct {
	// Base is the process base: routers, databases, health, metrics, shutdown.
	Base *setup.Base
	// Cfg is the loaded and validated configuration.
	Cfg *config.Config
	// Component is the config.Component* name the binary runs.
	Component string
	// InternalAddr is where the internal API listens (set once Start returns).
	InternalAddr net.Addr

	log eventlog.Log
	wg  sync.WaitGroup
}

// Wire builds the component on p: it opens what it needs (p.Base.OpenDatabase,
// p.EventLog, p.Outbox) and registers its internal API on p.Base.InternalAPIMux.
type Wire func(p *Process) error

// Main is a polylith binary's main: it reads -config (required), starts the component with
// Start and runs until SIGINT/SIGTERM, then shuts down gracefully. It returns the exit
// status: 2 for bad flags, 1 for a failure.
func Main(name, component string, args []string, stderr io.Writer, wire Wire) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the config file every Axon binary shares (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments: %v\n", name, fs.Args())
		return 2
	}
	if *configPath == "" {
		fmt.Fprintf(stderr, "%s: -config is required\n", name)
		fs.Usage()
		return 2
	}
	cfg, err := LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	p, err := Start(cfg, component, wire)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	p.Base.Logger.WithField("internal_api", p.InternalAddr.String()).Info(name + " started")
	p.Base.LogStartup(StartupLines(cfg, component))
	if err := p.Base.RunUntilSignal(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

// LoadConfig reads and validates the config file.
func LoadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Start builds the process base for component, wires the component and serves its
// internal API (with /health and /metrics) on the section's internal_api_listen. It
// refuses to serve without global.internal_api_secret on a non-loopback address
// (inthttp.CheckListen). On an error everything opened so far is shut down again.
func Start(cfg *config.Config, component string, wire Wire) (*Process, error) {
	sec := cfg.ComponentSection(component)
	if sec == nil {
		return nil, fmt.Errorf("no config section for component %q", component)
	}
	if err := inthttp.CheckListen(sec.InternalAPIListen, cfg.Global.InternalAPISecret); err != nil {
		return nil, err
	}
	base, err := setup.NewBase(cfg, component)
	if err != nil {
		return nil, err
	}
	p := &Process{Base: base, Cfg: cfg, Component: component}
	fail := func(err error) (*Process, error) {
		_ = base.Shutdown(context.Background())
		return nil, err
	}
	if err := wire(p); err != nil {
		p.waitHook()
		return fail(fmt.Errorf("%s: %w", component, err))
	}
	// Registered after every database and the event log, so it runs before they close.
	p.waitHook()
	// The internal secret is checked in front of setup's handler, so a refused call is
	// 401 M_UNAUTHORIZED (inthttp.RequireSecret) like everywhere else in inthttp.
	p.InternalAddr, err = base.Serve(sec.InternalAPIListen,
		inthttp.RequireSecret(cfg.Global.InternalAPISecret, base.InternalHandler()))
	if err != nil {
		return fail(err)
	}
	return p, nil
}

func (p *Process) waitHook() {
	p.Base.AddShutdownHook("background tasks", func(context.Context) error { p.wg.Wait(); return nil })
}

// Go runs fn in the background under the base's context, which ends at shutdown once
// in-flight requests have finished; shutdown waits for fn to return before the event log
// and the databases close. An error other than the context's end is logged.
func (p *Process) Go(name string, fn func(ctx context.Context) error) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := fn(p.Base.Context()); err != nil && !errors.Is(err, context.Canceled) {
			p.Base.Logger.WithError(err).WithField("task", name).Error("background task stopped")
		}
	}()
}

// EventLog opens the configured event log backend once (kafka, or the embedded log in
// global.event_log.database), creates the six topics and closes the log at shutdown.
func (p *Process) EventLog() (eventlog.Log, error) {
	if p.log != nil {
		return p.log, nil
	}
	log, err := p.Base.OpenEventLog(context.Background())
	if err != nil {
		return nil, err
	}
	p.log = log
	return log, nil
}

// Outbox opens the transactional outbox of component in db (the component's own database,
// where its writes stage their messages) publishing to the event log, and runs its relay
// in the background.
func (p *Process) Outbox(component string) (*outbox.Outbox, error) {
	log, err := p.EventLog()
	if err != nil {
		return nil, err
	}
	db, err := p.Base.OpenDatabase(component)
	if err != nil {
		return nil, err
	}
	ob, err := outbox.NewOutbox(db, component, log.Producer())
	if err != nil {
		return nil, err
	}
	p.Go(component+" outbox relay", ob.Run)
	return ob, nil
}
