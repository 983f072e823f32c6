package main

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/setup"
)

// configPathOf is the config file the monolith reads: -config, or DATA_DIR/axon.yaml.
func configPathOf(o *options) string {
	if o.configPath != "" {
		return o.configPath
	}
	dataDir := o.dataDir
	if dataDir == "" {
		dataDir = config.DefaultDataDir
	}
	return filepath.Join(dataDir, configFileName)
}

// startupLines is what the monolith says once it serves (issue 10): the server name, where
// its files and tables are, the event log, the client URL to give a client, who may
// register, where metrics are, where to read next and, on a first start (the signing key
// was created just now), how to create the first (admin) user, and the TLS listener for
// federation when there is one.
func startupLines(cfg *config.Config, m *monolith, configPath string, firstStart bool) []setup.StartupLine {
	info := func(format string, a ...any) setup.StartupLine {
		return setup.StartupLine{Msg: fmt.Sprintf(format, a...)}
	}
	client := clientURL(cfg, m.addr.String())
	lines := []setup.StartupLine{
		info("axon-monolith started: server name %s", cfg.Global.ServerName),
		info("data directory: %s (config %s)", setup.AbsPath(cfg.Global.DataDir), setup.AbsPath(configPath)),
		info("database: %s", setup.DescribeDatabases(cfg)),
		info("event log: %s", setup.DescribeEventLog(cfg)),
		info("client URL: %s (give this to Matrix clients; listening on %s)", client, m.addr),
		setup.DescribeRegistration(cfg),
	}
	if config.IsLoopbackListen(m.addr.String()) {
		lines = append(lines, info("reachable from this machine only: set monolith.http_bind (or -http-bind) to 0.0.0.0:PORT to open it"))
	}
	if m.httpsAddr != nil {
		lines = append(lines, info("federation and client API over TLS: https://%s (other servers reach %s here)", m.httpsAddr, cfg.Global.ServerName))
	}
	if m.metricsAddr != nil {
		lines = append(lines, info("metrics: http://%s/metrics", m.metricsAddr))
	}
	if firstStart {
		lines = append(lines, info("first start: create the first (admin) user with: go run ./cmd/axon-create-account -config %s -admin -user alice",
			setup.AbsPath(configPath)))
	}
	return append(lines, setup.ReadNext)
}

// clientURL is client_api.public_base_url, or the address clients on this machine use:
// http://localhost:PORT for a loopback or every-interface listener, http://HOST:PORT for a
// listener on one address.
func clientURL(cfg *config.Config, addr string) string {
	if cfg.ClientAPI.PublicBaseURL != "" {
		return cfg.ClientAPI.PublicBaseURL
	}
	return "http://" + clientHost(addr)
}

func clientHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
