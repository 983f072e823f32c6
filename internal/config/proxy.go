package config

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// ClientAPIProxy configures client-api-proxy, the polylith's public entry point
// (ARCHITECTURE.md §4): it routes the syncapi's paths to the sync instances, /_matrix/media
// (and /_matrix/client/v1/media) to the media API, /_matrix/federation and /_matrix/key to
// the federation API, and every other path to the client API.
type ClientAPIProxy struct {
	// Listen is where the proxy serves clients and federating servers.
	Listen string `yaml:"listen"`
	// MetricsListen is where the proxy serves /metrics and /health on a listener of their
	// own (when global.metrics.enabled); empty: no such listener.
	MetricsListen string `yaml:"metrics_listen"`
	// ClientAPIURLs are the base URLs (scheme://host:port) of the clientapi instances.
	ClientAPIURLs []string `yaml:"client_api_urls"`
	// SyncAPIURLs are the base URLs of the sync instances; sync traffic is spread over
	// the healthy ones.
	SyncAPIURLs []string `yaml:"sync_api_urls"`
	// MediaAPIURLs are the base URLs of the mediaapi instances (axon-media-api's
	// media_api.public_listen). Empty (the default): media paths get 404 M_UNRECOGNIZED.
	MediaAPIURLs []string `yaml:"media_api_urls"`
	// FederationAPIURLs are the base URLs of the federationapi instances. Empty (the
	// default while there is no federationapi binary): federation paths get 404.
	FederationAPIURLs []string `yaml:"federation_api_urls"`
	// HealthCheckInterval is how often each upstream's health path is fetched.
	HealthCheckInterval time.Duration `yaml:"health_check_interval"`
	// HealthCheckPath is the path fetched (GET) on each upstream; 200 means healthy.
	HealthCheckPath string `yaml:"health_check_path"`
	// HealthCheckTimeout bounds one health check.
	HealthCheckTimeout time.Duration `yaml:"health_check_timeout"`
	// ConnectTimeout bounds connecting to an upstream; a request that cannot connect is
	// retried on another healthy upstream when it is a GET or HEAD without a body.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ResolveInterval, when positive, makes every http:// upstream URL whose host is a name
	// (not an IP address) stand for all the addresses the name resolves to, looked up
	// again this often: with Docker Compose, `--scale sync-api=3` replicas are all behind
	// the name sync-api. Zero (the default): each URL is one upstream, as written.
	ResolveInterval time.Duration `yaml:"resolve_interval"`
}

// defaultClientAPIProxy points the proxy at the Tier 1 binaries' default public_listen
// ports on localhost and listens on 127.0.0.1:8008, the monolith's address, since the proxy takes the
// monolith's place in front of the polylith. Only Tier 1 components that have a binary
// (clientapi, syncapi) get an upstream: the media and federation lists are empty (not
// nil, so that the generated "[]" loads as the default).
func (c *Config) defaultClientAPIProxy() ClientAPIProxy {
	port := map[string]int{}
	for _, s := range c.sections() {
		port[s.name] = s.publicPrt
	}
	u := func(component string) []string {
		return []string{"http://localhost:" + strconv.Itoa(port[component])}
	}
	return ClientAPIProxy{
		Listen:              DefaultHTTPBind,
		MetricsListen:       DefaultMetricsBind,
		ClientAPIURLs:       u(ComponentClientAPI),
		SyncAPIURLs:         u(ComponentSyncAPI),
		MediaAPIURLs:        []string{},
		FederationAPIURLs:   []string{},
		HealthCheckInterval: 5 * time.Second,
		HealthCheckPath:     "/health",
		HealthCheckTimeout:  2 * time.Second,
		ConnectTimeout:      5 * time.Second,
	}
}

