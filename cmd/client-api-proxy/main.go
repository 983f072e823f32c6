// Command client-api-proxy is the polylith's public entry point (ARCHITECTURE.md §4): a
// reverse proxy that routes public paths to the Tier 1 binaries (the syncapi's paths to the
// sync instances, media to the mediaapi, federation and key paths to the federationapi,
// the rest to the clientapi) and spreads sync traffic over several sync instances, sending
// requests only to upstreams whose health check passes. See package proxy for what it
// does to each request and docs/config.md (client_api_proxy) for its settings.
//
//	client-api-proxy -config axon.yaml
//
// It serves clients, federating servers, /health and /metrics on client_api_proxy.listen.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/axon-matrix/axon/cmd/client-api-proxy/proxy"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/setup"
)

// component names the process in logs and metrics.
const component = "client-api-proxy"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status: 2 for bad flags, 1 for a failure.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(component, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the config file every Axon binary shares (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *configPath == "" {
		fmt.Fprintf(stderr, "%s: -config is required and takes no other arguments\n", component)
		return 2
	}
	cfg, err := config.Load(*configPath)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", component, err)
		return 1
	}
	if err := serve(cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", component, err)
		return 1
	}
	return 0
}

// serve runs the proxy on cfg until SIGINT/SIGTERM, then drains in-flight requests.
func serve(cfg *config.Config) error {
	base, err := setup.NewBase(cfg, component)
	if err != nil {
		return err
	}
	pc := cfg.ClientAPIProxy
	var reg *prometheus.Registry
	if cfg.Global.Metrics.Enabled {
		reg = base.Registry
	}
	p, err := proxy.New(proxy.Options{
		Upstreams: map[proxy.Kind][]string{
			proxy.KindClient:     pc.ClientAPIURLs,
			proxy.KindSync:       pc.SyncAPIURLs,
			proxy.KindMedia:      pc.MediaAPIURLs,
			proxy.KindFederation: pc.FederationAPIURLs,
		},
		HealthCheckPath:     pc.HealthCheckPath,
		HealthCheckInterval: pc.HealthCheckInterval,
		HealthCheckTimeout:  pc.HealthCheckTimeout,
		ConnectTimeout:      pc.ConnectTimeout,
		Registry:            reg,
		TrustedProxies:      cfg.Global.TrustedProxyPrefixes(),
		Logger:              base.Logger,
		Draining:            base.Draining(),
		ResolveInterval:     pc.ResolveInterval, // DNS discovery of scaled replicas (docker/)
	})
	if err != nil {
		return err
	}
	// A first round of health checks before listening, so the first requests go to
	// upstreams known to be up.
	p.Resolve(base.Context())
	p.CheckNow(base.Context())
	for kind, ups := range p.Upstreams() {
		if len(ups) == 0 {
			base.Logger.WithField("kind", kind).Info("no upstream configured: its paths get 404, /health does not wait for it")
		}
		for u, ok := range ups {
			base.Logger.WithField("kind", kind).WithField("upstream", u).WithField("healthy", ok).Info("upstream")
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Run(base.Context()) }()
	base.AddShutdownHook("health checks", func(context.Context) error { wg.Wait(); return nil })
	if _, _, err := listen(base, cfg, p); err != nil {
		_ = base.Shutdown(context.Background())
		return err
	}
	return base.RunUntilSignal()
}

// listen serves the proxy on client_api_proxy.listen, where /metrics needs
// global.metrics.bearer_token (and is 404 without one), and its /metrics and /health on
// client_api_proxy.metrics_listen when that is set. It returns the public address and the
// metrics one (nil without a metrics listener).
func listen(base *setup.Base, cfg *config.Config, p http.Handler) (public, metrics net.Addr, err error) {
	enabled := cfg.Global.Metrics.Enabled
	token := ""
	if enabled {
		token = cfg.Global.Metrics.BearerToken
	}
	public, err = base.Serve(cfg.ClientAPIProxy.Listen, setup.GuardPublicMetrics(token, p, p))
	if err != nil || !enabled || cfg.ClientAPIProxy.MetricsListen == "" {
		return public, nil, err
	}
	metrics, err = base.Serve(cfg.ClientAPIProxy.MetricsListen, setup.MetricsMux(true, p, p))
	return public, metrics, err
}