// validate reports every bad key of the client_api_proxy section through bad.
func (p *ClientAPIProxy) validate(bad func(path, format string, a ...any)) {
	const sec = "client_api_proxy."
	if err := checkHostPort(p.Listen, false); err != nil {
		bad(sec+"listen", "%v", err)
	}
	if p.MetricsListen != "" {
		if err := checkHostPort(p.MetricsListen, false); err != nil {
			bad(sec+"metrics_listen", "%v", err)
		}
	}
	for _, l := range []struct {
		key      string
		urls     []string
		required bool
	}{
		{"client_api_urls", p.ClientAPIURLs, true},
		{"sync_api_urls", p.SyncAPIURLs, true},
		{"media_api_urls", p.MediaAPIURLs, false},
		{"federation_api_urls", p.FederationAPIURLs, false},
	} {
		if l.required && len(l.urls) == 0 {
			bad(sec+l.key, "must list at least one http:// or https:// URL")
		}
		seen := map[string]bool{}
		for i, s := range l.urls {
			key := fmt.Sprintf("%s%s[%d]", sec, l.key, i)
			if err := checkUpstreamURL(s); err != nil {
				bad(key, "%v", err)
			} else if seen[strings.TrimSuffix(s, "/")] {
				bad(key, "%q is listed twice", s)
			}
			seen[strings.TrimSuffix(s, "/")] = true
		}
	}
	if p.HealthCheckInterval <= 0 {
		bad(sec+"health_check_interval", "must be positive, got %s", p.HealthCheckInterval)
	}
	if p.HealthCheckTimeout <= 0 {
		bad(sec+"health_check_timeout", "must be positive, got %s", p.HealthCheckTimeout)
	}
	if p.ConnectTimeout <= 0 {
		bad(sec+"connect_timeout", "must be positive, got %s", p.ConnectTimeout)
	}
	if p.ResolveInterval < 0 {
		bad(sec+"resolve_interval", "must not be negative, got %s", p.ResolveInterval)
	}
	if u, err := url.Parse(p.HealthCheckPath); err != nil || !strings.HasPrefix(p.HealthCheckPath, "/") || u.Host != "" {
		bad(sec+"health_check_path", "must be a path starting with '/', got %q", p.HealthCheckPath)
	}
}

// checkUpstreamURL accepts scheme://host[:port] with an optional trailing '/': the proxy
// keeps the request's path, so an upstream URL carries no path, query or user info.
func checkUpstreamURL(s string) error {
	if err := checkHTTPURL(s); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: must be scheme://host[:port] only (no path, query or user info)", s)
	}
	return nil
}

// generateClientAPIProxy is the client_api_proxy section of Generate's example file.
func generateClientAPIProxy(c *Config) []byte {
	var buf bytes.Buffer
	if err := proxyTmpl.Execute(&buf, c.ClientAPIProxy); err != nil {
		panic("config: client_api_proxy template: " + err.Error()) // fixed template: a bug
	}
	return buf.Bytes()
}

var proxyTmpl = template.Must(template.New("proxy").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(`
client_api_proxy:
  # client-api-proxy, the polylith's public entry point: the syncapi's paths go to
  # sync_api_urls, /_matrix/media and /_matrix/client/v1/media to media_api_urls,
  # /_matrix/federation and /_matrix/key to federation_api_urls, everything else to
  # client_api_urls. Only upstreams whose health check passes get traffic.
  listen: {{q .Listen}}
  # Where the proxy serves /metrics and /health for Prometheus; empty: nowhere apart.
  metrics_listen: {{q .MetricsListen}}
  client_api_urls:{{range .ClientAPIURLs}}
    - {{q .}}{{end}}
  # Several sync instances share the sync traffic (the least busy healthy one is chosen).
  sync_api_urls:{{range .SyncAPIURLs}}
    - {{q .}}{{end}}
  # Media and federation: empty until you run axon-media-api or axon-federation-api
  # (then the base URLs of their public_listen); meanwhile their paths get
  # 404 M_UNRECOGNIZED. An empty list never makes /health fail.
  media_api_urls:{{if not .MediaAPIURLs}} []{{end}}{{range .MediaAPIURLs}}
    - {{q .}}{{end}}
  federation_api_urls:{{if not .FederationAPIURLs}} []{{end}}{{range .FederationAPIURLs}}
    - {{q .}}{{end}}
  # Every interval, GET health_check_path on each upstream; 200 within the timeout
  # means healthy.
  health_check_interval: {{.HealthCheckInterval}}
  health_check_path: {{q .HealthCheckPath}}
  health_check_timeout: {{.HealthCheckTimeout}}
  # Bound on connecting to an upstream. A GET or HEAD without a body that cannot
  # connect is retried on another healthy upstream of the same kind.
  connect_timeout: {{.ConnectTimeout}}
  # DNS discovery: when positive, an http:// upstream URL whose host is a name (not an
  # IP address) stands for every address the name resolves to, looked up again this
  # often (Docker Compose: all replicas of a scaled service). 0s: each URL as written.
  resolve_interval: {{.ResolveInterval}}
`))
